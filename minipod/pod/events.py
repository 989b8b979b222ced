"""Events: what happened to each pod, as `kubectl get events` shows it.

Each event is a v1 Event (type Normal/Warning, reason, message, the object
and container it is about, first/last time and a count). Repeats of the same
(object, reason, message) bump the count instead of adding a line, as the
kubelet's event recorder does. The most recent MAX_EVENTS are kept, and
saved atomically so `describe` still shows them after a daemon restart.
"""

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from minipod.fsutil import read_json, write_json_atomic
from minipod.kube.times import rfc3339

MAX_EVENTS = 1000
MAX_MESSAGE = 1024  # characters of an event's message, as the API server's NoteLengthLimit

# Who reports an event, as a cluster's `describe` shows it in "From": the
# scheduler binds pods (or fails to), the kubelet does everything else.
SCHEDULER = "default-scheduler"
KUBELET = "kubelet"
_SCHEDULER_REASONS = frozenset({"Scheduled", "FailedScheduling"})


def source_of(reason: str) -> str:
    """The component that reports an event with this reason."""
    return SCHEDULER if reason in _SCHEDULER_REASONS else KUBELET


class EventRecorder:
    def __init__(self, lib_dir: str):
        self.path = os.path.join(lib_dir, "events.json")
        self.events: list[dict[str, Any]] = read_json(self.path, [])
        self._dirty = False
        self._watchers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._flush_handle: asyncio.TimerHandle | None = None
        self.listeners: list[
            Callable[[dict[str, Any]], None]
        ] = []  # callables(event): the API's object store

    def record(
        self,
        pod: dict[str, Any],
        etype: str,
        reason: str,
        message: str,
        container: str | None = None,
        component: str | None = None,
    ) -> None:
        """An event about a pod, or about another namespaced object (a
        PersistentVolumeClaim: its kind and apiVersion are the object's),
        reported by `component` (the controller a cluster would name)."""
        meta = pod["metadata"]
        obj = {
            "kind": pod.get("kind") or "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": pod.get("apiVersion") or "v1",
        }
        if container:
            obj["fieldPath"] = f"spec.containers{{{container}}}"
        if len(message) > MAX_MESSAGE:
            # The API server refuses longer event notes; a message quoting a
            # huge bad value must not make every kept event that big.
            message = message[: MAX_MESSAGE - 3] + "..."
        now = rfc3339()
        for ev in reversed(self.events[-50:]):
            # (.get: events made through the API need not look like ours)
            if (
                ev.get("involvedObject") == obj
                and ev.get("reason") == reason
                and ev.get("message") == message
            ):
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = now
                self._changed(ev)
                return
        ev = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                # NAME.HEX-NANOSECONDS, as client-go names events: they sort by time.
                "name": f"{meta['name']}.{time.time_ns() + len(self.events):x}",
                "namespace": meta["namespace"],
                "creationTimestamp": now,
            },
            "involvedObject": obj,
            "type": etype,
            "reason": reason,
            "message": message,
            "source": {"component": component or source_of(reason)},
            "reportingComponent": component or source_of(reason),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.events.append(ev)
        del self.events[:-MAX_EVENTS]
        self._changed(ev)

    def _changed(self, ev: dict[str, Any]) -> None:
        self._dirty = True
        for listener in self.listeners:
            listener(ev)
        for q in self._watchers:
            q.put_nowait(ev)
        # Batch the disk writes: a burst of 50 pods makes hundreds of events.
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_handle = loop.call_later(0.5, self.flush)

    def flush(self) -> None:
        self._flush_handle = None
        if self._dirty:
            self._dirty = False
            write_json_atomic(self.path, self.events)

    def for_pod(self, namespace: str, name: str, uid: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["involvedObject"]["namespace"] == namespace
            and e["involvedObject"]["name"] == name
            and e["involvedObject"].get("kind", "Pod") == "Pod"
            and (uid is None or e["involvedObject"]["uid"] == uid)
        ]

    def watch(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._watchers.add(q)
        return q

    def unwatch(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._watchers.discard(q)


class PodEvents:
    """The events of one pod: its involvedObject filled in, and the pod and
    container named in the daemon's log for every warning."""

    def __init__(
        self, recorder: EventRecorder, pod: dict[str, Any], log: Callable[[str], None] | None = None
    ) -> None:
        self.recorder, self.pod, self.log = recorder, pod, log

    def emit(self, etype: str, reason: str, message: str, container: str | None = None) -> None:
        self.recorder.record(self.pod, etype, reason, message, container)
        if self.log is not None and etype == "Warning":
            meta = self.pod["metadata"]
            where = f"pod {meta['namespace']}/{meta['name']}" + (
                f": container {container}" if container else ""
            )
            self.log(f"{where}: {reason}: {message}")
