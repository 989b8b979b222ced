"""Admitting pods onto the node, as the scheduler and the kubelet do.

A new pod starts only once admission.py says this node may run it: every
filter of the scheduler passes (taints, affinity, ports, resources...).
Until then it stays Pending with PodScheduled=False, reason Unschedulable
and the scheduler's message; a kubelet refusal (an unsafe sysctl) makes
it Failed for good. Steps of schedule_pending(), run when a pod is
created, when one stops holding resources, and when the Node or a
Namespace changes:
    1. count the requests of every admitted pod that still holds them
       (not Succeeded or Failed; a pod being deleted holds them until it
       is gone), and keep those pods for the filters that look at others
       (ports, affinity, topology spread);
    2. take the waiting pods as the scheduling queue orders them: higher
       spec.priority first, then creation order;
    3. admit each one that passes, counting it at once: bind it to the
       node (spec.nodeName) and record the Scheduled event;
    4. a pod refused for lack of resources may preempt pods of lower
       priority (kube/preemption.py): it is nominated to the node, the
       victims are returned to be deleted, and what it needs is set
       aside so that no lower-priority pod takes the room meanwhile;
    5. keep the others waiting, with one FailedScheduling event per new
       message.
"""

from dataclasses import dataclass, field

from minipod.kube import preemption, resources
from minipod.kube.times import rfc3339
from minipod.pod import admission
from minipod.pod import status as podstatus
from minipod.pod.record import Condition, PodRecord


def holds_resources(record: PodRecord) -> bool:
    rt = record.runtime
    if rt.refusal is not None or rt.scheduled is False:
        return False
    return podstatus.phase(record) not in ("Succeeded", "Failed")


def allocated(records: list[PodRecord]) -> tuple[resources.ResourceList, int]:
    """Step 1: the summed requests of the pods holding resources, and how many."""
    total: resources.ResourceList = {}
    count = 0
    for record in records:
        if holds_resources(record):
            count += 1
            _add(total, resources.pod_requests(record.spec))
    return total, count


def _add(total: resources.ResourceList, more: resources.ResourceList) -> None:
    for k, v in more.items():
        total[k] = total.get(k, 0) + v


def waiting(record: PodRecord) -> bool:
    rt = record.runtime
    rejected = rt.refusal is not None and rt.refusal.phase == "Failed"
    return rt.scheduled is False and not rejected and not record.metadata.get("deletionTimestamp")


def priority(record: PodRecord) -> int:
    return int(record.spec.get("priority") or 0)


@dataclass
class Outcome:
    admitted: list = field(default_factory=list)  # workers to wake
    # (preemptor worker, victim workers): the victims are to be deleted.
    preemptions: list[tuple] = field(default_factory=list)


def schedule_pending(
    workers: list,
    node: admission.Node,
    allowed_unsafe_sysctls: tuple = (),
    namespace_labels: dict[str, dict[str, str]] | None = None,
    volume_check=None,
) -> Outcome:
    """volume_check: the scheduler's volume plugins (minipod.storage), pod -> Refusal | None."""
    outcome = Outcome()
    # A pod admitted can let another in (pod affinity): look again until
    # a pass admits nobody, as the scheduling queue requeues on AssignedPodAdd.
    while _one_pass(workers, node, allowed_unsafe_sysctls, namespace_labels or {}, outcome, volume_check):
        pass
    return outcome


def _one_pass(
    workers: list, node: admission.Node, sysctls: tuple, ns_labels: dict, outcome: Outcome, volume_check
) -> bool:
    """Steps 1-5 once; True if a pod was admitted."""
    queue = sorted(
        (w for w in workers if waiting(w.record)),
        key=lambda w: (-priority(w.record), w.rt.created_epoch or 0),
    )  # 2
    if not queue:
        # Nobody waits (the common case: every delete of a running pod
        # asks again): adding up the requests of every pod would make
        # each delete cost more the more pods run.
        return False
    holding = [w for w in workers if holds_resources(w.record)]  # 1
    used, count = allocated([w.record for w in holding])
    others = admission.Others(tuple(w.record.pod for w in holding), ns_labels)
    admitted_now = False
    for w in queue:
        refusal = admission.admit(w.record.pod, node, sysctls, used, count, others, volume_check)
        if refusal is not None and refusal.reason == admission.WAITING_FOR_VOLUMES:
            continue  # the scheduler's PreBind: its volumes are being provisioned
        if refusal is None:  # 3
            _bind(w, node)
            _add(used, resources.pod_requests(w.record.spec))
            count += 1
            others = admission.Others((*others.pods, w.record.pod), others.namespace_labels)
            outcome.admitted.append(w)
            admitted_now = True
            continue
        if _for_lack_of_resources(refusal) and node.allocatable is not None:  # 4
            victims = _preempt(w, holding, node)
            if victims:
                outcome.preemptions.append((w, victims))
            if w.rt.nominated_node:
                _add(used, resources.pod_requests(w.record.spec))  # its room, set aside
                count += 1
        _keep_waiting(w, refusal, node)  # 5
    return admitted_now


def _bind(w, node: admission.Node) -> None:
    meta = w.record.metadata
    w.record.spec["nodeName"] = node.name  # bound to this node, as the scheduler does
    w.rt.scheduled, w.rt.refusal, w.rt.nominated_node = True, None, None
    w.rt.conditions["PodScheduled"] = Condition(True, rfc3339())
    w.event("Normal", "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {node.name}")


def _for_lack_of_resources(refusal: admission.Refusal) -> bool:
    message = refusal.message
    return refusal.reason == admission.UNSCHEDULABLE and (
        "Insufficient " in message or "Too many pods" in message
    )


def _preempt(w, holding: list, node: admission.Node) -> list:
    """Step 4: the victims for this pod, or [] (none needed, none possible,
    or an earlier preemption of it still under way)."""
    mine = priority(w.record)
    terminating = [
        h for h in holding if h.record.metadata.get("deletionTimestamp") and priority(h.record) < mine
    ]
    if w.rt.nominated_node and terminating:
        return []  # its victims are still going: wait for them, as the scheduler does
    running = [
        preemption.Running(
            h.record.key, priority(h.record), resources.pod_requests(h.record.spec), h.rt.created_epoch or 0
        )
        for h in holding
        if not h.record.metadata.get("deletionTimestamp")
    ]
    policy = w.record.spec.get("preemptionPolicy") or "PreemptLowerPriority"
    assert node.allocatable is not None
    chosen = preemption.select_victims(
        mine, policy, resources.pod_requests(w.record.spec), {**node.allocatable, **node.extended}, running
    )
    if not chosen:
        return []
    keys = {v.key for v in chosen}
    w.rt.nominated_node = node.name
    return [h for h in holding if h.record.key in keys]


def _keep_waiting(w, refusal: admission.Refusal, node: admission.Node) -> None:
    if w.rt.refusal == refusal:
        return
    w.rt.refusal = refusal
    w.rt.refusal_since = rfc3339()
    meta = w.record.metadata
    if refusal.phase == "Failed":
        # Scheduled here, then rejected by this node's kubelet.
        w.record.spec["nodeName"] = node.name
        w.event(
            "Normal", "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {node.name}"
        )
        w.event("Warning", refusal.reason, refusal.message)
    elif refusal.reason == admission.UNSCHEDULABLE:  # (a gated pod gets no event)
        w.event("Warning", "FailedScheduling", refusal.message)
    w.save()
