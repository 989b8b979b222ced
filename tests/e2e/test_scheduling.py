"""The scheduler's filters on the one node, driven with the real kubectl:
each rule keeps a pod Pending with the scheduler's exact message and a
FailedScheduling event, and the pod runs once the node is relabelled,
untainted, uncordoned or room is made. NoExecute taints evict; a
high-priority pod preempts a low-priority one."""

import contextlib
import json
import subprocess

from helpers.host import eventually
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod

SLEEP = "exec sleep 3600"


def node_name(mp) -> str:
    return kubectl(mp, "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout


def scheduled(mp, name: str) -> dict:
    p = mp.pod(name)
    return next(c for c in p["status"].get("conditions", []) if c["type"] == "PodScheduled")


def waits_with(mp, name: str, reason: str) -> None:
    """The pod stays Pending with exactly `0/1 nodes are available: 1 REASON.`,
    and a FailedScheduling event says the same."""
    message = f"0/1 nodes are available: 1 {reason}."
    eventually(lambda: scheduled(mp, name).get("message") == message, what=message, timeout=10)
    p = mp.pod(name)
    assert p["status"]["phase"] == "Pending" and scheduled(mp, name)["reason"] == "Unschedulable"
    events = json.loads(
        kubectl(mp, "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout
    )["items"]
    assert any(e["reason"] == "FailedScheduling" and e["message"] == message for e in events), events


def runs(mp, name: str) -> dict:
    return mp.wait_for(name, lambda p: p["status"]["phase"] == "Running", what="Running", timeout=30)


@contextlib.contextmanager
def node_labelled(mp, **labels):
    node = node_name(mp)
    try:
        kubectl(mp, "label", "node", node, *(f"{k}={v}" for k, v in labels.items()), "--overwrite")
        yield node
    finally:
        kubectl(mp, "label", "node", node, *(f"{k}-" for k in labels), check=False)


@contextlib.contextmanager
def node_tainted(mp, taint: str):
    node = node_name(mp)
    try:
        kubectl(mp, "taint", "node", node, taint)
        yield node
    finally:
        kubectl(mp, "taint", "node", node, taint.split("=")[0].split(":")[0] + "-", check=False)


def test_node_selector_waits_until_the_node_is_labelled(mp, pods, pod_name):
    pods.add(pod_name)
    mp.apply(json.dumps(pod(pod_name, ctr("main", SLEEP), nodeSelector={"disk": "ssd"})))
    waits_with(mp, pod_name, "node(s) didn't match Pod's node affinity/selector")
    with node_labelled(mp, disk="ssd"):
        p = runs(mp, pod_name)
        assert p["spec"]["nodeName"] == node_name(mp)


def test_required_node_affinity_with_not_in_and_gt(mp, pods, pod_name):
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "cores", "operator": "Gt", "values": ["8"]},
                            {"key": "zone", "operator": "NotIn", "values": ["z9"]},
                        ]
                    }
                ]
            }
        }
    }
    pods.add(pod_name)
    with node_labelled(mp, cores="4"):
        mp.apply(json.dumps(pod(pod_name, ctr("main", SLEEP), affinity=affinity)))
        waits_with(mp, pod_name, "node(s) didn't match Pod's node affinity/selector")
        kubectl(mp, "label", "node", node_name(mp), "cores=16", "--overwrite")
        runs(mp, pod_name)


def test_a_no_schedule_taint_keeps_a_pod_out_until_it_is_removed_or_tolerated(mp, pods, pod_name):
    tolerant = pod_name[:40] + "-tolerant"
    pods.add(pod_name, tolerant)
    with node_tainted(mp, "dedicated=gpu:NoSchedule") as node:
        mp.apply(json.dumps(pod(pod_name, ctr("main", SLEEP))))
        waits_with(mp, pod_name, "node(s) had untolerated taint {dedicated: gpu}")
        toleration = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
        mp.apply(json.dumps(pod(tolerant, ctr("main", SLEEP), tolerations=[toleration])))
        runs(mp, tolerant)
        kubectl(mp, "taint", "node", node, "dedicated-")
        runs(mp, pod_name)


def test_a_no_execute_taint_evicts_at_once_or_after_toleration_seconds(mp, pods, pod_name):
    patient = pod_name[:40] + "-patient"
    pods.add(pod_name, patient)
    toleration = {"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 3}
    # A container's process is PID 1 of its own pid namespace: sleep ignores
    # SIGTERM there, so a short grace period keeps the test quick.
    mp.apply(json.dumps(pod(pod_name, ctr("main", SLEEP), terminationGracePeriodSeconds=1)))
    mp.apply(
        json.dumps(
            pod(patient, ctr("main", SLEEP), tolerations=[toleration], terminationGracePeriodSeconds=1)
        )
    )
    runs(mp, pod_name)
    runs(mp, patient)
    with node_tainted(mp, "maintenance=now:NoExecute"):
        eventually(
            lambda: mp.run("get", "pod", pod_name, check=False).returncode == 1, what="evicted", timeout=15
        )
        # The tolerating pod is still there a moment later, then goes too.
        assert mp.run("get", "pod", patient, check=False).returncode == 0
        p = mp.pod(patient)
        assert p["metadata"].get("deletionTimestamp") is None
        eventually(
            lambda: mp.run("get", "pod", patient, check=False).returncode == 1, what="evicted", timeout=20
        )
    events = json.loads(kubectl(mp, "get", "events", "-o", "json").stdout)["items"]
    evictions = [e for e in events if e["reason"] == "TaintManagerEviction"]
    assert {e["involvedObject"]["name"] for e in evictions} >= {pod_name, patient}
    assert f"Marking for deletion Pod default/{pod_name}" in [e["message"] for e in evictions]


def test_a_cordoned_node_takes_no_new_pods(mp, pods, pod_name):
    node = node_name(mp)
    pods.add(pod_name)
    try:
        kubectl(mp, "cordon", node)
        mp.apply(json.dumps(pod(pod_name, ctr("main", SLEEP))))
        waits_with(mp, pod_name, "node(s) were unschedulable")
    finally:
        kubectl(mp, "uncordon", node)
    runs(mp, pod_name)


def test_required_anti_affinity_keeps_the_second_replica_pending(mp, pods, pod_name):
    first, second = pod_name[:45] + "-1", pod_name[:45] + "-2"
    pods.add(first, second)
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "spread-me"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    labels = {"app": "spread-me"}
    mp.apply(json.dumps(pod(first, ctr("main", SLEEP), labels=labels, affinity=anti)))
    runs(mp, first)
    mp.apply(json.dumps(pod(second, ctr("main", SLEEP), labels=labels, affinity=anti)))
    waits_with(mp, second, "node(s) didn't match pod anti-affinity rules")
    mp.run("delete", "pod", first, "--grace-period", "0")
    runs(mp, second)


def test_required_pod_affinity_waits_for_its_partner(mp, pods, pod_name):
    partner = pod_name[:40] + "-db"
    pods.add(pod_name, partner)
    affinity = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "db-partner"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    mp.apply(json.dumps(pod(pod_name, ctr("main", SLEEP), affinity=affinity)))
    waits_with(mp, pod_name, "node(s) didn't match pod affinity rules")
    mp.apply(json.dumps(pod(partner, ctr("main", SLEEP), labels={"app": "db-partner"})))
    runs(mp, pod_name)


def test_topology_spread_with_min_domains_on_one_node(mp, pods, pod_name):
    first, second = pod_name[:45] + "-1", pod_name[:45] + "-2"
    pods.add(first, second)
    spread = [
        {
            "maxSkew": 1,
            "minDomains": 2,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "spread-two"}},
        }
    ]
    for name in (first, second):
        mp.apply(
            json.dumps(
                pod(name, ctr("main", SLEEP), labels={"app": "spread-two"}, topologySpreadConstraints=spread)
            )
        )
    runs(mp, first)
    waits_with(mp, second, "node(s) didn't match pod topology spread constraints")


def test_a_taken_host_port_keeps_the_second_pod_pending(mp, pods, pod_name):
    first, second = pod_name[:45] + "-1", pod_name[:45] + "-2"
    pods.add(first, second)
    port = [{"containerPort": 8080, "hostPort": 31977}]
    mp.apply(json.dumps(pod(first, ctr("main", SLEEP, ports=port))))
    runs(mp, first)
    mp.apply(json.dumps(pod(second, ctr("main", SLEEP, ports=port))))
    waits_with(mp, second, "node(s) didn't have free ports for the requested pod ports")
    mp.run("delete", "pod", first, "--grace-period", "0")
    runs(mp, second)


def test_a_high_priority_pod_preempts_a_low_priority_one(mp, pods, pod_name):
    low, high = pod_name[:40] + "-low", pod_name[:40] + "-high"
    pods.add(low, high)
    node = json.loads(kubectl(mp, "get", "node", node_name(mp), "-o", "json").stdout)
    memory_ki = int(node["status"]["allocatable"]["memory"].removesuffix("Ki"))
    classes = [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": n}, "value": v}
        for n, v in (("test-low", 10), ("test-high", 1000))
    ]
    for c in classes:
        kubectl(mp, "apply", "-f", "-", input=json.dumps(c))
    try:

        def big(name: str, cls: str) -> dict:
            resources = {"requests": {"memory": f"{memory_ki * 6 // 10}Ki"}}
            return pod(
                name,
                ctr("main", SLEEP, resources=resources),
                priorityClassName=cls,
                terminationGracePeriodSeconds=1,
            )

        mp.apply(json.dumps(big(low, "test-low")))
        assert runs(mp, low)["spec"]["priority"] == 10
        mp.apply(json.dumps(big(high, "test-high")))
        p = runs(mp, high)
        assert p["spec"]["priority"] == 1000
        assert mp.run("get", "pod", low, check=False).returncode == 1  # preempted and gone
        events = json.loads(
            kubectl(
                mp, "get", "events", "--field-selector", f"involvedObject.name={low}", "-o", "json"
            ).stdout
        )["items"]
        preempted = [e for e in events if e["reason"] == "Preempted"]
        assert (
            preempted
            and preempted[0]["message"] == f"Preempted by pod {p['metadata']['uid']} on node {node_name(mp)}"
        )
    finally:
        kubectl(mp, "delete", "priorityclass", "test-low", "test-high", "--ignore-not-found")


def test_priority_classes_are_served_with_the_two_system_ones(mp, pods, pod_name):
    out = kubectl(mp, "get", "priorityclasses").stdout.splitlines()
    assert out[0].split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert rows["system-node-critical"][1:3] == ["2000001000", "false"]
    assert rows["system-cluster-critical"][1] == "2000000000"
    bad = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "huge"},
        "value": 2000000000,
    }
    r = kubectl(mp, "apply", "-f", "-", input=json.dumps(bad), check=False)
    assert r.returncode == 1 and "maximum allowed value of a user defined priority is 1000000000" in r.stderr
    r = mp.run(
        "apply",
        "-f",
        "-",
        input=json.dumps(pod(pod_name, ctr("main", SLEEP), priorityClassName="nope")),
        check=False,
    )
    assert r.returncode == 1
    assert f'pods "{pod_name}" is forbidden: no PriorityClass with name nope was found' in r.stderr
    assert mp.run("get", "pod", pod_name, check=False).returncode == 1


def test_the_minipod_cli_labels_taints_and_cordons_the_node(mp, pods, pod_name):
    node = node_name(mp)
    pods.add(pod_name)
    try:
        assert mp.run("label", "node", node, "tier=gold").stdout == f"node/{node} labeled\n"
        assert mp.run("taint", "node", node, "team=a:NoSchedule").stdout == f"node/{node} tainted\n"
        assert mp.run("cordon", node).stdout == f"node/{node} cordoned\n"
        got = json.loads(kubectl(mp, "get", "node", node, "-o", "json").stdout)
        assert got["metadata"]["labels"]["tier"] == "gold" and got["spec"]["unschedulable"] is True
        assert {"key": "team", "value": "a", "effect": "NoSchedule"} in got["spec"]["taints"]
        toleration = {"key": "team", "operator": "Exists"}
        unschedulable = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}
        mp.apply(
            json.dumps(
                pod(
                    pod_name,
                    ctr("main", SLEEP),
                    nodeSelector={"tier": "gold"},
                    tolerations=[toleration, unschedulable],
                )
            )
        )
        runs(mp, pod_name)  # it tolerates all three
    finally:
        mp.run("uncordon", node, check=False)
        mp.run("taint", "node", node, "team-", check=False)
        mp.run("label", "node", node, "tier-", check=False)
    got = json.loads(kubectl(mp, "get", "node", node, "-o", "json").stdout)
    assert "tier" not in got["metadata"]["labels"] and not got["spec"].get("taints")
    assert not got["spec"].get("unschedulable")


def test_node_labels_from_the_daemon_flag(pod_name, tmp_path):
    from helpers.instance import MINIPOD, running_instance

    with running_instance("node-labels", ["--node-labels", "topology.kubernetes.io/zone=lab-a"]) as inst:
        labels = json.loads(inst.run("get", "nodes", "-o", "json").stdout)["items"][0]["metadata"]["labels"]
        assert labels["topology.kubernetes.io/zone"] == "lab-a"
        inst.apply(
            json.dumps(
                pod(pod_name, ctr("main", SLEEP), nodeSelector={"topology.kubernetes.io/zone": "lab-a"})
            )
        )
        inst.wait_for(pod_name, lambda p: p["status"]["phase"] == "Running", what="Running")
        inst.run("delete", "pod", pod_name, "--grace-period", "0")
    args = [MINIPOD, "--root", str(tmp_path), "daemon", "--node-labels", "Bad Key=1"]
    bad = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "--node-labels: invalid label 'Bad Key=1'" in bad.stderr, bad.stderr


def test_kubectl_drain_cordons_and_evicts(fresh_mp, pod_name):
    # An instance of its own: a drain evicts every pod of the node.
    mp = fresh_mp
    node = node_name(mp)
    mp.apply(json.dumps(pod(pod_name, ctr("main", SLEEP), terminationGracePeriodSeconds=1)))
    runs(mp, pod_name)
    try:
        r = kubectl(
            mp, "drain", node, "--force", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s"
        )
        assert f"pod/{pod_name} evicted" in r.stdout, r.stdout + r.stderr
        assert (
            json.loads(kubectl(mp, "get", "node", node, "-o", "json").stdout)["spec"]["unschedulable"] is True
        )
        assert mp.run("get", "pod", pod_name, check=False).returncode == 1
    finally:
        kubectl(mp, "uncordon", node)


def test_waiting_pods_go_in_priority_order_and_never_does_not_preempt(mp, pods, pod_name):
    filler, low, high = pod_name[:40] + "-fill", pod_name[:40] + "-low", pod_name[:40] + "-high"
    pods.add(filler, low, high)
    memory_ki = int(
        json.loads(kubectl(mp, "get", "node", node_name(mp), "-o", "json").stdout)["status"]["allocatable"][
            "memory"
        ].removesuffix("Ki")
    )
    polite = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "test-polite"},
        "value": 500,
        "preemptionPolicy": "Never",
    }
    kubectl(mp, "apply", "-f", "-", input=json.dumps(polite))
    try:

        def big(name: str, **spec) -> dict:
            resources = {"requests": {"memory": f"{memory_ki * 6 // 10}Ki"}}
            return pod(name, ctr("main", SLEEP, resources=resources), terminationGracePeriodSeconds=0, **spec)

        mp.apply(json.dumps(big(filler)))
        runs(mp, filler)
        mp.apply(json.dumps(big(low)))  # first in line by time...
        waits_with(mp, low, "Insufficient memory")
        mp.apply(json.dumps(big(high, priorityClassName="test-polite")))  # ...but this one is more important
        waits_with(mp, high, "Insufficient memory")
        assert mp.pod(filler)["metadata"].get("deletionTimestamp") is None  # Never: it preempted nobody
        assert mp.pod(high)["spec"]["preemptionPolicy"] == "Never"
        mp.run("delete", "pod", filler, "--grace-period", "0")
        runs(mp, high)
        waits_with(mp, low, "Insufficient memory")
    finally:
        kubectl(mp, "delete", "priorityclass", "test-polite", "--ignore-not-found")
