"""A Deployment's status and conditions, as the deployment controller
computes them (pkg/controller/deployment/sync.go, progress.go). Pure: the
caller passes the clock.

calculate()      replicas, updatedReplicas, readyReplicas,
                 availableReplicas, unavailableReplicas from the
                 ReplicaSets, and the Available condition
                 (MinimumReplicasAvailable once replicas - maxUnavailable
                 pods are available)
progress()       the Progressing condition: ReplicaSetUpdated while pods
                 move, NewReplicaSetAvailable once complete,
                 ProgressDeadlineExceeded when nothing moved for
                 progressDeadlineSeconds
check_again()    when to look again, so a stuck rollout times out on time
"""

from minipod.controllers.rollout_math import max_unavailable, replicas, status_of
from minipod.kube.times import parse_rfc3339, rfc3339

PROGRESSING, AVAILABLE = "Progressing", "Available"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
TIMED_OUT = "ProgressDeadlineExceeded"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
PAUSED, RESUMED = "DeploymentPaused", "DeploymentResumed"


def condition(status: dict, ctype: str) -> dict | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == ctype), None)


def new_condition(ctype: str, value: str, reason: str, message: str, now: float) -> dict:
    t = rfc3339(now)
    return {
        "type": ctype,
        "status": value,
        "lastUpdateTime": t,
        "lastTransitionTime": t,
        "reason": reason,
        "message": message,
    }


def set_condition(status: dict, cond: dict) -> None:
    """SetDeploymentCondition: same status and reason changes nothing; the
    same status keeps its lastTransitionTime."""
    current = condition(status, cond["type"])
    if current and current["status"] == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current and current["status"] == cond["status"]:
        cond = dict(cond, lastTransitionTime=current["lastTransitionTime"])
    others = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    status["conditions"] = [*others, cond]


def remove_condition(status: dict, ctype: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype]


def calculate(d: dict, all_rss: list[dict], new_rs: dict | None, now: float) -> dict:
    available = sum(status_of(rs, "availableReplicas") for rs in all_rss)
    total = sum(replicas(rs) for rs in all_rss)
    old = d.get("status") or {}
    status: dict = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": sum(status_of(rs, "replicas") for rs in all_rss),
        "updatedReplicas": status_of(new_rs, "replicas") if new_rs else 0,
        "readyReplicas": sum(status_of(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
        "conditions": [dict(c) for c in old.get("conditions") or []],
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas(d) - max_unavailable(d):
        cond = new_condition(
            AVAILABLE, "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now
        )
    else:
        cond = new_condition(
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(status, cond)
    return status


def is_complete(d: dict, status: dict) -> bool:
    want = replicas(d)
    return (
        status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
        and status.get("availableReplicas", 0) == want
        and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
    )


def is_progressing(d: dict, status: dict) -> bool:
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = status.get("replicas", 0) - status.get("updatedReplicas", 0)
    return (
        status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
        or new_old < old_old
        or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or status.get("availableReplicas", 0) > old.get("availableReplicas", 0)
    )


def timed_out(d: dict, status: dict, now: float) -> bool:
    deadline = d["spec"].get("progressDeadlineSeconds")
    cond = condition(status, PROGRESSING)
    if deadline is None or cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    return parse_rfc3339(cond["lastUpdateTime"]) + deadline < now


def progress(d: dict, status: dict, new_rs: dict | None, now: float) -> None:
    """syncRolloutStatus: set the Progressing condition in status."""
    if d["spec"].get("progressDeadlineSeconds") is None:
        remove_condition(status, PROGRESSING)
        return
    current = condition(status, PROGRESSING)
    complete = (
        status.get("replicas") == status.get("updatedReplicas")
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if d["spec"].get("paused") or complete:
        return
    what = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{d["metadata"]["name"]}"'
    if is_complete(d, status):
        message = f"{what} has successfully progressed."
        set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, message, now))
    elif is_progressing(d, status):
        cond = new_condition(PROGRESSING, "True", RS_UPDATED, f"{what} is progressing.", now)
        if current is not None and current["status"] == "True":
            cond["lastTransitionTime"] = current["lastTransitionTime"]
        remove_condition(status, PROGRESSING)
        set_condition(status, cond)
    elif timed_out(d, status, now):
        message = f"{what} has timed out progressing."
        set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT, message, now))


def check_again(d: dict, status: dict, now: float) -> float | None:
    """requeueStuckDeployment: seconds until this rollout would time out."""
    deadline = d["spec"].get("progressDeadlineSeconds")
    cond = condition(status, PROGRESSING)
    if deadline is None or cond is None or is_complete(d, status) or timed_out(d, status, now):
        return None
    if cond.get("reason") not in (RS_UPDATED, NEW_RS_CREATED, FOUND_NEW_RS, RESUMED):
        return None
    return max(0.0, parse_rfc3339(cond["lastUpdateTime"]) + deadline - now) + 1.0


def paused_condition(d: dict, status: dict, now: float) -> None:
    """checkPausedConditions: Progressing is Unknown while paused."""
    if d["spec"].get("progressDeadlineSeconds") is None:
        return
    cond = condition(status, PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return
    is_paused = cond is not None and cond.get("reason") == PAUSED
    if d["spec"].get("paused") and not is_paused:
        set_condition(status, new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now))
    elif not d["spec"].get("paused") and is_paused:
        set_condition(status, new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now))
