"""Deployments and ReplicaSets through the real kubectl, with real pods:
self-healing, scaling, rolling updates, a stuck rollout, undo, history,
and cascading deletion (issue 16's must-holds).

Pods are busybox httpd with a readiness probe on a file the test can
remove, so readiness is what the test decides; each test uses its own
Deployment name and deletes it at the end (the `deploys` fixture).
"""

import json
import time

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


def names(pods: list[dict]) -> set[str]:
    return {p["metadata"]["name"] for p in pods}


def versions(mp, name: str) -> set[str]:
    out = set()
    for p in pods_of(mp, name):
        if not p["metadata"].get("deletionTimestamp"):
            out.add(p["spec"]["containers"][0]["env"][0]["value"])
    return out


class ReadySampler:
    """Counts the ready pods of a Deployment every ~0.2 s in a thread."""

    def __init__(self, mp, name: str):
        import threading

        self.mp, self.name, self.samples = mp, name, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(ready_count(self.mp, self.name))
            self.stop.wait(0.2)

    def finish(self) -> list[int]:
        self.stop.set()
        self.thread.join(30)
        return self.samples


def test_rolling_update_keeps_three_ready_with_surge_one_unavailable_zero(mp, deploys):
    deploys.append("roll")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    # minReadySeconds keeps each step of the rollout long enough to be sampled.
    apply(mp, deployment("roll", strategy=strategy, minReadySeconds=2))
    wait_available(mp, "roll", 3)
    before = names(pods_of(mp, "roll"))
    sampler = ReadySampler(mp, "roll")
    apply(mp, deployment("roll", version="v2", strategy=strategy, minReadySeconds=2))
    kubectl(mp, "rollout", "status", "deployment/roll", "--timeout=120s", timeout=130)
    d = wait_available(mp, "roll", 3)
    samples = sampler.finish()
    assert len(samples) >= 5, samples
    assert min(samples) >= 3, f"fewer than 3 ready pods during the rollout: {samples}"
    eventually(lambda: versions(mp, "roll") == {"v2"} and len(pods_of(mp, "roll")) == 3, timeout=60)
    assert not before & names(pods_of(mp, "roll"))
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    conditions = {c["type"]: c for c in d["status"]["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    rss = get(mp, "replicasets", "-l", "app=roll")["items"]
    assert sorted(rs["spec"]["replicas"] for rs in rss) == [0, 3]
    events = kubectl(mp, "get", "events", "--field-selector", "involvedObject.name=roll").stdout
    assert "ScalingReplicaSet" in events and "Scaled up replica set roll-" in events
    assert "Scaled down replica set roll-" in events


def test_stuck_rollout_exceeds_its_deadline_keeps_old_pods_then_undo_and_history(mp, deploys):
    deploys.append("stuck")
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    apply(mp, deployment("stuck", strategy=strategy, progressDeadlineSeconds=6))
    wait_available(mp, "stuck", 3)
    old = names(pods_of(mp, "stuck"))
    kubectl(mp, "annotate", "deployment/stuck", "kubernetes.io/change-cause=never ready")
    apply(
        mp, deployment("stuck", version="v2", ready_file=False, strategy=strategy, progressDeadlineSeconds=6)
    )
    p = kubectl(mp, "rollout", "status", "deployment/stuck", "--timeout=90s", check=False, timeout=100)
    assert p.returncode != 0
    assert 'deployment "stuck" exceeded its progress deadline' in p.stderr

    d = get(mp, "deployment", "stuck")
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"].endswith("has timed out progressing.")
    assert old <= names(pods_of(mp, "stuck")), "the old pods must keep serving"
    assert ready_count(mp, "stuck") == 3

    history = kubectl(mp, "rollout", "history", "deployment/stuck").stdout
    assert "REVISION" in history and "CHANGE-CAUSE" in history
    rows = [line.split(None, 1) for line in history.strip().splitlines()[2:]]
    assert [r[0] for r in rows] == ["1", "2"]
    assert rows[1][1].strip() == "never ready"

    kubectl(mp, "rollout", "undo", "deployment/stuck")
    kubectl(mp, "rollout", "status", "deployment/stuck", "--timeout=90s", timeout=100)
    wait_available(mp, "stuck", 3)
    eventually(lambda: versions(mp, "stuck") == {"v1"} and len(pods_of(mp, "stuck")) == 3, timeout=60)
    d = get(mp, "deployment", "stuck")
    assert d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "v1"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = kubectl(mp, "rollout", "history", "deployment/stuck").stdout
    assert [line.split()[0] for line in history.strip().splitlines()[2:]] == ["2", "3"]


def test_pause_resume_and_restart(mp, deploys):
    deploys.append("paused")
    apply(mp, deployment("paused", replicas=2))
    wait_available(mp, "paused", 2)
    kubectl(mp, "rollout", "pause", "deployment/paused")
    apply(mp, deployment("paused", replicas=2, version="v2"))
    d = eventually(
        lambda: (
            (x := get(mp, "deployment", "paused"))["status"].get("observedGeneration")
            == x["metadata"]["generation"]
            and x
        ),
        timeout=30,
    )
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    assert len(get(mp, "replicasets", "-l", "app=paused")["items"]) == 1, "paused: no new ReplicaSet"
    kubectl(mp, "rollout", "resume", "deployment/paused")
    kubectl(mp, "rollout", "status", "deployment/paused", "--timeout=90s", timeout=100)
    eventually(lambda: versions(mp, "paused") == {"v2"} and len(pods_of(mp, "paused")) == 2, timeout=60)
    before = names(pods_of(mp, "paused"))
    kubectl(mp, "rollout", "restart", "deployment/paused")
    kubectl(mp, "rollout", "status", "deployment/paused", "--timeout=90s", timeout=100)
    eventually(
        lambda: len(pods_of(mp, "paused")) == 2 and not before & names(pods_of(mp, "paused")), timeout=60
    )


def test_deleting_a_deployment_deletes_its_replicasets_and_pods(mp, deploys):
    deploys.append("gone")
    apply(mp, deployment("gone", replicas=2))
    wait_available(mp, "gone", 2)
    kubectl(mp, "delete", "deployment", "gone")
    eventually(
        lambda: not get(mp, "replicasets", "-l", "app=gone")["items"], timeout=30, what="ReplicaSets gone"
    )
    eventually(lambda: not pods_of(mp, "gone"), timeout=60, what="pods gone")


def test_orphan_cascade_leaves_the_pods(mp, deploys):
    deploys.append("orphans")
    apply(mp, deployment("orphans", replicas=2))
    wait_available(mp, "orphans", 2)
    pods = names(pods_of(mp, "orphans"))
    kubectl(mp, "delete", "deployment", "orphans", "--cascade=orphan")
    eventually(lambda: "orphans" not in kubectl(mp, "get", "deployments").stdout, timeout=30)
    rss = get(mp, "replicasets", "-l", "app=orphans")["items"]
    assert len(rss) == 1 and not rss[0]["metadata"].get("ownerReferences")
    time.sleep(2)
    assert names(pods_of(mp, "orphans")) == pods
    # The ReplicaSet still runs them; then without it too.
    kubectl(mp, "delete", "replicaset", rss[0]["metadata"]["name"], "--cascade=orphan")
    time.sleep(2)
    left = pods_of(mp, "orphans")
    assert names(left) == pods and all(not p["metadata"].get("ownerReferences") for p in left)
    kubectl(mp, "delete", "pods", "-l", "app=orphans", "--grace-period=0")


def test_replicaset_replaces_a_failed_or_evicted_pod(mp, deploys):
    deploys.append("evicted")
    apply(mp, deployment("evicted", replicas=2))
    wait_available(mp, "evicted", 2)
    victim = sorted(names(pods_of(mp, "evicted")))[0]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": victim, "namespace": "default"},
    }
    kubectl(
        mp,
        "create",
        "--raw",
        f"/api/v1/namespaces/default/pods/{victim}/eviction",
        "-f",
        "-",
        input=json.dumps(body),
    )
    eventually(
        lambda: ready_count(mp, "evicted") == 2 and victim not in names(pods_of(mp, "evicted")),
        timeout=60,
        what="the evicted pod replaced",
    )


def test_minipod_cli_get_describe_and_scale(mp, deploys):
    deploys.append("clidep")
    mp.run("apply", "-f", "-", input=json.dumps(deployment("clidep", replicas=2)))
    wait_available(mp, "clidep", 2)
    rows = mp.run("get", "deployments").stdout.splitlines()
    assert rows[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert next(r for r in rows if r.startswith("clidep ")).split()[:4] == ["clidep", "2/2", "2", "2"]
    wide = mp.run("get", "deploy", "clidep", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["web", "busybox:1.35", "app=clidep"]
    rs = mp.run("get", "rs", "-l", "app=clidep").stdout.splitlines()
    assert rs[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rs[1].split()[1:4] == ["2", "2", "2"]
    described = mp.run("describe", "deployment", "clidep").stdout
    assert "clidep" in described and "ScalingReplicaSet" in described

    out = mp.run("scale", "deployment", "clidep", "--replicas", "3").stdout
    assert out.strip() == "deployment.apps/clidep scaled"
    wait_available(mp, "clidep", 3)
    bad = mp.run("scale", "deployment", "clidep", "--replicas", "1", "--current-replicas", "7", check=False)
    assert bad.returncode == 1 and "Expected replicas to be 7, was 3" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = mp.run("scale", "configmap", "x", "--replicas", "1", check=False)
    assert bad.returncode == 1 and "cannot be scaled" in bad.stderr


def test_invalid_deployment_is_refused_with_the_api_servers_message(mp):
    bad = deployment("invalid")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    p = kubectl(mp, "apply", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode == 1
    assert (
        'The Deployment "invalid" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"invalid"}: `selector` does not match template `labels`'
    ) in p.stderr
    assert "invalid" not in kubectl(mp, "get", "deployments").stdout


def test_the_readme_commands(mp, deploys):
    deploys.append("web")
    kubectl(
        mp,
        "create",
        "deployment",
        "web",
        "--image=busybox:1.35",
        "--replicas=3",
        "--",
        "httpd",
        "-f",
        "-p",
        "8080",
    )
    wait_available(mp, "web", 3)
    kubectl(mp, "set", "env", "deployment/web", "VERSION=2")
    kubectl(mp, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
    d = wait_available(mp, "web", 3)
    assert d["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "VERSION", "value": "2"}]
    described = kubectl(mp, "describe", "deployment", "web").stdout
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in described
    assert "NewReplicaSet:" in described and "ScalingReplicaSet" in described
    history = kubectl(mp, "rollout", "history", "deployment/web", "--revision=2").stdout
    assert "VERSION:\t2" in history
    # Undo finds revision 1's ReplicaSet again (its template, sent by
    # `kubectl create` in protobuf, equals the one undo writes back).
    first = {rs["metadata"]["name"] for rs in get(mp, "replicasets", "-l", "app=web")["items"]}
    kubectl(mp, "rollout", "undo", "deployment/web")
    kubectl(mp, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
    rss = get(mp, "replicasets", "-l", "app=web")["items"]
    assert {rs["metadata"]["name"] for rs in rss} == first and len(first) == 2
    revisions = sorted(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in rss)
    assert revisions == ["2", "3"]


def test_recreate_stops_every_old_pod_before_the_new_ones_start(mp, deploys):
    deploys.append("recreate")
    apply(mp, deployment("recreate", replicas=2, strategy={"type": "Recreate"}))
    wait_available(mp, "recreate", 2)
    old = names(pods_of(mp, "recreate"))
    apply(mp, deployment("recreate", replicas=2, version="v2", strategy={"type": "Recreate"}))
    seen_both = False
    deadline = time.time() + 90
    while time.time() < deadline:
        current = pods_of(mp, "recreate")
        now = names(current)
        if now & old and now - old:
            seen_both = True
        if versions(mp, "recreate") == {"v2"} and ready_count(mp, "recreate") == 2 and not now & old:
            break
        time.sleep(0.2)
    assert not seen_both, "Recreate ran old and new pods side by side"
    wait_available(mp, "recreate", 2)


def test_a_container_that_exits_is_restarted_in_place_not_replaced(mp, deploys):
    deploys.append("crashy")
    d = deployment("crashy", replicas=1)
    container = d["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["sh", "-c", "sleep 1; exit 3"]
    del container["readinessProbe"]
    apply(mp, d)
    first = eventually(lambda: pods_of(mp, "crashy"), timeout=30)[0]["metadata"]["name"]

    def restarted():
        (p,) = pods_of(mp, "crashy")
        statuses = p["status"].get("containerStatuses") or [{}]
        return p["metadata"]["name"] == first and statuses[0].get("restartCount", 0) >= 1

    eventually(restarted, timeout=60, what="the container restarted in its pod")
    assert names(pods_of(mp, "crashy")) == {first}


def test_a_refused_pod_is_a_failed_create_event(mp, deploys):
    kubectl(mp, "create", "namespace", "restricted-apps")
    try:
        kubectl(mp, "label", "namespace", "restricted-apps", "pod-security.kubernetes.io/enforce=restricted")
        d = deployment("refused", replicas=1)
        d["metadata"]["namespace"] = "restricted-apps"
        d["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
        apply(mp, d)

        def failed_create():
            events = get(mp, "events", "-n", "restricted-apps")["items"]
            return [e for e in events if e["reason"] == "FailedCreate"]

        (event, *_) = eventually(failed_create, timeout=30, what="a FailedCreate event")
        assert event["type"] == "Warning" and event["involvedObject"]["kind"] == "ReplicaSet"
        assert event["message"].startswith('Error creating: pods "refused-')
        assert "violates PodSecurity" in event["message"]
    finally:
        kubectl(mp, "delete", "namespace", "restricted-apps", "--wait=false")


def test_foreground_cascade_through_replicasets_and_pods(mp, deploys):
    deploys.append("fore")
    apply(mp, deployment("fore", replicas=2))
    wait_available(mp, "fore", 2)
    # kubectl waits for the Deployment to go: with Foreground it goes last.
    kubectl(mp, "delete", "deployment", "fore", "--cascade=foreground", "--timeout=60s", timeout=70)
    assert not get(mp, "replicasets", "-l", "app=fore")["items"]
    eventually(lambda: not pods_of(mp, "fore"), timeout=60, what="pods gone")
