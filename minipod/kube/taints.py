"""Taints and tolerations, pure: the scheduler's TaintToleration filter,
the NodeUnschedulable filter, and the taint manager's NoExecute timing.

A toleration tolerates a taint when (ToleratesTaint):
    1. its effect is empty or the taint's;
    2. its key is the taint's, or it is empty with operator Exists (which
       tolerates every taint);
    3. operator Exists, or Equal (the default) with the taint's value.
untolerated() is the filter: the first NoSchedule or NoExecute taint no
toleration tolerates (PreferNoSchedule only ranks nodes). The node's
spec.unschedulable acts as the taint node.kubernetes.io/unschedulable:
NoSchedule, so a pod tolerating that one passes (as DaemonSet pods do).
eviction_delay() is the taint manager's: a running pod that does not
tolerate a NoExecute taint goes at once; one that tolerates it with
tolerationSeconds goes that long after the taint was added; without
tolerationSeconds it stays.
"""

from typing import Any

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
UNSCHEDULABLE_REASON = "node(s) were unschedulable"
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    key, op = toleration.get("key", ""), toleration.get("operator") or "Equal"
    if key != taint.get("key", ""):
        if not (key == "" and op == "Exists"):
            return False
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def untolerated(pod: dict[str, Any], taints: list[dict[str, Any]]) -> dict[str, Any] | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, taint):
            return taint
    return None


def taint_reason(taint: dict[str, Any]) -> str:
    """The scheduler's words for an untolerated taint."""
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


def unschedulable_blocks(pod: dict[str, Any]) -> bool:
    """NodeUnschedulable: a cordoned node takes only pods tolerating it."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    return not tolerated(tolerations, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"})


def eviction_delay(pod: dict[str, Any], taints: list[dict[str, Any]]) -> float | None:
    """Seconds after the NoExecute taints were added that the pod must go
    (0: now), or None if it may stay. The smallest tolerationSeconds of the
    tolerations used, as the taint manager takes."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    delay: float | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        used = [t for t in tolerations if tolerates(t, taint)]
        if not used:
            return 0.0
        bounded = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
        if bounded:
            seconds = max(0.0, float(min(bounded)))
            delay = seconds if delay is None else min(delay, seconds)
    return delay
