"""Issue 12: the garbage collector through the real kubectl and the Python
client: `delete --cascade=foreground` holds the owner (deletionTimestamp,
the foregroundDeletion finalizer) until its blocking dependents are gone;
`--cascade=orphan` leaves the dependents without their reference; any
finalizer holds an object until an update removes it."""

import json
import subprocess

from helpers.host import eventually
from helpers.kubectl import KUBECTL, client, env, kubectl
from helpers.pods import ctr, pod

# A pod that takes its whole grace period to stop: the owner waits that long.
SLOW_STOP = 'trap "" TERM; while true; do sleep 1; done'


def _owned_pods(mp, owner_uid: str, *names: str, grace: int = 1) -> None:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner_uid,
        "blockOwnerDeletion": True,
    }
    for name in names:
        doc = pod(name, ctr("main", SLOW_STOP), terminationGracePeriodSeconds=grace)
        doc["metadata"]["ownerReferences"] = [ref]
        kubectl(mp, "apply", "-f", "-", input=json.dumps(doc))


def _get(mp, *what: str) -> dict | None:
    p = kubectl(mp, "get", *what, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def test_cascade_foreground_waits_for_the_pods(mp, pods):
    pods.add("gc-fg-a", "gc-fg-b")
    kubectl(mp, "create", "configmap", "gc-fg")
    uid = _get(mp, "configmap", "gc-fg")["metadata"]["uid"]
    _owned_pods(mp, uid, "gc-fg-a", "gc-fg-b", grace=3)
    deleting = subprocess.Popen(
        [KUBECTL, "delete", "configmap", "gc-fg", "--cascade=foreground"],
        env=env(mp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # While the pods stop (3 s each), the owner is there, being deleted.
        held = eventually(
            lambda: (
                (o := _get(mp, "configmap", "gc-fg"))
                and o["metadata"].get("deletionTimestamp")
                and _get(mp, "pod", "gc-fg-a")
                and o
            ),
            what="the owner held with deletionTimestamp",
        )
        assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
        # The collector deletes the pods (gracefully), and the owner waits.
        eventually(
            lambda: _get(mp, "pod", "gc-fg-a")["metadata"].get("deletionTimestamp"),
            what="the pod being deleted",
        )
        assert _get(mp, "configmap", "gc-fg")["metadata"]["finalizers"] == ["foregroundDeletion"]
        out, err = deleting.communicate(timeout=60)
    finally:
        deleting.kill()
        deleting.wait()
    assert deleting.returncode == 0 and out == 'configmap "gc-fg" deleted\n', err
    # kubectl waited for the owner to go, and the owner went after its pods.
    assert _get(mp, "configmap", "gc-fg") is None
    assert _get(mp, "pod", "gc-fg-a") is None and _get(mp, "pod", "gc-fg-b") is None


def test_cascade_orphan_keeps_the_pods(mp, pods):
    pods.add("gc-orphan")
    kubectl(mp, "create", "configmap", "gc-orph")
    uid = _get(mp, "configmap", "gc-orph")["metadata"]["uid"]
    _owned_pods(mp, uid, "gc-orphan")
    assert kubectl(mp, "delete", "configmap", "gc-orph", "--cascade=orphan").stdout == (
        'configmap "gc-orph" deleted\n'
    )
    assert _get(mp, "configmap", "gc-orph") is None
    left = _get(mp, "pod", "gc-orphan")
    assert left and not left["metadata"].get("deletionTimestamp")
    assert "ownerReferences" not in left["metadata"]


def test_background_deletes_the_pods(mp, pods):
    pods.add("gc-bg")
    kubectl(mp, "create", "configmap", "gc-bg")
    uid = _get(mp, "configmap", "gc-bg")["metadata"]["uid"]
    _owned_pods(mp, uid, "gc-bg")
    kubectl(mp, "delete", "configmap", "gc-bg")
    eventually(lambda: _get(mp, "pod", "gc-bg") is None, timeout=30, what="the dependent pod gone")


def test_python_client_foreground_and_a_finalizer(mp):
    import kubernetes

    api = client(mp)
    owner = api.create_namespaced_config_map("default", {"metadata": {"name": "gc-py-owner"}})
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "gc-py-owner",
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": True,
    }
    api.create_namespaced_config_map(
        "default",
        {"metadata": {"name": "gc-py-dep", "ownerReferences": [ref], "finalizers": ["example.com/hold"]}},
    )
    api.delete_namespaced_config_map(
        "gc-py-owner", "default", body=kubernetes.client.V1DeleteOptions(propagation_policy="Foreground")
    )
    # The dependent is being deleted, held by its finalizer; so is the owner.
    dep = eventually(
        lambda: (
            (d := api.read_namespaced_config_map("gc-py-dep", "default")).metadata.deletion_timestamp and d
        ),
        what="the dependent being deleted",
    )
    held = api.read_namespaced_config_map("gc-py-owner", "default")
    assert held.metadata.deletion_timestamp and held.metadata.finalizers == ["foregroundDeletion"]
    # A finalizer may not be added now; removing the last one lets both go.
    try:
        api.patch_namespaced_config_map(
            "gc-py-dep", "default", {"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}
        )
        raise AssertionError("a new finalizer was accepted on an object being deleted")
    except kubernetes.client.ApiException as e:
        assert e.status == 422 and "no new finalizers can be added" in e.body
    api.patch_namespaced_config_map("gc-py-dep", "default", {"metadata": {"finalizers": None}})
    names = lambda: {c.metadata.name for c in api.list_namespaced_config_map("default").items}  # noqa: E731
    eventually(lambda: not {"gc-py-owner", "gc-py-dep"} & names(), what="owner and dependent gone")
    assert dep.metadata.deletion_timestamp


def test_a_finalizer_holds_a_stopped_pod(mp, pods):
    pods.add("gc-held")
    doc = pod("gc-held", ctr("main", "exec sleep 3600"), terminationGracePeriodSeconds=0)
    doc["metadata"]["finalizers"] = ["example.com/hold"]
    kubectl(mp, "apply", "-f", "-", input=json.dumps(doc))
    kubectl(mp, "wait", "--for=condition=Ready", "pod/gc-held", "--timeout=30s")
    kubectl(mp, "delete", "pod", "gc-held", "--wait=false")
    # Its containers stop, and it stays in the API, being deleted.
    eventually(lambda: "gc-held" not in mp.run("get", "pods", "-o", "name").stdout, what="the pod stopped")
    held = _get(mp, "pod", "gc-held")
    assert (
        held
        and held["metadata"]["deletionTimestamp"]
        and held["metadata"]["finalizers"] == ["example.com/hold"]
    )
    p = kubectl(
        mp,
        "patch",
        "pod",
        "gc-held",
        "--type=json",
        "-p",
        '[{"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/more"}]',
        check=False,
    )
    assert p.returncode == 1 and "no new finalizers can be added if the object is being deleted" in p.stderr
    kubectl(mp, "patch", "pod", "gc-held", "--type=merge", "-p", '{"metadata": {"finalizers": null}}')
    assert _get(mp, "pod", "gc-held") is None
