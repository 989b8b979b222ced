"""May this node run a pod? The checks a one-node cluster makes before a
kubelet starts anything, as pure functions.

admit(pod, node) goes through them in the order a cluster does, and
returns the first refusal (or None):
    1. scheduling gates: a pod with spec.schedulingGates is not looked at
       by the scheduler at all (PodScheduled=False, reason SchedulingGated);
    2. the scheduler's filters, for the one node there is, in its order. A
       refusal keeps the pod Pending, with PodScheduled=False, reason
       Unschedulable and the scheduler's message
       (minipod.kube.admission.scheduler_message):
         NodeUnschedulable the node is cordoned (kube/taints.py);
         NodeName          spec.nodeName names another node, whose kubelet
                           would run it (there is none here);
         TaintToleration   a NoSchedule/NoExecute taint the pod does not
                           tolerate (kube/taints.py);
         NodeAffinity      nodeSelector, required nodeAffinity
                           (kube/node_affinity.py);
         NodePorts         a hostPort another pod of the node holds;
         NodeResourcesFit  the pod's requests (cpu, memory, ephemeral-storage,
                           extended resources such as example.com/dongle)
                           do not fit in what is left of the node's
                           allocatable, or the node has its `pods` already
                           (minipod.kube.admission.unschedulable_reasons);
         VolumeBinding,    the pod's PersistentVolumeClaims exist, are
         VolumeRestrictions  bound (or wait for their first consumer:
                           WAITING_FOR_VOLUMES) and no other pod holds a
                           ReadWriteOncePod one (minipod.storage);
         PodTopologySpread, InterPodAffinity  (kube/pod_affinity.py);
    3. the kubelet's admission: a refusal makes the pod Failed with the
       handler's reason (SysctlForbidden: an unsafe sysctl; AppArmor: a
       profile this host cannot enforce).
A Node without `allocatable` (unit tests of the other filters) has only
its extended resources counted.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from minipod.kube import node_affinity, pod_affinity, resources, taints
from minipod.kube.admission import scheduler_message, unschedulable_reasons
from minipod.kube.security_context import APPARMOR_REASON, apparmor_refusal
from minipod.kube.sysctls import FORBIDDEN_REASON, forbidden_sysctl

UNSCHEDULABLE = "Unschedulable"
# Not a refusal: the pod is placed, and waits for its volumes to be
# provisioned (the scheduler's PreBind); its status does not change.
WAITING_FOR_VOLUMES = "WaitingForVolumeBinding"
SCHEDULING_GATED = "SchedulingGated"


@dataclass(frozen=True)
class Node:
    name: str
    # Extended resources the node advertises (a device plugin would add
    # them); minipod has none.
    extended: dict[str, int] = field(default_factory=dict)
    apparmor: bool = False  # is AppArmor enabled on the host?
    # cpu, memory, ephemeral-storage, pods (pod/node.py); None: not counted.
    allocatable: dict[str, int] | None = None
    # What the Node object says (labels, spec.taints, spec.unschedulable).
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict, ...] = ()
    unschedulable: bool = False


@dataclass(frozen=True)
class Others:
    """The rest of the node, as the scheduler's filters see it: the pods
    that hold a place on it, and the labels of every namespace."""

    pods: tuple[dict, ...] = ()
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    phase: str  # "Pending": the scheduler holds it; "Failed": the kubelet rejected it
    reason: str
    message: str


def node_name() -> str:
    """This node's name, as a kubelet names its node: the hostname, lowercased."""
    return os.uname().nodename.strip().lower()


def this_node() -> Node:
    return Node(name=node_name(), apparmor=_apparmor_enabled())


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def is_extended_resource(name: str) -> bool:
    """Kubernetes' IsExtendedResourceName: a domain-qualified name outside
    kubernetes.io (example.com/dongle, nvidia.com/gpu)."""
    if "/" not in name or name.startswith("requests."):
        return False
    domain = name.split("/", 1)[0]
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def extended_requests(pod: dict) -> dict[str, int]:
    """What the pod asks of each extended resource, counted as the
    scheduler counts requests (minipod.kube.resources.pod_requests)."""
    wanted = resources.pod_requests(pod.get("spec") or {})
    return {k: v for k, v in wanted.items() if is_extended_resource(k) and v > 0}


def unschedulable(*reasons: str) -> Refusal:
    """The scheduler's refusal when its one node fails a filter."""
    return Refusal("Pending", UNSCHEDULABLE, scheduler_message(list(reasons)))


def admit(
    pod: dict,
    node: Node,
    allowed_unsafe_sysctls: tuple[str, ...] = (),
    allocated: dict[str, int] | None = None,
    pod_count: int = 0,
    others: Others | None = None,
    volume_check: Callable[[dict], Refusal | None] | None = None,
) -> Refusal | None:
    """`allocated`: the summed requests of the `pod_count` pods the node
    already runs (pod/scheduler.py counts them); `others`: those pods;
    `volume_check`: the scheduler's volume plugins (minipod.storage.pod_claims)."""
    spec = pod.get("spec") or {}
    others = others or Others()
    # Step 1: the API server's condition for a gated pod.
    if spec.get("schedulingGates"):
        return Refusal("Pending", SCHEDULING_GATED, "Scheduling is blocked due to non-empty scheduling gates")
    # Step 2: the scheduler's filters, in its order; the first failure counts.
    if node.unschedulable and taints.unschedulable_blocks(pod):
        return unschedulable(taints.UNSCHEDULABLE_REASON)
    if spec.get("nodeName") and spec["nodeName"] != node.name:
        return unschedulable("node(s) didn't match the requested node name")
    taint = taints.untolerated(pod, list(node.taints))
    if taint is not None:
        return unschedulable(taints.taint_reason(taint))
    if not node_affinity.accepts(pod, node.name, node.labels):
        return unschedulable(node_affinity.REASON)
    if host_port_conflict(pod, others.pods):
        return unschedulable(HOST_PORTS_REASON)
    refusal = _resources_refusal(pod, spec, node, allocated, pod_count)
    if refusal is not None:
        return refusal
    if volume_check is not None:
        volumes = volume_check(pod)
        if volumes is not None:
            return volumes
    reason = pod_affinity.spread_reason(pod, node.labels, list(others.pods)) or pod_affinity.affinity_reason(
        pod, node.labels, list(others.pods), others.namespace_labels
    )
    if reason:
        return unschedulable(reason)
    # Step 3: the kubelet's admission handlers.
    sysctl = forbidden_sysctl(pod, allowed_unsafe_sysctls)
    if sysctl:
        return Refusal("Failed", FORBIDDEN_REASON, sysctl)
    apparmor = apparmor_refusal(pod, node.apparmor)
    if apparmor:
        return Refusal("Failed", APPARMOR_REASON, apparmor)
    return None


def _resources_refusal(
    pod: dict, spec: dict, node: Node, allocated: dict[str, int] | None, pod_count: int
) -> Refusal | None:
    """NodeResourcesFit."""
    if node.allocatable is not None:
        reasons = unschedulable_reasons(
            resources.pod_requests(spec), {**node.allocatable, **node.extended}, allocated or {}, pod_count
        )
        if reasons:
            return unschedulable(*reasons)
    else:
        missing = sorted(k for k, v in extended_requests(pod).items() if node.extended.get(k, 0) < v)
        if missing:
            return unschedulable(*(f"Insufficient {k}" for k in missing))
    return None


HOST_PORTS_REASON = "node(s) didn't have free ports for the requested pod ports"


def host_ports(pod: dict) -> list[tuple[str, str, int]]:
    """(protocol, hostIP, hostPort) of every port the pod asks of the node."""
    out = []
    spec = pod.get("spec") or {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append((p.get("protocol") or "TCP", p.get("hostIP") or "0.0.0.0", int(p["hostPort"])))
    return out


def host_port_conflict(pod: dict, others: tuple[dict, ...]) -> bool:
    """NodePorts: the same port and protocol on the same address, where
    0.0.0.0 is every address."""
    wanted = host_ports(pod)
    if not wanted:
        return False
    for other in others:
        for proto, ip, port in host_ports(other):
            for w_proto, w_ip, w_port in wanted:
                same_port = (proto, port) == (w_proto, w_port)
                if same_port and (ip == w_ip or "0.0.0.0" in (ip, w_ip)):
                    return True
    return False
