"""A SIGKILLed daemon comes back without creating extra pods or losing any:
the controllers re-list the store, count the pods that exist and adopt the
orphans that match (issue 16's must-hold). A daemon of its own (fresh_mp),
since this test kills it."""

import json
import time

from helpers.host import eventually
from helpers.kubectl import kubectl


def deployment(name: str, replicas: int) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "terminationGracePeriodSeconds": 0,
                        "containers": [
                            {"name": "main", "image": "busybox:1.35", "command": ["sleep", "3600"]}
                        ],
                    },
                },
            },
        }
    )


def pods(mp, app: str) -> dict[str, dict]:
    items = json.loads(kubectl(mp, "get", "pods", "-l", f"app={app}", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in items}


def available(mp, name: str, n: int) -> bool:
    s = json.loads(kubectl(mp, "get", "deployment", name, "-o", "json").stdout).get("status") or {}
    return s.get("availableReplicas") == n and s.get("replicas") == n


def test_sigkilled_daemon_neither_duplicates_nor_loses_pods(fresh_mp):
    mp = fresh_mp
    kubectl(mp, "apply", "-f", "-", input=deployment("survivor", 3))
    eventually(lambda: available(mp, "survivor", 3), timeout=90, what="3 available")
    before = set(pods(mp, "survivor"))
    assert len(before) == 3

    mp.kill_daemon()  # SIGKILL: no chance to save anything
    mp.start_daemon()
    eventually(lambda: available(mp, "survivor", 3), timeout=60, what="3 available after the restart")
    time.sleep(3)  # the controllers have re-listed; they must not have acted
    assert set(pods(mp, "survivor")) == before
    assert len(json.loads(kubectl(mp, "get", "rs", "-l", "app=survivor", "-o", "json").stdout)["items"]) == 1

    # Kill it again right after a scale-up was accepted: the pods it made
    # are kept, and none is added twice.
    kubectl(mp, "scale", "deployment/survivor", "--replicas=5")
    mp.kill_daemon()
    mp.start_daemon()
    eventually(lambda: available(mp, "survivor", 5), timeout=90, what="5 available")
    time.sleep(3)
    after = pods(mp, "survivor")
    assert len(after) == 5 and before <= set(after)

    # The ReplicaSet goes (orphaning its pods): the Deployment makes it again
    # under the same name, and it adopts the 5 pods instead of making new ones.
    rs = json.loads(kubectl(mp, "get", "rs", "-l", "app=survivor", "-o", "json").stdout)["items"][0]
    kubectl(mp, "delete", "rs", rs["metadata"]["name"], "--cascade=orphan")
    eventually(
        lambda: all(
            (p["metadata"].get("ownerReferences") or [{}])[0].get("uid") not in (None, rs["metadata"]["uid"])
            for p in pods(mp, "survivor").values()
        ),
        timeout=30,
        what="the pods adopted by the new ReplicaSet",
    )
    assert set(pods(mp, "survivor")) == set(after)
    kubectl(mp, "delete", "deployment", "survivor")
    eventually(lambda: not pods(mp, "survivor"), timeout=60, what="the pods deleted with the Deployment")
