"""A Pod's `status`, computed the way the kubelet computes it.

Pure functions from minipod's runtime record of each container to the v1
shapes kubectl knows: ContainerStatus (state waiting/running/terminated,
lastState, restartCount, ready, started), the pod's phase
(kubelet_pods.go, getPhase), and its conditions. (The columns `kubectl get pods`
prints are computed from these by minipod.cli.pod_columns.)
"""

from minipod.kube import resources

TERMINAL_WAITING = {
    "ErrImageNeverPull",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerError",
    "RunContainerError",
    "CreateContainerConfigError",
}


def container_status(c: dict) -> dict:
    """One v1 ContainerStatus from minipod's container record."""
    state = c.get("state", "waiting")
    if state == "running":
        st = {"running": {"startedAt": c["startedAt"]}}
    elif state == "terminated":
        st = {"terminated": terminated_state(c)}
    else:
        st = {"waiting": {"reason": c.get("reason") or "ContainerCreating"}}
        if c.get("message"):
            st["waiting"]["message"] = c["message"]
    # Without a startup probe a running container has started; without a
    # readiness probe it is ready (the records say so, see probes.py).
    started = state == "running" and c.get("started", True)
    out = {
        "name": c["name"],
        "state": st,
        "lastState": {"terminated": c["last"]} if c.get("last") else {},
        "ready": started and c.get("ready", True),
        "restartCount": c.get("restartCount", 0),
        "image": c.get("image", ""),
        "imageID": c.get("imageID", ""),
        "started": started,
    }
    if c.get("id"):
        out["containerID"] = f"minipod://{c['id']}"
    return out


def terminated_state(c: dict) -> dict:
    t = {
        "exitCode": c.get("exitCode", 0),
        "reason": c.get("reason") or ("Completed" if c.get("exitCode", 0) == 0 else "Error"),
        "startedAt": c.get("startedAt"),
        "finishedAt": c.get("finishedAt"),
        "containerID": f"minipod://{c['id']}" if c.get("id") else None,
    }
    if c.get("signal"):
        t["signal"] = c["signal"]
    if c.get("message"):
        t["message"] = c["message"]
    return {k: v for k, v in t.items() if v is not None}


def _succeeded(c: dict) -> bool:
    return c.get("state") == "terminated" and c.get("exitCode") == 0


def initialized(record: dict) -> bool:
    """Every init container succeeded; every sidecar has started once."""
    return all(
        c.get("everStarted") if c.get("sidecar") else _succeeded(c)
        for c in record["runtime"]["initContainers"]
    )


def _ready(c: dict) -> bool:
    return c.get("state") == "running" and c.get("started", True) and c.get("ready", True)


def phase(record: dict) -> str:
    """getPhase(): Pending until init containers are done and every app
    container has started once; Succeeded/Failed only when nothing will run
    again; Running otherwise."""
    spec, rt = record["spec"], record["runtime"]
    policy = spec.get("restartPolicy", "Always")
    if rt.get("phaseOverride"):
        return rt["phaseOverride"]
    for c in rt["initContainers"]:
        if (
            c.get("state") == "terminated"
            and c.get("exitCode") != 0
            and policy == "Never"
            and not c.get("sidecar")
        ):
            return "Failed"
    if not initialized(record):
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for c in rt["containers"]:
        if c.get("state") == "running":
            running += 1
        elif c.get("state") == "terminated":
            stopped += 1
            succeeded += c.get("exitCode") == 0
        elif c.get("last"):
            stopped += 1  # waiting to restart: it ran before
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    if policy == "Never":
        return "Failed"
    return "Running"  # OnFailure: the failed ones will be restarted


def conditions(record: dict, ph: str) -> list[dict]:
    rt = record["runtime"]
    created = record["metadata"]["creationTimestamp"]
    init_done = initialized(record)
    ready = all(_ready(c) for c in rt["containers"] + [c for c in rt["initContainers"] if c.get("sidecar")])

    def cond(ctype, ok, reason=None, since=None):
        c = {
            "type": ctype,
            "status": "True" if ok else "False",
            "lastProbeTime": None,
            "lastTransitionTime": since or created,
        }
        if reason and not ok:
            c["reason"] = reason
        return c

    not_ready = "PodCompleted" if ph in ("Succeeded", "Failed") else "ContainersNotReady"
    return [
        cond(
            "Initialized",
            init_done,
            "PodCompleted" if ph in ("Succeeded", "Failed") else "ContainersNotInitialized",
            rt.get("initializedAt"),
        ),
        cond("Ready", ready, not_ready, rt.get("readyAt")),
        cond("ContainersReady", ready, not_ready, rt.get("readyAt")),
        cond("PodScheduled", True),
    ]


def refused_status(refusal: dict, since: str, qos: str) -> dict:
    """A pod this node does not run (minipod.pod.admission): held Pending
    by the scheduler (PodScheduled=False), or rejected by the kubelet
    (Failed, with the admission handler's reason)."""
    if refusal["phase"] == "Pending":
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": since,
            "reason": refusal["reason"],
            "message": refusal["message"],
        }
        return {"phase": "Pending", "conditions": [condition], "qosClass": qos}
    return {
        "phase": "Failed",
        "reason": refusal["reason"],
        "message": "Pod was rejected: " + refusal["message"],
        "qosClass": qos,
    }


def pod_status(record: dict) -> dict:
    rt = record["runtime"]
    if rt.get("refusal"):
        qos = resources.qos_class(record["spec"])
        return refused_status(rt["refusal"], record["metadata"]["creationTimestamp"], qos)
    ph = phase(record)
    status = {
        "phase": ph,
        "conditions": conditions(record, ph),
        "hostIP": rt.get("hostIP", "127.0.0.1"),
        "startTime": rt.get("startTime"),
        "containerStatuses": [container_status(c) for c in rt["containers"]],
        "qosClass": resources.qos_class(record["spec"]),
    }
    if rt["initContainers"]:
        status["initContainerStatuses"] = [container_status(c) for c in rt["initContainers"]]
    if rt.get("podIP"):
        status["podIP"] = rt["podIP"]
        status["podIPs"] = [{"ip": rt["podIP"]}]
    if rt.get("reason"):
        status["reason"], status["message"] = rt["reason"], rt.get("message", "")
    return {k: v for k, v in status.items() if v is not None}


def run_outcome(pod: dict) -> tuple[str, str]:
    """What `minipod run` waits for: ("ready", ""), ("failed", why) or
    ("pending", ""). Ready: Running with every app container running, or
    Succeeded. Failed: the pod failed, or a container is stuck in a waiting
    reason that will not clear by itself (CrashLoopBackOff, ErrImage...)."""
    status = pod.get("status", {})
    phase_ = status.get("phase")
    statuses = [("init container", s) for s in status.get("initContainerStatuses", [])] + [
        ("container", s) for s in status.get("containerStatuses", [])
    ]
    if phase_ == "Succeeded":
        return "ready", ""
    for c in status.get("conditions", []):
        if c["type"] == "PodScheduled" and c["status"] == "False":
            return "failed", f"Pending: {c.get('reason')}: {c.get('message')}"
    if phase_ == "Running" and all("running" in s["state"] for s in status.get("containerStatuses", [])):
        return "ready", ""
    for what, s in statuses:
        waiting = s["state"].get("waiting")
        if waiting and waiting.get("reason") in TERMINAL_WAITING:
            last = s.get("lastState", {}).get("terminated")
            detail = f" (last exit code {last['exitCode']}: {last.get('reason', 'Error')})" if last else ""
            if last and last.get("message"):
                detail += f": {last['message']}"
            msg = f": {waiting['message']}" if waiting.get("message") and not last else ""
            return "failed", f'{what} "{s["name"]}": {waiting["reason"]}{detail}{msg}'
    if phase_ == "Failed":
        for what, s in statuses:
            t = s["state"].get("terminated")
            if t and t.get("exitCode", 0) != 0:
                msg = f": {t['message']}" if t.get("message") else ""
                return "failed", (
                    f'{what} "{s["name"]}" terminated: {t.get("reason", "Error")} '
                    f"(exit code {t['exitCode']}){msg}"
                )
        return "failed", status.get("message") or "pod failed"
    return "pending", ""
