"""A pod's record as the JSON file on disk (record.py's step 1 and 3).

    to_json()    the v1 object with its status, and the private "runtime"
                 section: the record's dataclasses as plain dicts (plain())
    from_json()  back into typed records, a previous release's format
                 migrated first (record_migrate.py)

plain() does what dataclasses.asdict() does without its deep copy of
every value: asdict() copies each dict and list it meets (a CNI result,
the CRI's data) with copy.deepcopy, and a pod is saved at every step of
its start. The document is only serialized, never kept, so sharing those
values with the record is safe.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from minipod.pod.admission import Refusal
from minipod.pod.record import (
    VERSION,
    Condition,
    ContainerRecord,
    ContainerState,
    Disruption,
    Network,
    PodRecord,
    PodRuntime,
    Process,
    Terminated,
)

_FIELDS: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    """Dataclasses as dicts of their fields, recursively; lists, tuples and
    dicts walked for the dataclasses in them; anything else as it is (an
    enum.Enum of str stays itself: json writes its value)."""
    cls = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(cls)
        if names is None:
            names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
        return {n: plain(getattr(value, n)) for n in names}
    if cls is list or cls is tuple:
        return [plain(v) for v in value]
    if cls is dict:
        return {k: plain(v) for k, v in value.items()}
    return value


def to_json(record: PodRecord, status: dict[str, Any]) -> dict[str, Any]:
    """The pod file: the v1 object with its status, and the runtime section."""
    doc = dict(record.pod)
    doc["status"] = status
    rt = plain(record.runtime)
    rt["version"] = VERSION
    doc["runtime"] = rt
    return doc


def from_json(doc: dict[str, Any]) -> PodRecord:
    """A pod file, of this release or (migrated) of the previous one."""
    raw = doc.get("runtime") or {}
    pod = {k: v for k, v in doc.items() if k not in ("runtime", "status")}
    if raw.get("version") is None:
        from minipod.pod.record_migrate import migrate_v0

        raw = migrate_v0(raw, doc.get("status") or {})
    return PodRecord(pod=pod, runtime=_runtime(raw))


def _runtime(raw: dict[str, Any]) -> PodRuntime:
    return PodRuntime(
        host_ip=raw.get("host_ip", "127.0.0.1"),
        init=Process(**raw.get("init") or {}),
        init_containers=[_container(c) for c in raw.get("init_containers") or []],
        containers=[_container(c) for c in raw.get("containers") or []],
        start_time=raw.get("start_time"),
        pod_ip=raw.get("pod_ip"),
        network=Network(**raw.get("network") or {}),
        kill_deadline=raw.get("kill_deadline"),
        conditions={k: Condition(**v) for k, v in (raw.get("conditions") or {}).items()},
        refusal=Refusal(**raw["refusal"]) if raw.get("refusal") else None,
        refusal_since=raw.get("refusal_since"),
        scheduled=raw.get("scheduled"),
        created_epoch=raw.get("created_epoch"),
        cgroup=raw.get("cgroup"),
        user_range=raw.get("user_range"),
        nominated_node=raw.get("nominated_node"),
        disruption=Disruption(**raw["disruption"]) if raw.get("disruption") else None,
        origin=raw.get("origin", "api"),
        origin_data=raw.get("origin_data") or {},
        stopped=raw.get("stopped", False),
        remake_lost_sandbox=raw.get("remake_lost_sandbox", True),
        sandbox_ports=raw.get("sandbox_ports") or [],
    )


def _container(raw: dict[str, Any]) -> ContainerRecord:
    raw = dict(raw)
    raw["state"] = ContainerState(raw.get("state", "waiting"))
    raw["process"] = Process(**raw.get("process") or {})
    raw["monitor"] = Process(**raw.get("monitor") or {})
    if raw.get("last"):
        raw["last"] = Terminated(**raw["last"])
    return ContainerRecord(**raw)
