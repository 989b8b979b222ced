"""The minipod CLI on every kind the object store serves (not only pods):
apply, get (kubectl's columns), describe, delete, api-resources."""

import json

from helpers.kubectl import kubectl
from helpers.pods import ctr, pod


def configmap(name: str, namespace: str | None = None, **data) -> dict:
    meta: dict = {"name": name, "labels": {"app": "cli-objects"}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def as_file(*objects: dict) -> str:
    return "\n---\n".join(json.dumps(o) for o in objects)


def test_apply_a_namespace_a_configmap_and_a_pod_from_one_file(mp, pods, pod_name):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cli-objects"}}
    p = pod(pod_name, ctr("main", "exec sleep 3600"))
    p["metadata"]["namespace"] = "cli-objects"
    # The pod comes first in the file, its namespace last: the order does not matter.
    r = mp.apply(as_file(p, configmap("settings", "cli-objects", mode="fast"), ns))
    try:
        assert r.stdout.splitlines() == [
            "namespace/cli-objects created",
            "configmap/settings created",
            f"pod/{pod_name} created",
        ]
        got = mp.run("get", "configmaps", "-n", "cli-objects").stdout.splitlines()
        assert got[0].split() == ["NAME", "DATA", "AGE"]
        assert ["settings", "1"] in [row.split()[:2] for row in got[1:]]
        # The same object through kubectl: one store.
        cm = json.loads(kubectl(mp, "get", "cm", "settings", "-n", "cli-objects", "-o", "json").stdout)
        assert cm["data"] == {"mode": "fast"}
        assert mp.run("get", "namespace", "cli-objects", "-o", "name").stdout == "namespace/cli-objects\n"
    finally:
        mp.run("delete", "pod", pod_name, "-n", "cli-objects", "--grace-period", "0")
        mp.run("delete", "namespace", "cli-objects")


def test_apply_again_is_unchanged_then_configured(mp):
    cm = configmap("cli-again", level="1")
    assert mp.apply(json.dumps(cm)).stdout == "configmap/cli-again created\n"
    try:
        assert mp.apply(json.dumps(cm)).stdout == "configmap/cli-again unchanged\n"
        cm["data"] = {"level": "2"}
        assert mp.apply(json.dumps(cm)).stdout == "configmap/cli-again configured\n"
        got = json.loads(mp.run("get", "configmap", "cli-again", "-o", "json").stdout)
        assert got["data"] == {"level": "2"} and got["metadata"]["labels"] == {"app": "cli-objects"}
    finally:
        mp.run("delete", "configmap", "cli-again")
    r = mp.run("get", "configmap", "cli-again", check=False)
    assert r.returncode == 1 and 'configmaps "cli-again" not found' in r.stderr


def test_a_bad_object_refuses_the_whole_file(mp, pod_name):
    bad = configmap("cli-bad", level="1")
    bad["dataa"] = {"x": "y"}
    r = mp.run(
        "apply",
        "-f",
        "-",
        input=as_file(configmap("cli-good"), bad, pod(pod_name, ctr("main", "exec sleep 1"))),
        check=False,
    )
    assert r.returncode == 1
    assert "configmap/cli-bad: unknown field 'dataa'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    # Nothing of the file was created.
    assert mp.run("get", "configmap", "cli-good", check=False).returncode == 1
    assert mp.run("get", "pod", pod_name, check=False).returncode == 1


def test_describe_and_delete_by_kind_slash_name(mp):
    mp.apply(json.dumps(configmap("cli-describe", greeting="hello")))
    out = mp.run("describe", "cm", "cli-describe").stdout
    assert "Name:         cli-describe" in out
    assert "Labels:       app=cli-objects" in out
    assert "greeting: hello" in out
    assert mp.run("delete", "configmap/cli-describe").stdout == 'configmap "cli-describe" deleted\n'
    r = mp.run("delete", "configmap", "cli-describe", check=False)
    assert r.returncode == 1 and "NotFound" in r.stderr
    assert mp.run("delete", "configmap", "cli-describe", "--ignore-not-found").returncode == 0


def test_secret_values_never_show_in_describe(mp):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cli-secret"},
        "stringData": {"password": "s3cr3t-value"},
    }
    kubectl(mp, "apply", "-f", "-", input=json.dumps(secret))
    try:
        out = mp.run("describe", "secret", "cli-secret").stdout
        assert "password:  12 bytes" in out and "s3cr3t-value" not in out
    finally:
        kubectl(mp, "delete", "secret", "cli-secret")


def test_get_all_namespaces_and_an_unknown_kind(mp):
    mp.apply(json.dumps(configmap("cli-everywhere")))
    try:
        rows = mp.run("get", "cm", "-A").stdout.splitlines()
        assert rows[0].split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
        assert any(r.split()[:2] == ["default", "cli-everywhere"] for r in rows[1:])
        # Every namespace has the root CA ConfigMap, as in a cluster.
        assert any(r.split()[:2] == ["kube-system", "kube-root-ca.crt"] for r in rows[1:])
    finally:
        mp.run("delete", "cm", "cli-everywhere")
    r = mp.run("get", "widgets", check=False)
    assert r.returncode == 1
    assert r.stderr.startswith('error: the server doesn\'t have a resource type "widgets"'), r.stderr
    listed = mp.run("api-resources").stdout.splitlines()
    assert listed[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["configmaps", "cm", "v1", "true", "ConfigMap"] in [line.split() for line in listed]


def test_an_event_without_its_object_is_refused_and_breaks_nothing(mp, pods, pod_name):
    bad = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "orphan-event", "namespace": "team-x"},
        "reason": "X",
    }
    r = kubectl(mp, "create", "-f", "-", input=json.dumps(bad), check=False)
    assert r.returncode == 1 and "involvedObject.namespace" in r.stderr, r.stderr
    # Pods are still scheduled and started afterwards (their events are recorded).
    pods.run(pod(pod_name, ctr("main", "exec sleep 3600")))
