"""Label and field selectors, as the API server parses them (pure)."""

import pytest

from minipod.objects.errors import ApiError
from minipod.objects.selectors import field_selector, label_selector


@pytest.mark.parametrize(
    "selector,labels,expected",
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),
        ("app", {"app": "x"}, True),
        ("!app", {"app": "x"}, False),
        ("app in (web, db)", {"app": "db"}, True),
        ("app notin (web,db)", {"app": "db"}, False),
        ("app notin (web,db)", {}, True),
        ("app=web,tier in (front)", {"app": "web", "tier": "front"}, True),
        ("app=web,tier in (front)", {"app": "web", "tier": "back"}, False),
        ("", {"any": "thing"}, True),
    ],
)
def test_label_selector(selector, labels, expected):
    assert label_selector(selector)(labels) is expected


def test_field_selector_on_pods():
    pod = {
        "metadata": {"name": "a", "namespace": "ns"},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }
    assert field_selector("Pod", "status.phase=Running")(pod)
    assert not field_selector("Pod", "status.phase!=Running")(pod)
    assert field_selector("Pod", "metadata.name=a,spec.nodeName=n1")(pod)
    assert not field_selector("Pod", "metadata.namespace=other")(pod)


def test_field_selector_on_events():
    ev = {"metadata": {"name": "e", "namespace": "d"}, "involvedObject": {"kind": "Pod", "name": "web"}}
    assert field_selector("Event", "involvedObject.name=web,involvedObject.kind=Pod")(ev)
    assert not field_selector("Event", "involvedObject.name=db")(ev)


def test_unsupported_field_is_a_bad_request():
    with pytest.raises(ApiError) as e:
        field_selector("ConfigMap", "status.phase=Running")
    assert e.value.code == 400 and str(e.value) == "field label not supported: status.phase"
