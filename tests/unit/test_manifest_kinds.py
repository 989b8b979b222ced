"""Files that mix Pods with kinds minipod does not serve yet
(minipod.kube.manifest): pure, without a daemon."""

import pytest

from minipod.errors import ManifestError
from minipod.kube.manifest import SUPPORTED_KINDS, load_manifest, load_objects

POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: busybox:1.35
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""
QUOTA = """apiVersion: v1
kind: ResourceQuota
metadata:
  name: quota
spec:
  hard: {pods: "2"}
"""


def test_other_kinds_are_skipped_with_one_warning_each():
    pods, warnings = load_manifest("---\n".join([SERVICE, POD, QUOTA]))
    assert [p["metadata"]["name"] for p in pods] == ["web"]
    skipped = [w for w in warnings if "skipped" in w]
    assert skipped == [
        "service/web: skipped: kind Service (v1) is not served by minipod yet; "
        "it serves Pod (runs it) "
        "and the kinds `minipod api-resources` lists",
        "resourcequota/quota: skipped: kind ResourceQuota (v1) is not served by minipod yet; "
        "it serves Pod (runs it) "
        "and the kinds `minipod api-resources` lists",
    ]


def test_an_invalid_pod_still_refuses_the_whole_file():
    bad = POD.replace("  - name: web\n", "  - name: Web_1\n")
    with pytest.raises(ManifestError) as e:
        load_manifest("---\n".join([SERVICE, bad]))
    assert any(m.startswith("pod/web: spec.containers[0].name") for m in e.value.errors), e.value.errors
    assert not any("Service" in m for m in e.value.errors)


def test_a_file_with_nothing_minipod_serves_is_an_error():
    with pytest.raises(ManifestError) as e:
        load_manifest(SERVICE)
    assert e.value.errors == [
        "service/web: kind Service (v1) is not served by minipod yet; "
        "it serves Pod (runs it) "
        "and the kinds `minipod api-resources` lists"
    ]


def test_an_object_without_kind_is_invalid():
    with pytest.raises(ManifestError) as e:
        load_manifest("---\n".join([POD.replace("kind: Pod\n", ""), SERVICE]))
    assert any("kind" in m for m in e.value.errors), e.value.errors


def test_the_kinds_table_is_the_one_place():
    assert set(SUPPORTED_KINDS) == {"Pod"}  # the object store serves the rest, Secrets included


def test_an_asked_for_namespace_refuses_objects_naming_another():
    pod = POD.replace("  name: web\n", "  name: web\n  namespace: default\n", 1)
    with pytest.raises(ManifestError) as e:
        load_manifest(pod, "team-a", enforce_namespace=True)
    assert e.value.errors == [
        'the namespace from the provided object "default" does not match the namespace "team-a". '
        "You must pass '--namespace=default' to perform this operation."
    ]
    # Without -n the object's namespace wins; an object naming none gets -n's.
    assert load_manifest(pod, "team-a")[0][0]["metadata"]["namespace"] == "default"
    assert load_manifest(POD, "team-a", enforce_namespace=True)[0][0]["metadata"]["namespace"] == "team-a"


def test_a_kind_that_is_not_a_string_is_an_error_not_a_crash():
    with pytest.raises(ManifestError):
        load_objects("apiVersion: v1\nkind: []\nmetadata: {name: x}\n", is_stored=lambda obj: True)
