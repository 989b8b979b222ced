"""Which pods to preempt so a higher-priority pod fits: the scheduler's
DefaultPreemption (SelectVictimsOnNode), pure, for the one node.

select_victims(), in order:
    1. a pod with preemptionPolicy Never preempts nobody;
    2. the candidates are the node's pods of lower priority; with all of
       them gone the pod must fit (if not, preemption does not help);
    3. reprieve as many as possible: candidates are put back, the most
       important first (higher priority, then the longer running), and
       each one that still leaves room for the pod stays;
    4. the victims are the candidates not reprieved.
Only resources are weighed (NodeResourcesFit): a pod refused by another
filter (affinity, taints, ports) is not helped by preemption here.
"""

from dataclasses import dataclass

from minipod.kube.admission import unschedulable_reasons
from minipod.kube.resources import ResourceList

VICTIM_REASON = "PreemptionByScheduler"
VICTIM_MESSAGE = "default-scheduler: preempting to accommodate a higher priority pod"


@dataclass(frozen=True)
class Running:
    key: tuple[str, str]  # (namespace, name)
    priority: int
    requests: ResourceList
    started: float  # epoch seconds


def _sum(pods: list[Running]) -> ResourceList:
    total: ResourceList = {}
    for p in pods:
        for k, v in p.requests.items():
            total[k] = total.get(k, 0) + v
    return total


def fits(request: ResourceList, allocatable: ResourceList, staying: list[Running]) -> bool:
    return not unschedulable_reasons(request, allocatable, _sum(staying), len(staying))


def select_victims(
    priority: int,
    policy: str,
    request: ResourceList,
    allocatable: ResourceList,
    running: list[Running],
) -> list[Running] | None:
    """The pods to preempt, or None when preemption cannot make room."""
    if policy == "Never":  # 1
        return None
    candidates = [p for p in running if p.priority < priority]  # 2
    staying = [p for p in running if p.priority >= priority]
    if not candidates or not fits(request, allocatable, staying):
        return None
    victims = []
    for p in sorted(candidates, key=lambda p: (-p.priority, p.started)):  # 3
        if fits(request, allocatable, [*staying, p]):
            staying.append(p)
        else:
            victims.append(p)
    return victims or None  # 4
