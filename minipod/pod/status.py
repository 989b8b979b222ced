"""A Pod's `status`, computed the way the kubelet computes it.

Pure functions from minipod's runtime record of each container to the v1
shapes kubectl knows: ContainerStatus (state waiting/running/terminated,
lastState, restartCount, ready, started), the pod's phase
(kubelet_pods.go, getPhase), and its conditions. (The columns `kubectl get pods`
prints are computed from these by minipod.cli.pod_columns.)
"""

import json
from typing import Any

from minipod.kube import resources
from minipod.pod.admission import Refusal
from minipod.pod.record import ContainerRecord, ContainerState, Disruption, PodRecord

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


def container_status(c: ContainerRecord) -> dict[str, Any]:
    """One v1 ContainerStatus from minipod's container record."""
    st: dict[str, Any]
    if c.state == ContainerState.RUNNING:
        st = {"running": {"startedAt": c.started_at}}
    elif c.state == ContainerState.TERMINATED:
        st = {"terminated": c.terminated().to_v1()}
    elif c.state == ContainerState.STARTING and c.last is not None:
        # A restart being made: the kubelet reports a created, not yet
        # running container as waiting with no reason (kubectl: Init:0/1,
        # not ContainerCreating, which is for a first start).
        st = {"waiting": {}}
    else:
        st = {"waiting": {"reason": c.reason or "ContainerCreating"}}
        if c.message:
            st["waiting"]["message"] = c.message
    # Without a startup probe a running container has started; without a
    # readiness probe it is ready (probes.py sets both when it starts).
    started = c.state == ContainerState.RUNNING and c.started
    out: dict[str, Any] = {
        "name": c.name,
        "state": st,
        "lastState": {"terminated": c.last.to_v1()} if c.last else {},
        "ready": started and c.ready,
        "restartCount": c.restart_count,
        "image": c.image,
        "imageID": c.image_id,
        "started": started,
    }
    if c.id:
        out["containerID"] = f"minipod://{c.id}"
    return out


def initialized(record: PodRecord) -> bool:
    """Every init container succeeded; every sidecar has started once."""
    return all(c.ever_started if c.sidecar else c.succeeded for c in record.runtime.init_containers)


def _ready(c: ContainerRecord) -> bool:
    return c.state == ContainerState.RUNNING and c.started and c.ready


def phase(record: PodRecord) -> str:
    """getPhase(): Pending until init containers are done and every app
    container has started once; Succeeded/Failed only when nothing will run
    again; Running otherwise."""
    rt = record.runtime
    policy = record.spec.get("restartPolicy", "Always")
    for c in rt.init_containers:
        if c.state == ContainerState.TERMINATED and c.exit_code != 0 and policy == "Never" and not c.sidecar:
            return "Failed"
    if not initialized(record):
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for c in rt.containers:
        if c.state == ContainerState.RUNNING:
            running += 1
        elif c.state == ContainerState.TERMINATED:
            stopped += 1
            succeeded += c.exit_code == 0
        elif c.last:
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


def condition_values(record: PodRecord) -> dict[str, bool]:
    """Whether each pod condition holds now (the worker records when each
    last changed: record.note_conditions)."""
    rt = record.runtime
    ready = all(_ready(c) for c in rt.containers + [c for c in rt.init_containers if c.sidecar])
    return {
        "PodScheduled": True,
        "Initialized": initialized(record),
        "ContainersReady": ready,
        "Ready": ready,
    }


def conditions(record: PodRecord, ph: str) -> list[dict[str, Any]]:
    """The v1 conditions, in kubectl's order, each with the time it last
    changed (the creation time until it first does)."""
    created = record.metadata["creationTimestamp"]
    values = condition_values(record)
    done = ph in ("Succeeded", "Failed")
    reasons = {
        "Initialized": "PodCompleted" if done else "ContainersNotInitialized",
        "Ready": "PodCompleted" if done else "ContainersNotReady",
        "ContainersReady": "PodCompleted" if done else "ContainersNotReady",
    }
    out = []
    for ctype in ("Initialized", "Ready", "ContainersReady", "PodScheduled"):
        ok = values[ctype]
        noted = record.runtime.conditions.get(ctype)
        since = noted.since if noted is not None and noted.status == ok else created
        cond: dict[str, Any] = {
            "type": ctype,
            "status": "True" if ok else "False",
            "lastProbeTime": None,
            "lastTransitionTime": since,
        }
        if not ok and ctype in reasons:
            cond["reason"] = reasons[ctype]
        out.append(cond)
    d = record.runtime.disruption
    if d is not None:
        out.insert(0, disruption_condition(d))
    return out


def disruption_condition(d: Disruption) -> dict[str, Any]:
    """DisruptionTarget: the pod is about to go, and who decided it."""
    return {
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": d.since,
        "reason": d.reason,
        "message": d.message,
    }


def refused_status(refusal: Refusal, since: str, qos: str, nominated: str | None = None) -> dict[str, Any]:
    """A pod this node does not run (minipod.pod.admission): held Pending
    by the scheduler (PodScheduled=False), or rejected by the kubelet
    (Failed, with the admission handler's reason)."""
    if refusal.phase == "Pending":
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": since,
            "reason": refusal.reason,
            "message": refusal.message,
        }
        status = {"phase": "Pending", "conditions": [condition], "qosClass": qos}
        if nominated:
            status["nominatedNodeName"] = nominated
        return status
    return {
        "phase": "Failed",
        "reason": refusal.reason,
        "message": "Pod was rejected: " + refusal.message,
        "qosClass": qos,
    }


def pod_view(record: PodRecord) -> dict[str, Any]:
    """The v1 Pod as the API shows it, status included: the runtime facts
    stay private (a copy: the caller may change it)."""
    pod = dict(record.pod)
    pod["status"] = pod_status(record)
    view: dict[str, Any] = json.loads(json.dumps(pod))
    return view


def pod_status(record: PodRecord) -> dict[str, Any]:
    rt = record.runtime
    if rt.refusal is not None:
        qos = resources.qos_class(record.spec)
        since = rt.refusal_since or record.metadata["creationTimestamp"]
        return refused_status(rt.refusal, since, qos, rt.nominated_node)
    ph = phase(record)
    status: dict[str, Any] = {
        "phase": ph,
        "conditions": conditions(record, ph),
        "hostIP": rt.host_ip,
        "startTime": rt.start_time,
        "containerStatuses": [container_status(c) for c in rt.containers],
        "qosClass": resources.qos_class(record.spec),
    }
    if rt.init_containers:
        status["initContainerStatuses"] = [container_status(c) for c in rt.init_containers]
    if rt.pod_ip:
        status["podIP"] = rt.pod_ip
        status["podIPs"] = [{"ip": rt.pod_ip}]
    return {k: v for k, v in status.items() if v is not None}


def run_outcome(pod: dict[str, Any]) -> tuple[str, str]:
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
