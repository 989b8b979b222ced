"""May this node run a pod? The checks a one-node cluster makes before a
kubelet starts anything, as pure functions.

admit(pod, node) goes through them in the order a cluster does, and
returns the first refusal (or None):
    1. the scheduler's filters, for the one node there is. A refusal keeps
       the pod Pending, with PodScheduled=False, reason Unschedulable and
       the scheduler's message ("0/1 nodes are available: 1 ...."):
         NodeName          spec.nodeName names another node, whose kubelet
                           would run it (there is none here);
         NodeResourcesFit  the pod requests an extended resource
                           (example.com/dongle) this node does not have;
    2. the kubelet's admission: a refusal makes the pod Failed with the
       handler's reason (SysctlForbidden: an unsafe sysctl).
The resources and scheduling work adds its filters to step 1, in the
scheduler's order (NodeUnschedulable, NodeName, TaintToleration,
NodeAffinity, NodePorts, NodeResourcesFit, ...).
"""

import os
from dataclasses import dataclass, field

from minipod.kube.sysctls import FORBIDDEN_REASON, forbidden_sysctl

UNSCHEDULABLE = "Unschedulable"

# Resources a pod may request that are not extended resources: the native
# ones (no domain, or a kubernetes.io domain) and hugepages.
NATIVE_RESOURCES = {"cpu", "memory", "ephemeral-storage", "pods", "storage"}


@dataclass(frozen=True)
class Node:
    name: str
    # Extended resources the node advertises (a device plugin would add
    # them); minipod has none.
    extended: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    phase: str  # "Pending": the scheduler holds it; "Failed": the kubelet rejected it
    reason: str
    message: str


def node_name() -> str:
    """This node's name, as a kubelet names its node: the hostname, lowercased."""
    return os.uname().nodename.strip().lower()


def this_node() -> Node:
    return Node(name=node_name())


def is_extended_resource(name: str) -> bool:
    """Kubernetes' IsExtendedResourceName: a domain-qualified name outside
    kubernetes.io (example.com/dongle, nvidia.com/gpu)."""
    if "/" not in name or name.startswith("requests."):
        return False
    domain = name.split("/", 1)[0]
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def _quantity(value) -> int:
    """Extended resources are whole numbers (validation says so)."""
    try:
        return int(str(value))
    except ValueError:
        return 1


def extended_requests(pod: dict) -> dict[str, int]:
    """What the pod asks of each extended resource, counted as the
    scheduler counts it: the larger of the app containers' sum and the
    largest init container (limits stand for missing requests)."""

    def of(c: dict) -> dict[str, int]:
        res = c.get("resources") or {}
        wanted = dict(res.get("limits") or {}, **(res.get("requests") or {}))
        return {k: _quantity(v) for k, v in wanted.items() if is_extended_resource(k)}

    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for c in spec.get("containers") or []:
        for k, v in of(c).items():
            total[k] = total.get(k, 0) + v
    for c in spec.get("initContainers") or []:
        for k, v in of(c).items():
            total[k] = max(total.get(k, 0), v)
    return {k: v for k, v in total.items() if v > 0}


def unschedulable(*reasons: str) -> Refusal:
    """The scheduler's message when its one node fails a filter: each of
    the filter's reasons counted (one node), sorted."""
    counted = ", ".join(f"1 {r}" for r in sorted(reasons))
    return Refusal("Pending", UNSCHEDULABLE, f"0/1 nodes are available: {counted}.")


def admit(pod: dict, node: Node) -> Refusal | None:
    spec = pod.get("spec") or {}
    # Step 1: the scheduler's filters, in its order; the first failure counts.
    if spec.get("nodeName") and spec["nodeName"] != node.name:
        return unschedulable("node(s) didn't match the requested node name")
    missing = sorted(k for k, v in extended_requests(pod).items() if node.extended.get(k, 0) < v)
    if missing:
        return unschedulable(*(f"Insufficient {k}" for k in missing))
    # Step 2: the kubelet's admission handlers.
    sysctl = forbidden_sysctl(pod)
    if sysctl:
        return Refusal("Failed", FORBIDDEN_REASON, sysctl)
    return None
