"""What controllers read from a pod, as kube-controller-manager reads it
(pkg/controller/controller_utils.go, pkg/api/v1/pod). Pure.

active      not being deleted, and not finished (Succeeded or Failed):
            it counts toward a ReplicaSet's replicas
ready       its Ready condition is True
available   ready for at least minReadySeconds
rank        the order in which a ReplicaSet deletes pods when it has too
            many: the cheapest to lose first (deletion_order()).
"""

from minipod.kube.times import parse_rfc3339

PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_active(pod: dict) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return not pod["metadata"].get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def _ready_condition(pod: dict) -> dict | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return None


def is_ready(pod: dict) -> bool:
    c = _ready_condition(pod)
    return bool(c and c.get("status") == "True")


def ready_since(pod: dict) -> float | None:
    """When the pod last became ready (epoch seconds), if it is ready."""
    c = _ready_condition(pod)
    if not c or c.get("status") != "True" or not c.get("lastTransitionTime"):
        return None
    return parse_rfc3339(c["lastTransitionTime"])


def is_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds <= now


def available_in(pod: dict, min_ready_seconds: int, now: float) -> float | None:
    """Seconds until a ready pod becomes available, if it is not yet."""
    since = ready_since(pod)
    if since is None or min_ready_seconds <= 0 or since + min_ready_seconds <= now:
        return None
    return since + min_ready_seconds - now


def restarts(pod: dict) -> int:
    return max(
        (c.get("restartCount", 0) for c in (pod.get("status") or {}).get("containerStatuses") or []),
        default=0,
    )


def _created(pod: dict) -> float:
    ts = pod["metadata"].get("creationTimestamp")
    return parse_rfc3339(ts) if ts else 0.0


def deletion_rank(pod: dict) -> tuple:
    """Sort key: smaller is deleted first (controller.ActivePods' Less):
    unassigned before assigned, Pending before Unknown before Running,
    not ready before ready, ready for less time before longer, more
    restarts before fewer, newer before older."""
    status = pod.get("status") or {}
    since = ready_since(pod)
    return (
        1 if pod.get("spec", {}).get("nodeName") else 0,
        PHASE_RANK.get(status.get("phase", "Pending"), 0),
        1 if is_ready(pod) else 0,
        -(since or 0.0),
        -restarts(pod),
        -_created(pod),
        pod["metadata"]["name"],
    )


def deletion_order(pods: list[dict]) -> list[dict]:
    return sorted(pods, key=deletion_rank)
