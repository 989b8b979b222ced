"""The pure parts of `minipod apply` for stored kinds and of the CLI's
generic get: kind resolution, REST paths, the merge, the plan, tables."""

import pytest

from minipod.cli.object_commands import describe_text, table_rows
from minipod.errors import ManifestError
from minipod.objects import resources as kinds
from minipod.objects.apply import merged, plan


@pytest.mark.parametrize("name", ["configmaps", "configmap", "cm", "ConfigMap"])
def test_kinds_resolve_as_kubectl_resolves_them(name):
    assert kinds.resolve(name).kind == "ConfigMap"


def test_the_core_group_wins_and_a_group_can_be_named():
    assert kinds.resolve("events").group == ""
    assert kinds.resolve("events.events.k8s.io").group == "events.k8s.io"
    assert kinds.resolve("widgets") is None


def test_rest_paths():
    cm = kinds.resolve("cm")
    assert cm.path("team-a", "x") == "/api/v1/namespaces/team-a/configmaps/x"
    assert cm.path(None) == "/api/v1/configmaps"
    assert kinds.resolve("ns").path("ignored", "a") == "/api/v1/namespaces/a"


def test_merge_keeps_what_the_server_owns_and_takes_the_rest_from_the_manifest():
    old = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "uid": "u1", "resourceVersion": "7", "labels": {"a": "1"}},
        "data": {"k": "old"},
        "binaryData": {"b": "AA=="},
    }
    new = merged(
        old, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "new"}}
    )
    assert new["data"] == {"k": "new"}
    assert "binaryData" not in new  # the manifest no longer sets it
    assert new["metadata"]["uid"] == "u1" and "labels" not in new["metadata"]
    assert old["data"] == {"k": "old"}  # pure: the stored object is untouched


def test_plan_finds_every_problem_and_skips_kinds_it_does_not_keep():
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "twice"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "twice"}},
    ]
    with pytest.raises(ManifestError) as e:
        plan(objects, "default")
    assert len(e.value.errors) == 3
    assert "metadata.name: Invalid value: 'Bad_Name'" in e.value.errors[0]
    assert "metadata.name: Required value" in e.value.errors[1]
    assert "configmaps 'twice' is defined more than once" in e.value.errors[2]
    ok = plan([objects[2], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}], "team")
    assert [(p.res.kind, p.namespace, p.name) for p in ok] == [("Namespace", None, "n")]


def test_table_rows_show_wide_columns_only_when_asked():
    table = {
        "columnDefinitions": [{"name": "Name"}, {"name": "Data"}, {"name": "Extra", "priority": 1}],
        "rows": [{"cells": ["x", 2, ""], "object": {"metadata": {"namespace": "ns1"}}}],
    }
    assert table_rows(table) == [["NAME", "DATA"], ["x", "2"]]
    assert table_rows(table, wide=True, namespaced=True) == [
        ["NAMESPACE", "NAME", "DATA", "EXTRA"],
        ["ns1", "x", "2", "<none>"],
    ]


def test_describe_never_prints_secret_values_or_the_last_applied_manifest():
    secret = {
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "namespace": "default",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"stringData":"hunter2"}'},
        },
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
    }
    text = describe_text(secret, [])
    assert "hunter2" not in text and "aHVudGVyMg" not in text
    assert "password:  7 bytes" in text and "Annotations:  <none>" in text
