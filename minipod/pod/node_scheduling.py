"""The scheduler and the taint manager at work on this node: the thin side
of scheduler.py (which decides) and kube/taints.py.

NodeView is what the Node object and the Namespaces say, as the object
store hands it over (objects/cluster.py sets PodManager.node_view); the
pod layer never reads the store itself.

run_scheduler(manager), each time something that could change an answer
changes (a pod created or gone, resources freed, the Node relabelled,
tainted or cordoned, a Namespace relabelled):
    1. build the node as the filters see it: this host, its allocatable,
       the Node object's labels, taints and spec.unschedulable;
    2. schedule_pending(); wake every pod admitted;
    3. for each preemption: the victims get the DisruptionTarget condition
       and the scheduler's "Preempted" event, and are deleted gracefully;
       the preemptor waits, nominated (status.nominatedNodeName).

TaintManager.node_changed(taints), the NoExecute taint manager:
    1. for each pod on the node, eviction_delay(): a pod that does not
       tolerate a NoExecute taint goes now; one that tolerates it for
       tolerationSeconds goes that long after the taint was added;
    2. a timer per pod; a taint removed or tolerated cancels its timer;
    3. at the deadline: the DisruptionTarget condition, the
       TaintManagerEviction event, and a graceful delete.
"""

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field

from minipod.kube import taints as taint_rules
from minipod.kube.preemption import VICTIM_MESSAGE, VICTIM_REASON
from minipod.kube.times import parse_rfc3339, rfc3339
from minipod.pod import admission, scheduler
from minipod.pod.record import Disruption


@dataclass(frozen=True)
class NodeView:
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict, ...] = ()
    unschedulable: bool = False
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)


def run_scheduler(manager) -> None:
    view: NodeView = manager.node_view()
    node = dataclasses.replace(  # 1
        admission.this_node(),
        allocatable=manager.node_facts.allocatable,
        labels=view.labels,
        taints=view.taints,
        unschedulable=view.unschedulable,
    )
    outcome = scheduler.schedule_pending(  # 2
        list(manager.workers.values()),
        node,
        manager.node.allowed_unsafe_sysctls,
        view.namespace_labels,
        manager.volume_check,
    )
    for w in outcome.admitted:
        w.save()
        w.wake.set()
    for preemptor, victims in outcome.preemptions:  # 3
        preemptor.save()
        for v in victims:
            v.rt.disruption = Disruption(VICTIM_REASON, VICTIM_MESSAGE, rfc3339())
            v.event(
                "Normal",
                "Preempted",
                f"Preempted by pod {preemptor.record.metadata['uid']} on node {node.name}",
            )
            manager.begin_delete(*v.record.key)


class TaintManager:
    def __init__(self, manager):
        self.m = manager
        self.timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def node_changed(self, taints: tuple[dict, ...]) -> None:
        no_execute = [t for t in taints if t.get("effect") == "NoExecute"]
        now = time.time()
        for key, w in list(self.m.workers.items()):
            if w.record.metadata.get("deletionTimestamp") or not scheduler.holds_resources(w.record):
                self._cancel(key)
                continue
            delay = taint_rules.eviction_delay(w.record.pod, no_execute)  # 1
            if delay is None:
                self._cancel(key)  # 2
                continue
            added = min((_added(t, now) for t in no_execute), default=now)
            at = added + delay if delay > 0 else now
            if key in self.timers:
                continue  # already counting down
            loop = asyncio.get_running_loop()
            self.timers[key] = loop.call_later(max(0.0, at - now), self._evict, key)

    def _cancel(self, key: tuple[str, str]) -> None:
        timer = self.timers.pop(key, None)
        if timer is not None:
            timer.cancel()
            w = self.m.workers.get(key)
            if w is not None:
                w.event("Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key[0]}/{key[1]}")

    def _evict(self, key: tuple[str, str]) -> None:  # 3
        self.timers.pop(key, None)
        w = self.m.workers.get(key)
        if w is None or w.record.metadata.get("deletionTimestamp"):
            return
        w.rt.disruption = Disruption(
            "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint", rfc3339()
        )
        w.event("Normal", "TaintManagerEviction", f"Marking for deletion Pod {key[0]}/{key[1]}")
        self.m.begin_delete(*key)


def _added(taint: dict, now: float) -> float:
    stamp = taint.get("timeAdded")
    if not stamp:
        return now
    try:
        return parse_rfc3339(stamp)
    except ValueError:
        return now
