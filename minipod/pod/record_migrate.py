"""Pod records of earlier formats, brought to this one on load.

Version 0 (the first release: no "version" key) kept the runtime facts as
camelCase keys beside each other (pid and pidStart, monitorPid and
monitorStart, finishedEpoch beside finishedAt). migrate_v0(), in order:
    1. the pod's facts under their new names; its PID 1 and each
       container's process and monitor as (pid, start) pairs;
    2. each container's facts, without the previous instance's exit that
       version 0 kept beside a running one;
    3. lastState typed, with the time of its exit;
    4. the conditions' times taken from the status version 0 last wrote
       (it never recorded them itself).
The result is what record_file.from_json reads; nothing else changes.
"""

from typing import Any

from minipod.kube.times import parse_rfc3339

_V0_CONTAINER_KEYS = {
    "name": "name",
    "init": "init",
    "sidecar": "sidecar",
    "state": "state",
    "reason": "reason",
    "message": "message",
    "restartCount": "restart_count",
    "image": "image",
    "imageID": "image_id",
    "id": "id",
    "logPath": "log_path",
    "exitFile": "exit_file",
    "terminationFile": "termination_file",
    "stopSignal": "stop_signal",
    "env": "env",
    "startedEpoch": "started_epoch",
    "ready": "ready",
    "started": "started",
    "everStarted": "ever_started",
    "exitCode": "exit_code",
    "signal": "signal",
    "finishedEpoch": "finished_epoch",
    "retryAt": "retry_at",
    "backoff": "backoff",
    "backoffUpdated": "backoff_updated",
    "pullBackoff": "pull_backoff",
    "noRestart": "no_restart",
    "stopping": "stopping",
}


def migrate_v0(old: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """Version 0 -> 1: the same facts under snake_case names, processes as
    (pid, start) pairs, lastState typed, and the conditions' times taken
    from the status the old daemon last wrote."""
    net = old.get("network") or {}
    return {
        "host_ip": old.get("hostIP", "127.0.0.1"),
        "init": {"pid": (old.get("init") or {}).get("pid"), "start": (old.get("init") or {}).get("start")},
        "init_containers": [_migrate_v0_container(c) for c in old.get("initContainers") or []],
        "containers": [_migrate_v0_container(c) for c in old.get("containers") or []],
        "start_time": old.get("startTime"),
        "pod_ip": old.get("podIP"),
        "network": {
            "state": net.get("state"),
            "netns": net.get("netns"),
            "conflist": net.get("conflist"),
            "result": net.get("result"),
            "setup_seconds": net.get("setupSeconds"),
        },
        "kill_deadline": old.get("killDeadline"),
        "refusal": old.get("refusal"),
        "conditions": {
            c["type"]: {"status": c.get("status") == "True", "since": c.get("lastTransitionTime")}
            for c in status.get("conditions") or []
            if c.get("type") and c.get("lastTransitionTime")
        },
    }


def _migrate_v0_container(old: dict[str, Any]) -> dict[str, Any]:
    new = {key: old[v0] for v0, key in _V0_CONTAINER_KEYS.items() if old.get(v0) is not None}
    if old.get("state") != "terminated":
        # Version 0 kept the previous instance's exit beside a live one.
        for stale in ("exit_code", "signal", "finished_epoch"):
            new.pop(stale, None)
    new["env"] = old.get("env") or {}
    new["process"] = {"pid": old.get("pid"), "start": old.get("pidStart")}
    new["monitor"] = {"pid": old.get("monitorPid"), "start": old.get("monitorStart")}
    if new.get("started_epoch") is None and old.get("startedAt"):
        new["started_epoch"] = parse_rfc3339(old["startedAt"])
    if new.get("finished_epoch") is None and old.get("finishedAt"):
        new["finished_epoch"] = parse_rfc3339(old["finishedAt"])
    last = old.get("last")
    if last:
        new["last"] = {
            "exit_code": last.get("exitCode", 0),
            "reason": last.get("reason") or ("Completed" if last.get("exitCode", 0) == 0 else "Error"),
            "started_at": last.get("startedAt"),
            "finished_at": last.get("finishedAt"),
            "container_id": last.get("containerID"),
            "signal": last.get("signal"),
            "message": last.get("message"),
            "finished_epoch": old.get("lastFinishedEpoch")
            or last.get("finishedEpoch")
            or (parse_rfc3339(last["finishedAt"]) if last.get("finishedAt") else None),
        }
    return new
