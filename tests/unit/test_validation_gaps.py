"""Issue 11, defect 7: what the API server refuses, refused here too, with
its wording; and YAML as strict and bounded as kubectl's (defect 8)."""

import pytest
import yaml

from minipod.errors import ManifestError
from minipod.kube.manifest import load_manifest
from minipod.kube.validate import validate_pod
from minipod.kube.yaml_load import MAX_BYTES, load_documents

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: busybox
"""


def pod() -> dict:
    return yaml.safe_load(POD)


def errors_of(p: dict) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        validate_pod(p)
    return caught.value.errors


RANGE_ID = "must be between 0 and 2147483647, inclusive"


@pytest.mark.parametrize(
    "where, field, value",
    [
        ("pod", "runAsUser", -1),
        ("pod", "runAsUser", 2**31),
        ("pod", "runAsGroup", 10**400),
        ("pod", "fsGroup", 2**32),
        ("ctr", "runAsUser", 4294967296),
        ("ctr", "runAsGroup", -5),
    ],
)
def test_user_and_group_ids_are_in_range(where, field, value):
    p = pod()
    if where == "pod":
        p["spec"]["securityContext"] = {field: value}
        path = f"spec.securityContext.{field}"
    else:
        p["spec"]["containers"][0]["securityContext"] = {field: value}
        path = f"spec.containers[0].securityContext.{field}"
    (error,) = [e for e in errors_of(p) if e.startswith(path)]
    assert error.endswith(RANGE_ID) or "inclusive" in error, error
    assert len(error) < 300, error  # a 400-digit number is not echoed whole


def test_supplemental_groups_are_in_range():
    p = pod()
    p["spec"]["securityContext"] = {"supplementalGroups": [1, 2**31]}
    assert errors_of(p) == [f"spec.securityContext.supplementalGroups[1]: invalid value {2**31}: {RANGE_ID}"]


def test_int64_and_int32_fields_out_of_range():
    p = pod()
    p["spec"]["terminationGracePeriodSeconds"] = 2**63
    p["spec"]["containers"][0]["livenessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 2**31}
    assert sorted(errors_of(p), reverse=True) == [
        f"spec.terminationGracePeriodSeconds: invalid value {2**63}: "
        "must be between -9223372036854775808 and 9223372036854775807, inclusive",
        f"spec.containers[0].livenessProbe.periodSeconds: invalid value {2**31}: "
        "must be between -2147483648 and 2147483647, inclusive",
    ]


def test_probe_counts_are_not_negative():
    p = pod()
    p["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 80}, "timeoutSeconds": -1}
    assert errors_of(p) == [
        "spec.containers[0].readinessProbe.timeoutSeconds: invalid value -1: must be greater than or equal to 0"
    ]


@pytest.mark.parametrize("name", ["A\0B", "A=B", "caf\u00e9", "TAB\t"])
def test_env_names_are_printable_ascii_without_equals(name):
    p = pod()
    p["spec"]["containers"][0]["env"] = [{"name": name, "value": "x"}]
    (error,) = errors_of(p)
    assert error.startswith("spec.containers[0].env[0].name: invalid value ")
    assert error.endswith(
        "a valid environment variable name must consist only of printable ASCII characters other than '='"
    )


def test_relaxed_env_names_are_fine():
    p = pod()
    p["spec"]["containers"][0]["env"] = [{"name": "1-my.var:x", "value": "x"}]
    assert validate_pod(p) == []


def test_annotations_are_at_most_256_kib():
    p = pod()
    p["metadata"]["annotations"] = {"a": "x" * (128 * 1024), "b": "y" * (128 * 1024)}
    assert errors_of(p) == ["metadata.annotations: too long: may not be more than 262144 bytes"]
    p["metadata"]["annotations"] = {"a": "x" * (128 * 1024)}
    assert validate_pod(p) == []


def test_label_keys_are_qualified_names():
    p = pod()
    p["metadata"]["labels"] = {"": "x", "a/b/c": "y", "-bad": "z"}
    errors = errors_of(p)
    assert 'metadata.labels: invalid value "": name part must be non-empty' in errors
    assert any(e.startswith('metadata.labels: invalid value "a/b/c": a qualified name') for e in errors)
    assert any(e.startswith('metadata.labels: invalid value "-bad": name part must consist') for e in errors)


def test_a_namespace_with_capitals():
    p = pod()
    p["metadata"]["namespace"] = "Prod"
    (error,) = errors_of(p)
    assert error.startswith('metadata.namespace: invalid value "Prod": a lowercase RFC 1123 label')
    with pytest.raises(ManifestError) as caught:
        load_manifest(POD, "Prod")
    assert caught.value.errors[0].startswith('namespace: invalid value "Prod": a lowercase RFC 1123 label')


# ------------------------------------------------------------------ YAML


def yaml_error(text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        load_documents(text)
    (error,) = caught.value.errors
    return error


def test_duplicate_keys_are_refused_as_kubectl_does():
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\n"
    assert yaml_error(text) == 'invalid YAML (line 5, column 3): mapping key "name" already defined at line 4'


def test_merge_keys_may_override():
    docs = load_documents("base: &b {x: 1}\nuse:\n  <<: *b\n  x: 2\n")
    assert docs[0]["use"] == {"x": 2}


def test_alias_bombs_are_refused_cheaply():
    lines = ['a0: &a0 ["' + "x" * 1000 + '"]']
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    error = yaml_error("\n".join(lines))
    assert "document contains excessive aliasing" in error, error


def test_recursive_aliases_are_refused():
    assert "an alias refers to a node that contains it" in yaml_error("a: &x [1, *x]\n")


def test_deep_nesting_is_refused():
    assert "exceeded max depth" in yaml_error("a: " + "[" * 150 + "]" * 150 + "\n")
    assert "depth" in yaml_error("a: " + "[" * 5000 + "]" * 5000 + "\n")


def test_huge_scalars_are_refused():
    assert "at most" in yaml_error("a: " + "x" * (MAX_BYTES // 2) + "\n")


def test_list_items_must_be_objects():
    with pytest.raises(ManifestError) as caught:
        load_manifest("kind: List\nitems: [null, 1]\n")
    assert caught.value.errors == ["document 1: items[0]: expected a mapping (an object), got null"]


def test_request_bodies_are_bounded_too():
    from minipod.kube.yaml_load import load_one

    assert load_one('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert load_one("a: 1\n") == {"a": 1}
    assert load_one("") is None
    for text, says in [
        ("[" * 5000 + "]" * 5000, "depth"),
        ('{"a": ' * 150 + "1" + "}" * 150, "depth"),
        ("a: " + "[" * 5000 + "]" * 5000, "depth"),
        ("{", "invalid JSON"),
        ("a: 1\n---\nb: 2\n", "several"),
        ("a: &x [1, *x]\n", "contains it"),
    ]:
        with pytest.raises(ManifestError) as caught:
            load_one(text)
        assert says in caught.value.errors[0], caught.value.errors
