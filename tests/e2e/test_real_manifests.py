"""Real-world manifests (tests/manifests/real/), each applied as its
author wrote it and brought to the state a cluster would reach: Running,
Succeeded, Pending with the scheduler's reason, or a clear refusal or
warning for what minipod does not have yet.

Each file's first line names its source. The only change made on the way
in: a busybox image of any tag or registry (busybox, busybox:1.28,
registry.k8s.io/busybox:1.27.2) runs as the offline busybox:1.35, so the
suite needs no network. Manifests whose images are never started (a pod
held Pending, a refused one) keep theirs.

EXPECTED says, per file, what must happen:
    state     Running, Succeeded, Pending, refused (exit 1, nothing created),
              or stored (no pods: the object store keeps what it holds)
    reason    for Pending: the PodScheduled condition's reason and message
              (substring); for refused: a substring of the error
    warning   a substring of a `Warning:` line apply must print
    logs      {container or "": substring} the logs must hold
    waiting   for Pending: the reason the first container waits with
"""

import glob
import json
import os
import re
from dataclasses import dataclass, field

import pytest
import yaml
from helpers import MANIFESTS
from helpers.host import eventually

REAL = os.path.join(MANIFESTS, "real")
NAMESPACE = "default"  # applied as the documentation applies them: no -n
BUSYBOX = re.compile(r"^(docker\.io/|registry\.k8s\.io/|docker\.io/library/)?busybox(:[\w.-]+)?$")


@dataclass
class Expect:
    state: str
    reason: str = ""
    warning: str = ""
    logs: dict = field(default_factory=dict)
    waiting: str = ""  # for Pending: the first container's waiting reason


EXPECTED = {
    "k8s-admin-dns-busybox.yaml": Expect("Running"),
    "k8s-admin-logging-two-files-counter-pod.yaml": Expect("Running"),
    "k8s-admin-logging-two-files-counter-pod-streaming-sidecar.yaml": Expect(
        "Running", logs={"count-log-1": "0: ", "count-log-2": "INFO 0"}
    ),
    "k8s-admin-resource-quota-pod.yaml": Expect("refused", "kind ResourceQuota (v1) is not served"),
    "k8s-debug-counter-pod.yaml": Expect("Running", logs={"": "0: "}),
    "k8s-debug-counter-pod-err.yaml": Expect("Running", logs={"": "0: err"}),
    "k8s-pods-inject-dapi-envars-container.yaml": Expect(
        # The default divisor 1 rounds 125m and 250m up to whole cores.
        "Running",
        logs={"": "1\n1\n33554432\n67108864\n"},
    ),
    "k8s-pods-inject-dapi-envars-pod.yaml": Expect(
        "Running", logs={"": f"dapi-envars-fieldref\n{NAMESPACE}\n"}
    ),
    "k8s-pods-inject-dapi-volume.yaml": Expect(
        "Running",
        logs={
            "": 'cluster="test-cluster1"\nrack="rack-22"\nzone="us-est-coast"\n\nbuild="two"\nbuilder="john-doe"'
        },
    ),
    "k8s-pods-inject-dependent-envars.yaml": Expect(
        "Running",
        logs={"": "SERVICE_ADDRESS\nhttps://172.17.0.1:80\n"},
    ),
    "k8s-pods-multi-container-startup-coordination.yaml": Expect(
        "Running", logs={"main-app": "greeting=hello"}
    ),
    # Its ConfigMap is in another file of the tutorial: the container waits for it.
    "k8s-pods-pod-configmap-envFrom.yaml": Expect("Pending", waiting="CreateContainerConfigError"),
    "k8s-pods-pod-nginx-specific-node.yaml": Expect(
        "Pending", "Unschedulable: 0/1 nodes are available: 1 node(s) didn't match the requested node name."
    ),
    "k8s-pods-pod-with-scheduling-gates.yaml": Expect(
        "Pending", "SchedulingGated: Scheduling is blocked due to non-empty scheduling gates"
    ),
    "k8s-pods-probe-exec-liveness.yaml": Expect("Running"),
    "k8s-pods-probe-grpc-liveness.yaml": Expect("refused", "grpc"),
    "k8s-pods-resource-extended-resource-pod.yaml": Expect(
        "Pending", "Unschedulable: 0/1 nodes are available: 1 Insufficient example.com/dongle."
    ),
    # A kubelet on a node without AppArmor rejects it (reason AppArmor).
    "k8s-pods-security-hello-apparmor.yaml": Expect("Failed", warning="AppArmor"),
    # Its Secrets are made by hand in the tutorial: the volume waits for them.
    "k8s-pods-storage-projected.yaml": Expect("Pending", waiting="ContainerCreating"),
    # Its claim is made by another file of the page: until then, the scheduler's wait.
    "k8s-pods-storage-pv-pod.yaml": Expect(
        "Pending", 'Unschedulable: 0/1 nodes are available: persistentvolumeclaim "task-pv-claim" not found.'
    ),
    "k8s-service-networking-hostaliases-pod.yaml": Expect(
        "Succeeded", logs={"": "127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\tbar.remote\n"}
    ),
    "k8s-service-simple-service.yaml": Expect("stored"),
    "podman-e2e-test.yaml": Expect("refused", "invalid YAML"),
    "podman-system-700-play-testyaml.yaml": Expect("refused", 'metadata.name: invalid value "test_pod"'),
}


def test_every_manifest_has_an_expectation_and_a_source():
    files = sorted(os.path.basename(f) for f in glob.glob(os.path.join(REAL, "*.yaml")))
    assert files == sorted(EXPECTED)
    for name in files:
        with open(os.path.join(REAL, name)) as f:
            assert f.readline().startswith("# source: "), name


def as_sent(text: str) -> str:
    """The manifest with busybox images pointed at the offline busybox:1.35
    (the text as it is when it does not parse: the error is the point)."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError:
        return text
    for doc in docs:
        spec = doc.get("spec") or {}
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if BUSYBOX.match(str(c.get("image", ""))):
                c["image"] = "busybox:1.35"
    return "\n---\n".join(json.dumps(d) for d in docs)


def pods_of(text: str) -> list[tuple[str, str]]:
    """(namespace, name) of each Pod: the manifest's namespace, else ours."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d and d.get("kind") == "Pod"]
        return [(d["metadata"].get("namespace") or NAMESPACE, d["metadata"]["name"]) for d in docs]
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return []


def reached(mp, ns: str, name: str, want: str) -> dict | None:
    pod = json.loads(mp.run("get", "pod", name, "-n", ns, "-o", "json").stdout)
    status = pod["status"]
    if want == "Running":
        ok = status["phase"] == "Running" and all(
            "running" in c["state"] for c in status.get("containerStatuses", [])
        )
    else:
        ok = status["phase"] == want
    return pod if ok else None


def waiting_reason(mp, ns: str, name: str) -> str:
    pod = json.loads(mp.run("get", "pod", name, "-n", ns, "-o", "json").stdout)
    state = ((pod["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting") or {}
    return state.get("reason", "")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_manifest(mp, name):
    expect = EXPECTED[name]
    with open(os.path.join(REAL, name)) as f:
        text = f.read()
    pods = pods_of(text)
    try:
        p = mp.run("apply", "-f", "-", input=as_sent(text), check=False)
        assert "Traceback" not in p.stderr, p.stderr
        if expect.warning:
            warnings = [line for line in p.stderr.splitlines() if line.startswith("Warning:")]
            assert any(expect.warning in w for w in warnings), p.stderr
        if expect.state == "refused":
            assert p.returncode == 1, f"exit {p.returncode}: {p.stdout}{p.stderr}"
            assert expect.reason in p.stderr, p.stderr
            for ns, pod_name in pods:
                assert mp.run("get", "pod", pod_name, "-n", ns, check=False).returncode == 1, pod_name
            return
        assert p.returncode == 0, p.stderr
        if expect.state == "stored":
            for doc in yaml.safe_load_all(text):
                if doc:
                    got = mp.run("get", doc["kind"].lower(), doc["metadata"]["name"], "-o", "name").stdout
                    assert got.strip().endswith("/" + doc["metadata"]["name"]), got
        for ns, pod_name in pods:
            pod = eventually(
                lambda a=(ns, pod_name): reached(mp, *a, expect.state), timeout=30, what=expect.state
            )
            if expect.state == "Pending":
                cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
                assert expect.reason in f"{cond.get('reason', '')}: {cond.get('message', '')}", cond
            if expect.waiting:
                eventually(
                    lambda a=(ns, pod_name): waiting_reason(mp, *a) == expect.waiting,
                    timeout=30,
                    what=f"waiting with {expect.waiting}",
                )
        for container, wanted in expect.logs.items():
            ns, pod_name = pods[0]
            args = ["logs", pod_name, "-n", ns] + (["-c", container] if container else [])
            eventually(
                lambda a=args, w=wanted: w in mp.run(*a).stdout, timeout=15, what=f"{wanted!r} in logs"
            )
    finally:
        for ns, pod_name in pods:
            mp.run(
                "delete", "pod", pod_name, "-n", ns, "--grace-period", "0", "--ignore-not-found", check=False
            )
        if expect.state == "stored":
            mp.run("delete", "-f", "-", "--ignore-not-found", input=as_sent(text), check=False)
