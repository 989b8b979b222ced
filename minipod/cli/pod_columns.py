"""The columns of `kubectl get pods`, computed as kubectl's printer does.

Pure functions over a v1 Pod (a dict), following printPod in kubectl's
table printer (pkg/printers/internalversion/printers.go), step by step:
    1. STATUS starts as status.reason, else the phase (SchedulingGated when
       the PodScheduled condition says so);
    2. init containers, in order: every restart counts; a sidecar
       (restartPolicy: Always) that has started counts towards READY and
       lets the next one go; the first init container that has not
       succeeded gives STATUS (Init:N/M, Init:Error, Init:CrashLoopBackOff);
    3. once initialized: RESTARTS is the sidecars' restarts plus the app
       containers', and STATUS the last app container that waits or
       terminated, "Running" (or "NotReady") while one still runs;
    4. Terminating once deleted, unless the phase is final;
    5. RESTARTS gets the age of the last restart: "5 (2m ago)".
Standard library only: the CLI imports it.
"""

import time
from typing import NamedTuple

from minipod.kube.times import parse_rfc3339


class PodColumns(NamedTuple):  # not a dataclass: importing dataclasses costs the CLI ~10 ms
    name: str
    ready: str
    status: str
    restarts: str
    age: str
    ip: str
    node: str
    nominated_node: str
    readiness_gates: str


def parse_time(ts: str | None) -> float | None:
    """An RFC 3339 timestamp as seconds since the epoch (whole seconds)."""
    if not ts:
        return None
    return int(parse_rfc3339(ts))


def human_duration(seconds: float) -> str:
    """kubectl's duration.HumanDuration: 45s, 3m12s, 17m, 5h3m, 2d4h, 40d, 2y5d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m, h = s // 60, s // 3600
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 3 * 60:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        days = (h // 24) % 365
        return f"{h // 24 // 365}y{days}d" if days else f"{h // 24 // 365}y"
    return f"{h // 24 // 365}y"


def since(ts: str | None, now: float) -> str:
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


def _has_condition(status: dict, ctype: str, value: str = "True", reason: str | None = None) -> bool:
    return any(
        c.get("type") == ctype and c.get("status") == value and (reason is None or c.get("reason") == reason)
        for c in status.get("conditions") or []
    )


def _terminated_reason(t: dict) -> str:
    if t.get("reason"):
        return t["reason"]
    return f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode', 0)}"


def _last_finish(cs: dict) -> float | None:
    """When the container's previous instance ended (its lastState)."""
    last = (cs.get("lastState") or {}).get("terminated")
    return parse_time(last.get("finishedAt")) if last else None


def pod_columns(pod: dict, now: float | None = None) -> PodColumns:
    now = time.time() if now is None else now
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    init_specs = {c["name"]: c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = 0

    # Step 1.
    reason = status.get("reason") or status.get("phase") or "Unknown"
    if _has_condition(status, "PodScheduled", "False", "SchedulingGated"):
        reason = "SchedulingGated"

    # Step 2: init containers.
    restarts, last_restart = 0, None
    sidecar_restarts, sidecar_last = 0, None
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        finished = _last_finish(cs)
        if finished is not None:
            last_restart = max(last_restart or finished, finished)
        if cs["name"] in sidecars:
            sidecar_restarts += cs.get("restartCount", 0)
            if finished is not None:
                sidecar_last = max(sidecar_last or finished, finished)
        state = cs.get("state") or {}
        if "terminated" in state and state["terminated"].get("exitCode", 0) == 0:
            continue
        if cs["name"] in sidecars and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if "terminated" in state:
            reason = "Init:" + _terminated_reason(state["terminated"])
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    # Step 3: app containers, last first.
    if not initializing or _has_condition(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            finished = _last_finish(cs)
            if finished is not None:
                last_restart = max(last_restart or finished, finished)
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif "terminated" in state:
                reason = _terminated_reason(state["terminated"])
            elif cs.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"

    # Step 4.
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"

    # Step 5.
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    true_gates = sum(1 for g in gates if _has_condition(status, g.get("conditionType")))
    return PodColumns(
        name=meta.get("name", ""),
        ready=f"{ready}/{total}",
        status=reason,
        restarts=restarts_text,
        age=since(meta.get("creationTimestamp"), now),
        ip=(ips[0].get("ip") if ips else "") or "<none>",
        node=spec.get("nodeName") or "<none>",
        nominated_node=status.get("nominatedNodeName") or "<none>",
        readiness_gates=f"{true_gates}/{len(gates)}" if gates else "<none>",
    )
