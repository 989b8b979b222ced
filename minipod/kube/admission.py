"""Does a pod fit on the node? The scheduler's NodeResourcesFit, pure.

The one place that decides admission. Steps of unschedulable_reasons():
    1. `pods`: one more pod must not exceed the node's pod capacity
       ("Too many pods");
    2. every resource the pod requests (its effective requests: see
       resources.pod_requests) must fit in what is left of the node's
       allocatable once the pods already admitted are counted
       ("Insufficient cpu", "Insufficient memory", and the same for
       ephemeral-storage and any extended resource, which a node without
       it has none of).
scheduler_message() writes what the scheduler writes:
    0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.

Standard library only.
"""

from minipod.kube.resources import ResourceList


def unschedulable_reasons(
    request: ResourceList, allocatable: ResourceList, allocated: ResourceList, pod_count: int
) -> list[str]:
    """Why the pod does not fit, sorted; [] when it does. `allocated` is
    the sum of the admitted pods' requests, `pod_count` how many there are."""
    reasons = []
    if pod_count + 1 > allocatable.get("pods", 0):
        reasons.append("Too many pods")
    for name, want in request.items():
        if name == "pods" or want <= 0:
            continue
        if want > allocatable.get(name, 0) - allocated.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return sorted(reasons)


def scheduler_message(reasons: list[str], nodes: int = 1) -> str:
    """FitError.Error(): each reason with the number of nodes it applies to."""
    return f"0/{nodes} nodes are available: " + ", ".join(f"{nodes} {r}" for r in sorted(reasons)) + "."
