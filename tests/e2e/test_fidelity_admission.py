"""What a cluster decides before a kubelet runs a pod, and how `get`
shows a pod (issue 10), through the daemon and the CLI:

- a pod bound to another node (spec.nodeName) stays Pending with the
  scheduler's reason; one bound to this node runs, and `get -o wide`,
  `describe` and the downward API agree on the node;
- extended resources this node lacks keep a pod Pending;
- unsafe sysctls get the pod rejected with SysctlForbidden;
- the beta AppArmor annotation gets a warning;
- RESTARTS counts init containers, with the last restart's age.
"""

import json
import re

from helpers.cli import rows
from helpers.pods import ctr, pod

SLEEP = "exec sleep 3600"


def scheduled(p: dict) -> dict:
    return next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")


def node_of_this_host(mp) -> str:
    """The node minipod runs pods on, as the Scheduled event names it."""
    out = mp.run("events").stdout
    m = re.search(r"Successfully assigned \S+ to (\S+)", out)
    assert m, out
    return m.group(1)


def test_a_pod_bound_to_another_node_stays_pending(mp, pods, pod_name):
    p = pods.run(pod(pod_name, ctr("main", SLEEP), nodeName="node-elsewhere"), check=False, timeout=5)
    assert p.returncode == 1
    assert "didn't match the requested node name" in p.stderr, p.stderr
    got = mp.pod(pod_name)
    assert got["status"]["phase"] == "Pending"
    cond = scheduled(got)
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert cond["message"] == "0/1 nodes are available: 1 node(s) didn't match the requested node name."
    assert "containerStatuses" not in got["status"]
    assert mp.inspect(pod_name)["podInit"].get("pid") is None  # nothing was started
    row = rows(mp.run("get", "pods", pod_name, "-o", "wide").stdout)[pod_name]
    assert row[1:4] == ["0/1", "Pending", "0"]
    assert row[6] == "node-elsewhere"
    described = mp.run("describe", "pod", pod_name).stdout
    assert re.search(r"^Node:\s+node-elsewhere/$", described, re.M), described
    assert re.search(r"^  PodScheduled\s+False", described, re.M), described
    assert "FailedScheduling" in described
    mp.delete(pod_name)
    assert mp.run("get", "pod", pod_name, check=False).returncode == 1


def test_node_name_agrees_everywhere(mp, pods, pod_name):
    env = [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    pods.run(pod(pod_name, ctr("main", 'echo "node=$NODE"; ' + SLEEP, env=env)))
    node = node_of_this_host(mp)
    got = mp.pod(pod_name)
    assert got["spec"]["nodeName"] == node
    assert scheduled(got)["status"] == "True"
    assert mp.logs(pod_name) == f"node={node}\n"
    assert rows(mp.run("get", "pods", pod_name, "-o", "wide").stdout)[pod_name][6] == node
    described = mp.run("describe", "pod", pod_name).stdout
    assert re.search(rf"^Node:\s+{re.escape(node)}/\S+$", described, re.M), described
    # The manifest again, without nodeName: unchanged, as with kubectl apply.
    manifest = pod(pod_name, ctr("main", 'echo "node=$NODE"; ' + SLEEP, env=env))
    assert mp.apply(json.dumps(manifest)).stdout.strip() == f"pod/{pod_name} unchanged"
    # And naming this node explicitly runs it here too.
    other = f"{pod_name}-explicit"[:63]
    pods.run(pod(other, ctr("main", SLEEP), nodeName=node))
    assert mp.pod(other)["status"]["phase"] == "Running"


def test_extended_resources_keep_the_pod_pending(mp, pods, pod_name):
    c = ctr("main", SLEEP, resources={"limits": {"example.com/dongle": "1"}})
    p = pods.run(pod(pod_name, c), check=False, timeout=5)
    assert p.returncode == 1
    got = mp.pod(pod_name)
    assert got["status"]["phase"] == "Pending"
    cond = scheduled(got)
    assert (cond["reason"], cond["message"]) == (
        "Unschedulable",
        "0/1 nodes are available: 1 Insufficient example.com/dongle.",
    )
    assert mp.inspect(pod_name)["podInit"].get("pid") is None


def test_unsafe_sysctls_are_forbidden(mp, pods, pod_name):
    sysctls = [{"name": "kernel.msgmax", "value": "65536"}]
    p = pods.run(
        pod(pod_name, ctr("main", SLEEP), securityContext={"sysctls": sysctls}), check=False, timeout=5
    )
    assert p.returncode == 1
    assert 'forbidden sysctl: "kernel.msgmax" not allowlisted' in p.stderr, p.stderr
    got = mp.pod(pod_name)["status"]
    assert (got["phase"], got["reason"]) == ("Failed", "SysctlForbidden")
    assert got["message"] == 'Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted'
    assert rows(mp.run("get", "pods", pod_name).stdout)[pod_name][2] == "SysctlForbidden"
    assert mp.inspect(pod_name)["podInit"].get("pid") is None


def test_apparmor_beta_annotation_warns(mp, pods, pod_name):
    manifest = pod(pod_name, ctr("main", SLEEP))
    key = "container.apparmor.security.beta.kubernetes.io/main"
    manifest["metadata"]["annotations"] = {key: "runtime/default"}
    p = pods.run(manifest, check=False)
    warnings = [line for line in p.stderr.splitlines() if line.startswith("Warning:")]
    assert any(f"metadata.annotations[{key}]" in w and "AppArmor" in w for w in warnings), p.stderr
    # And a kubelet that cannot enforce the profile rejects the pod.
    status = mp.wait_for(pod_name, lambda q: q["status"].get("phase") == "Failed", what="Failed")["status"]
    assert status["reason"] == "AppArmor"


def test_restarts_count_init_containers(mp, pods, pod_name):
    init = ctr("setup", "exit 1")
    pods.run(pod(pod_name, ctr("main", SLEEP), initContainers=[init]), check=False, timeout=3)
    mp.wait_for(
        pod_name,
        lambda p: (
            p["status"]["initContainerStatuses"][0]["restartCount"] >= 1
            and p["status"]["initContainerStatuses"][0]["lastState"]
        ),
        what="an init container restart",
    )
    row = mp.run("get", "pods", pod_name).stdout.splitlines()[1]
    m = re.match(rf"{pod_name}\s+0/1\s+(Init:\S+)\s+(\d+) \((\d+)s ago\)\s+\d+s$", row)
    assert m, row
    # The STATUS is the init container's (Init:Error, Init:CrashLoopBackOff, or
    # while it is restarted, a moment apart here, Init:0/1 or Init:ContainerCreating).
    assert int(m.group(2)) >= 1


# A kind minipod does not serve (no autoscaler on one node).
AUTOSCALER = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  maxReplicas: 3
"""
QUOTA = """apiVersion: v1
kind: ResourceQuota
metadata:
  name: {name}
spec:
  hard: {{pods: "10"}}
"""


def test_unsupported_kinds_are_skipped_and_the_pod_runs(mp, pods, pod_name):
    docs = [
        AUTOSCALER.format(name=pod_name),
        json.dumps(pod(pod_name, ctr("main", SLEEP))),
        QUOTA.format(name="q"),
    ]
    pods.add(pod_name)
    p = mp.run("apply", "-f", "-", input="\n---\n".join(docs))
    assert p.stdout.strip() == f"pod/{pod_name} created"
    warnings = [line for line in p.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 2, p.stderr
    assert warnings[0].startswith(
        f"Warning: horizontalpodautoscaler/{pod_name}: skipped: kind HorizontalPodAutoscaler (autoscaling/v2)"
    )
    assert warnings[1].startswith("Warning: resourcequota/q: skipped: kind ResourceQuota (v1)")
    mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Running", what="Running")


def test_an_invalid_pod_beside_other_kinds_refuses_the_file(mp, pods, pod_name):
    bad = pod(pod_name, ctr("main", SLEEP, imagePullPolicyy="Always"))
    p = mp.run(
        "apply",
        "-f",
        "-",
        input="\n---\n".join([AUTOSCALER.format(name=pod_name), json.dumps(bad)]),
        check=False,
    )
    assert p.returncode == 1
    assert "imagePullPolicyy" in p.stderr and "Traceback" not in p.stderr
    assert mp.run("get", "pod", pod_name, check=False).returncode == 1


def test_an_explicit_namespace_must_match_the_manifests(mp, pods, pod_name):
    manifest = pod(pod_name, ctr("main", SLEEP))
    manifest["metadata"]["namespace"] = "default"
    p = mp.run("apply", "-f", "-", "-n", "team-a", input=json.dumps(manifest), check=False)
    assert p.returncode == 1
    assert p.stderr.splitlines()[0] == (
        'error: the namespace from the provided object "default" does not match the namespace "team-a". '
        "You must pass '--namespace=default' to perform this operation."
    )
    assert mp.run("get", "pod", pod_name, check=False).returncode == 1
    pods.add(pod_name)
    assert mp.run("apply", "-f", "-", input=json.dumps(manifest)).stdout.strip() == f"pod/{pod_name} created"
