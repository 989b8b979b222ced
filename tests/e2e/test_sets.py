"""StatefulSets and DaemonSets through the real kubectl, with real pods and
real claims: ordered creation, a claim per ordinal that outlives its pod,
scale-down, a partitioned rolling update; one daemon pod on the node,
replaced when its template changes."""

import json

from helpers.host import eventually
from helpers.kubectl import kubectl
from helpers.pods import BUSYBOX


def template(labels: dict, script: str, **ctr) -> dict:
    c = {"name": "main", "image": BUSYBOX, "command": ["sh", "-c", script], **ctr}
    return {"metadata": {"labels": labels}, "spec": {"terminationGracePeriodSeconds": 0, "containers": [c]}}


def get(mp, kind: str, name: str, check: bool = True):
    r = kubectl(mp, "get", kind, name, "-o", "json", check=check)
    return json.loads(r.stdout) if r.returncode == 0 else None


def ready(mp, name: str) -> dict | None:
    p = get(mp, "pod", name, check=False)
    if p and p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"):
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])):
            return p
    return None


def apply(mp, obj: dict) -> None:
    kubectl(mp, "apply", "-f", "-", input=json.dumps(obj))


def statefulset(replicas: int, script: str = "exec sleep 3600", **spec) -> dict:
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
    }
    t = template({"app": "web-sts"}, script, volumeMounts=[{"name": "data", "mountPath": "/data"}])
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web-sts"}},
            "template": t,
            "volumeClaimTemplates": [claim],
            **spec,
        },
    }


def test_a_statefulset_in_order_with_a_claim_per_pod_that_outlives_it(mp):
    apply(mp, statefulset(2))
    try:
        web0 = eventually(lambda: ready(mp, "web-0"), timeout=60, what="web-0 ready")
        web1 = eventually(lambda: ready(mp, "web-1"), timeout=60, what="web-1 ready")
        # web-1 is made only once web-0 runs and is ready (OrderedReady).
        assert web1["metadata"]["creationTimestamp"] >= web0["metadata"]["creationTimestamp"]
        events = kubectl(
            mp, "get", "events", "--field-selector", "involvedObject.name=web", "-o", "json"
        ).stdout
        made = [e["message"] for e in json.loads(events)["items"] if e["reason"] == "SuccessfulCreate"]
        assert made.index("create Pod web-0 in StatefulSet web successful") < made.index(
            "create Pod web-1 in StatefulSet web successful"
        )
        for n in (0, 1):
            claim = get(mp, "pvc", f"data-web-{n}")
            assert claim["status"]["phase"] == "Bound"
            p = get(mp, "pod", f"web-{n}")
            assert p["spec"]["hostname"] == f"web-{n}" and p["spec"]["subdomain"] == "web"
        kubectl(mp, "exec", "web-0", "--", "sh", "-c", "echo kept > /data/file")
        uid = web0["metadata"]["uid"]
        kubectl(mp, "delete", "pod", "web-0", "--wait=true")
        back = eventually(
            lambda: (p := ready(mp, "web-0")) and p["metadata"]["uid"] != uid and p,
            timeout=60,
            what="web-0 back",
        )
        assert back["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-web-0"
        assert kubectl(mp, "exec", "web-0", "--", "cat", "/data/file").stdout == "kept\n"
        row = kubectl(mp, "get", "sts", "web").stdout.splitlines()
        assert row[0].split() == ["NAME", "READY", "AGE"] and row[1].split()[:2] == ["web", "2/2"]
        # Scale down: web-1 goes, its claim stays.
        kubectl(mp, "scale", "sts", "web", "--replicas=1")
        eventually(lambda: get(mp, "pod", "web-1", check=False) is None, timeout=60, what="web-1 gone")
        assert get(mp, "pvc", "data-web-1")["status"]["phase"] == "Bound"
    finally:
        kubectl(mp, "delete", "sts", "web", "--wait=true")
        eventually(lambda: get(mp, "pod", "web-0", check=False) is None, timeout=60, what="web-0 gone")
        kubectl(mp, "delete", "pvc", "data-web-0", "data-web-1", "--ignore-not-found")


def test_a_partitioned_rolling_update_updates_only_the_pods_above_it(mp):
    apply(mp, statefulset(2, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    try:
        old0 = eventually(lambda: ready(mp, "web-0"), timeout=60, what="web-0 ready")
        eventually(lambda: ready(mp, "web-1"), timeout=60, what="web-1 ready")
        changed = statefulset(
            2,
            "echo v2; exec sleep 3600",
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        )
        apply(mp, changed)
        sts = eventually(
            lambda: (
                (s := get(mp, "sts", "web"))["status"].get("updatedReplicas") == 1
                and ready(mp, "web-1")
                and s
            ),
            timeout=60,
            what="web-1 updated",
        )
        assert sts["status"]["updateRevision"] != sts["status"]["currentRevision"]
        assert get(mp, "pod", "web-0")["metadata"]["uid"] == old0["metadata"]["uid"]  # below the partition
        assert "echo v2" in get(mp, "pod", "web-1")["spec"]["containers"][0]["command"][2]
    finally:
        kubectl(mp, "delete", "sts", "web", "--wait=true")
        eventually(lambda: get(mp, "pod", "web-0", check=False) is None, timeout=60, what="web-0 gone")
        kubectl(mp, "delete", "pvc", "data-web-0", "data-web-1", "--ignore-not-found")


def test_a_daemonset_runs_one_pod_on_the_node_and_rolls_it(mp):
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": template({"app": "agent"}, "exec sleep 3600"),
        },
    }
    apply(mp, ds)
    try:

        def daemon_pods():
            items = json.loads(kubectl(mp, "get", "pods", "-l", "app=agent", "-o", "json").stdout)["items"]
            return [p for p in items if not p["metadata"].get("deletionTimestamp")]

        first = eventually(
            lambda: (ps := daemon_pods()) and ready(mp, ps[0]["metadata"]["name"]),
            timeout=60,
            what="daemon pod",
        )
        status = eventually(
            lambda: (s := get(mp, "ds", "agent")["status"]).get("numberReady") == 1 and s,
            timeout=30,
            what="numberReady 1",
        )
        assert status["desiredNumberScheduled"] == 1 and status["currentNumberScheduled"] == 1
        row = kubectl(mp, "get", "ds", "agent").stdout.splitlines()
        assert row[0].split()[:7] == [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE",
        ]
        ds["spec"]["template"] = template({"app": "agent"}, "echo v2; exec sleep 3600")
        apply(mp, ds)
        second = eventually(
            lambda: (
                (ps := daemon_pods())
                and ps[0]["metadata"]["uid"] != first["metadata"]["uid"]
                and ready(mp, ps[0]["metadata"]["name"])
            ),
            timeout=60,
            what="the new template's pod",
        )
        assert len(daemon_pods()) == 1 and "echo v2" in second["spec"]["containers"][0]["command"][2]
        kubectl(mp, "rollout", "status", "ds/agent", "--timeout=30s")
    finally:
        kubectl(mp, "delete", "ds", "agent", "--wait=true")
    eventually(
        lambda: not json.loads(kubectl(mp, "get", "pods", "-l", "app=agent", "-o", "json").stdout)["items"],
        timeout=60,
        what="daemon pods gone",
    )
