"""Events in the object store, backed by the runtime's event recorder
(pod/events.py), which keeps the most recent ones across restarts.

Every event the recorder records or counts again comes here and gets a
uid and a resourceVersion, so `kubectl get events -w` sees it. Events a
client creates (a controller's) go into the recorder too.

events.k8s.io/v1 serves the same events in their newer shape
(to_events_v1()): regarding, note, reportingController, ...
"""

import copy

from minipod.objects import meta as objmeta
from minipod.objects.errors import invalid
from minipod.objects.resources import builtin


class EventBackend:
    def __init__(self, store, recorder):
        self.store, self.recorder = store, recorder
        self.res = builtin("", "v1", "events")
        recorder.listeners.append(self.recorded)
        for ev in recorder.events:
            self.recorded(ev)

    def recorded(self, ev: dict) -> None:
        ev["metadata"].setdefault("uid", objmeta.new_uid())
        ev["metadata"].pop("resourceVersion", None)
        ev["metadata"]["resourceVersion"] = self.store.track(self.res, ev)

    def create(self, res, obj: dict, dry_run: bool) -> dict:
        if res.group == "events.k8s.io":
            obj = from_events_v1(obj)
        check_involved_object(obj)
        obj.setdefault("count", 1)
        obj.setdefault("firstTimestamp", obj["metadata"]["creationTimestamp"])
        obj.setdefault("lastTimestamp", obj["metadata"]["creationTimestamp"])
        if not dry_run:
            self.recorder.events.append(obj)
            self.recorder._changed(obj)
        return obj

    def update(self, res, old: dict, new: dict, dry_run: bool) -> dict:
        if res.group == "events.k8s.io":
            new = from_events_v1(new)
        check_involved_object(new)
        if not dry_run:
            for i, ev in enumerate(self.recorder.events):
                if ev["metadata"].get("uid") == old["metadata"].get("uid"):
                    self.recorder.events[i] = new
                    self.recorder._changed(new)
        return new

    def delete(self, res, old: dict, grace, dry_run: bool) -> tuple[dict, bool]:
        if not dry_run:
            uid = old["metadata"].get("uid")
            self.recorder.events[:] = [e for e in self.recorder.events if e["metadata"].get("uid") != uid]
            self.recorder._dirty = True
            self.recorder.flush()
            self.store.untrack(self.res, old["metadata"]["namespace"], old["metadata"]["name"])
        return old, True


def to_events_v1(ev: dict) -> dict:
    """A core/v1 Event as events.k8s.io/v1 shows it."""
    out = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": copy.deepcopy(ev["metadata"]),
        "eventTime": ev.get("eventTime"),
        "reason": ev.get("reason"),
        "regarding": ev.get("involvedObject"),
        "note": ev.get("message"),
        "type": ev.get("type"),
        "reportingController": ev.get("reportingComponent") or (ev.get("source") or {}).get("component", ""),
        "reportingInstance": ev.get("reportingInstance") or (ev.get("source") or {}).get("host", ""),
        "deprecatedSource": ev.get("source"),
        "deprecatedFirstTimestamp": ev.get("firstTimestamp"),
        "deprecatedLastTimestamp": ev.get("lastTimestamp"),
        "deprecatedCount": ev.get("count"),
    }
    return {k: v for k, v in out.items() if v is not None}


def from_events_v1(ev: dict) -> dict:
    out = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": ev["metadata"],
        "involvedObject": ev.get("regarding") or {},
        "reason": ev.get("reason", ""),
        "message": ev.get("note", ""),
        "type": ev.get("type", "Normal"),
        "eventTime": ev.get("eventTime"),
        "reportingComponent": ev.get("reportingController", ""),
        "reportingInstance": ev.get("reportingInstance", ""),
        "source": {"component": ev.get("reportingController", "")},
        "count": ev.get("deprecatedCount") or 1,
    }
    return {k: v for k, v in out.items() if v is not None}


def check_involved_object(ev: dict) -> None:
    """The API server's check of a core/v1 Event: its involvedObject is an
    object in the event's own namespace."""
    involved = ev.get("involvedObject")
    ns = ev["metadata"].get("namespace") or ""
    theirs = involved.get("namespace", "") if isinstance(involved, dict) else ""
    if not isinstance(involved, dict) or (theirs and theirs != ns) or (not theirs and ns != "default"):
        cause = (
            "FieldValueInvalid",
            "involvedObject.namespace",
            f'Invalid value: "{theirs}": does not match event.namespace',
        )
        raise invalid("Event", ev["metadata"].get("name", ""), [cause])
