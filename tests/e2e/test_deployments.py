"""Deployments and ReplicaSets through the real kubectl, with real pods:
self-healing, scaling, rolling updates, a stuck rollout, undo, history,
and cascading deletion (issue 16's must-holds).

Pods are busybox httpd with a readiness probe on a file the test can
remove, so readiness is what the test decides; each test uses its own
Deployment name and deletes it at the end (the `deploys` fixture).
"""

import json

import pytest
from helpers.host import eventually
from helpers.kubectl import kubectl

HTTP = 8080


def deployment(name: str, replicas: int = 3, version: str = "v1", ready_file: bool = True, **spec) -> dict:
    """busybox httpd, ready while /www/ready exists (an exec probe, every second)."""
    script = f"mkdir -p /www && echo {version} > /www/index.html && touch /www/ready && exec httpd -f -p {HTTP} -h /www"
    if not ready_file:
        script = f"mkdir -p /www && echo {version} > /www/index.html && exec httpd -f -p {HTTP} -h /www"
    container = {
        "name": "web",
        "image": "busybox:1.35",
        "command": ["sh", "-c", script],
        "env": [{"name": "VERSION", "value": version}],
        "readinessProbe": {"exec": {"command": ["test", "-f", "/www/ready"]}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 0},
            },
            **spec,
        },
    }


def apply(mp, obj: dict) -> None:
    kubectl(mp, "apply", "-f", "-", input=json.dumps(obj))


def get(mp, *what: str) -> dict:
    return json.loads(kubectl(mp, "get", *what, "-o", "json").stdout)


def pods_of(mp, name: str) -> list[dict]:
    return get(mp, "pods", "-l", f"app={name}")["items"]


def ready(pod: dict) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def ready_count(mp, name: str) -> int:
    return sum(1 for p in pods_of(mp, name) if ready(p))


def wait_available(mp, name: str, replicas: int, timeout: float = 90) -> dict:
    def done():
        d = get(mp, "deployment", name)
        s = d.get("status") or {}
        if (
            s.get("availableReplicas") == replicas
            and s.get("updatedReplicas") == replicas
            and s.get("replicas") == replicas
            and s.get("observedGeneration") == d["metadata"]["generation"]
        ):
            return d
        return None

    return eventually(done, timeout=timeout, what=f"deployment {name} with {replicas} available replicas")


@pytest.fixture
def deploys(mp):
    names: list[str] = []
    yield names
    for name in names:
        kubectl(mp, "delete", "deployment", name, "--ignore-not-found", "--wait=false", check=False)
    for name in names:
        eventually(lambda n=name: not pods_of(mp, n), timeout=60, what=f"the pods of {name} gone")


def test_three_replicas_become_ready_and_a_deleted_pod_is_replaced(mp, deploys):
    deploys.append("heal")
    apply(mp, deployment("heal"))
    wait_available(mp, "heal", 3)
    pods = pods_of(mp, "heal")
    assert len(pods) == 3 and all(ready(p) for p in pods)
    rs = get(mp, "replicasets", "-l", "app=heal")["items"]
    assert len(rs) == 1
    rs_name = rs[0]["metadata"]["name"]
    hash_ = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs_name == f"heal-{hash_}"
    for p in pods:
        assert p["metadata"]["name"].startswith(rs_name + "-")
        assert len(p["metadata"]["name"]) == len(rs_name) + 6
        (ref,) = p["metadata"]["ownerReferences"]
        assert ref["kind"] == "ReplicaSet" and ref["name"] == rs_name
        assert ref["controller"] is True and ref["blockOwnerDeletion"] is True
    out = kubectl(mp, "get", "deployment", "heal").stdout.split("\n")
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out[1].split()[:4] == ["heal", "3/3", "3", "3"]

    victim = pods[0]["metadata"]["name"]
    kubectl(mp, "delete", "pod", victim, "--wait=false")
    eventually(
        lambda: (
            ready_count(mp, "heal") == 3
            and victim not in [p["metadata"]["name"] for p in pods_of(mp, "heal")]
        ),
        timeout=60,
        what="a replacement pod ready",
    )
    events = kubectl(mp, "get", "events", "--field-selector", f"involvedObject.name={rs_name}").stdout
    assert "SuccessfulCreate" in events and "Created pod:" in events


def test_kubectl_scale_to_five_and_back_to_three(mp, deploys):
    deploys.append("scaled")
    apply(mp, deployment("scaled"))
    wait_available(mp, "scaled", 3)
    assert (
        "deployment.apps/scaled scaled" in kubectl(mp, "scale", "deployment", "scaled", "--replicas=5").stdout
    )
    wait_available(mp, "scaled", 5)
    assert ready_count(mp, "scaled") == 5
    kubectl(mp, "scale", "deployment", "scaled", "--replicas=3")
    wait_available(mp, "scaled", 3)
    eventually(lambda: len(pods_of(mp, "scaled")) == 3, timeout=60, what="two pods gone")
    rs = get(mp, "replicasets", "-l", "app=scaled")["items"][0]
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
