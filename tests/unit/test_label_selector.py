"""metav1.LabelSelector matching and validation (kube/label_selector.py)."""

import pytest

from minipod.kube.label_selector import is_empty, matches, problems

LABELS = {"app": "web", "tier": "front"}


@pytest.mark.parametrize(
    "selector, expected",
    [
        (None, False),
        ({}, True),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "db"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Exists"}]}, False),
    ],
)
def test_matches(selector, expected):
    assert matches(selector, LABELS) is expected


def test_empty_and_validation():
    assert is_empty({}) and is_empty({"matchLabels": {}}) and not is_empty(None)
    bad = {
        "matchExpressions": [
            {"key": "a", "operator": "In"},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Like", "values": ["x"]},
        ]
    }
    assert problems(bad, "spec.selector") == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Invalid value: "Like": not a valid selector operator',
    ]
    lines = problems(
        {"matchLabels": {"-a": "b c"}, "matchExpressions": [{"key": "", "operator": "Exists"}]}, "s"
    )
    assert [line.split(": ")[0] for line in lines] == [
        "s.matchLabels",
        "s.matchLabels",
        "s.matchExpressions[0].key",
    ]
    assert lines[0].startswith('s.matchLabels: Invalid value: "-a": name part must consist of alphanumeric')
    assert lines[1].startswith(
        's.matchLabels: Invalid value: "b c": a valid label must be an empty string or'
    )
    assert lines[2] == 's.matchExpressions[0].key: Invalid value: "": name part must be non-empty'
