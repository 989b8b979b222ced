"""Issue 12: the pod subresources that act: `eviction` (policy/v1, the pod
deleted gracefully with the Eviction's deleteOptions; what `kubectl drain`
uses) and `binding` (a waiting pod bound to this node), through the real
kubectl (`create --raw`, `drain`) and the Python client."""

import json

from helpers.host import eventually
from helpers.kubectl import client, kubectl
from helpers.pods import ctr, pod

SLEEP = "exec sleep 3600"


def _exists(mp, name: str) -> bool:
    return kubectl(mp, "get", "pod", name, "--ignore-not-found", "-o", "name").stdout.strip() != ""


def _raw(mp, path: str, body: dict, check: bool = True):
    return kubectl(mp, "create", "--raw", path, "-f", "-", input=json.dumps(body), check=check)


def _node(mp) -> str:
    return kubectl(mp, "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout


def test_eviction_deletes_the_pod_gracefully(mp, pods):
    pods.run(pod("ev-raw", ctr("main", SLEEP), terminationGracePeriodSeconds=1))
    path = "/api/v1/namespaces/default/pods/ev-raw/eviction"
    wrong = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}}
    p = _raw(mp, path, wrong, check=False)
    assert p.returncode == 1 and "name in URL does not match name in Eviction object" in p.stderr, p.stderr
    assert _exists(mp, "ev-raw")
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "ev-raw", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 0},
    }
    status = json.loads(_raw(mp, path, body).stdout)
    assert (status["kind"], status["status"]) == ("Status", "Success")
    eventually(lambda: not _exists(mp, "ev-raw"), timeout=30, what="the evicted pod gone")


def test_eviction_with_the_python_client(mp, pods):
    import kubernetes

    pods.run(pod("ev-py", ctr("main", SLEEP), terminationGracePeriodSeconds=1))
    api = client(mp)
    eviction = kubernetes.client.V1Eviction(
        metadata=kubernetes.client.V1ObjectMeta(name="ev-py", namespace="default"),
        delete_options=kubernetes.client.V1DeleteOptions(grace_period_seconds=1),
    )
    api.create_namespaced_pod_eviction("ev-py", "default", eviction)
    got = api.read_namespaced_pod("ev-py", "default")
    assert got.metadata.deletion_timestamp and got.metadata.deletion_grace_period_seconds == 1
    eventually(lambda: not _exists(mp, "ev-py"), timeout=30, what="the evicted pod gone")


def test_kubectl_drain_evicts(mp, pods):
    pods.run(pod("ev-drain", ctr("main", SLEEP), labels={"drain": "me"}, terminationGracePeriodSeconds=1))
    node = _node(mp)
    try:
        p = kubectl(mp, "drain", node, "--force", "--pod-selector=drain=me", "--timeout=60s", timeout=90)
        assert "evicting pod default/ev-drain" in p.stderr + p.stdout, p
        assert "pod/ev-drain evicted" in p.stdout, p
        assert f"node/{node} drained" in p.stdout
        assert not _exists(mp, "ev-drain")
    finally:
        kubectl(mp, "uncordon", node)


def test_binding_binds_a_waiting_pod(mp, pods):
    # Too big for the node: the scheduler leaves it Pending, without a node.
    big = ctr("main", SLEEP, resources={"requests": {"cpu": "1000"}})
    pods.add("bind-me")
    kubectl(mp, "apply", "-f", "-", input=json.dumps(pod("bind-me", big)))
    spec = json.loads(kubectl(mp, "get", "pod", "bind-me", "-o", "json").stdout)["spec"]
    assert "nodeName" not in spec
    node = _node(mp)
    path = "/api/v1/namespaces/default/pods/bind-me/binding"
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bind-me"}}
    p = _raw(mp, path, dict(binding, target={"kind": "Node", "name": "elsewhere"}), check=False)
    assert p.returncode == 1 and 'nodes "elsewhere" not found' in p.stderr, p.stderr
    status = json.loads(_raw(mp, path, dict(binding, target={"kind": "Node", "name": node})).stdout)
    assert status["status"] == "Success"
    got = json.loads(kubectl(mp, "get", "pod", "bind-me", "-o", "json").stdout)
    assert got["spec"]["nodeName"] == node
    assert {c["type"]: c["status"] for c in got["status"]["conditions"]}["PodScheduled"] == "True"
    p = _raw(mp, path, dict(binding, target={"kind": "Node", "name": node}), check=False)
    assert p.returncode == 1 and f'pod bind-me is already assigned to node "{node}"' in p.stderr, p.stderr
