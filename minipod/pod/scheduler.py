"""Admitting pods onto the node, as the scheduler and the kubelet do.

A new pod starts only once admission.py says this node may run it: its
requests fit in what is left of the node's allocatable, and the other
filters pass. Until then it stays Pending with PodScheduled=False, reason
Unschedulable and the scheduler's message; a kubelet refusal (an unsafe
sysctl) makes it Failed for good. Steps of schedule_pending(), run when a
pod is created and whenever one stops holding resources:
    1. count the requests of every admitted pod that still holds them
       (not Succeeded or Failed; a pod being deleted holds them until it
       is gone);
    2. take the waiting pods in creation order; admit each one that fits,
       counting it at once: bind it to the node (spec.nodeName) and record
       the Scheduled event; keep the others waiting, with one
       FailedScheduling event per new message.
"""

from minipod.kube import resources
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
            for k, v in resources.pod_requests(record.spec).items():
                total[k] = total.get(k, 0) + v
    return total, count


def waiting(record: PodRecord) -> bool:
    rt = record.runtime
    rejected = rt.refusal is not None and rt.refusal.phase == "Failed"
    return rt.scheduled is False and not rejected and not record.metadata.get("deletionTimestamp")


def schedule_pending(
    workers: list, node: admission.Node, allowed_unsafe_sysctls: tuple = (), volume_check=None
) -> list:
    """Step 2; returns the workers admitted now (to be woken). volume_check:
    the scheduler's volume plugins (minipod.storage), pod -> Refusal | None."""
    used, count = allocated([w.record for w in workers])
    admitted = []
    for w in sorted((w for w in workers if waiting(w.record)), key=lambda w: w.rt.created_epoch or 0):
        refusal = admission.admit(w.record.pod, node, allowed_unsafe_sysctls, used, count, volume_check)
        if refusal is not None and refusal.reason == admission.WAITING_FOR_VOLUMES:
            continue  # the scheduler's PreBind: its volumes are being provisioned
        if refusal is not None:
            if w.rt.refusal != refusal:
                w.rt.refusal = refusal
                w.rt.refusal_since = rfc3339()
                meta = w.record.metadata
                if refusal.phase == "Failed":
                    # Scheduled here, then rejected by this node's kubelet.
                    w.record.spec["nodeName"] = node.name
                    w.event(
                        "Normal",
                        "Scheduled",
                        f"Successfully assigned {meta['namespace']}/{meta['name']} to {node.name}",
                    )
                    w.event("Warning", refusal.reason, refusal.message)
                elif refusal.reason == admission.UNSCHEDULABLE:  # (a gated pod gets no event)
                    w.event("Warning", "FailedScheduling", refusal.message)
                w.save()
            continue
        meta = w.record.metadata
        w.record.spec["nodeName"] = node.name  # bound to this node, as the scheduler does
        w.rt.scheduled, w.rt.refusal = True, None
        w.rt.conditions["PodScheduled"] = Condition(True, rfc3339())
        w.event(
            "Normal", "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to {node.name}"
        )
        for k, v in resources.pod_requests(w.record.spec).items():
            used[k] = used.get(k, 0) + v
        count += 1
        admitted.append(w)
    return admitted
