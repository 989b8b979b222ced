"""The arithmetic of a Deployment's rollout, as the deployment controller
does it (pkg/controller/deployment/util, rolling.go, sync.go). Pure: each
function takes the Deployment and its ReplicaSets (API objects) and returns
numbers or a plan {ReplicaSet name: new spec.replicas}.

fenceposts()        maxSurge (percent rounded up) and maxUnavailable
                    (rounded down) of spec.replicas; never both 0
new_rs_replicas()   how far the new ReplicaSet may grow now (maxSurge)
scale_down_old()    which old ReplicaSets shrink, and by how much, while
                    at least replicas - maxUnavailable pods stay available:
                    the unhealthy ones first, then the oldest
proportional()      a scaling event mid-rollout: every active ReplicaSet
                    grows or shrinks in proportion to its size
history_to_delete() old, empty ReplicaSets beyond revisionHistoryLimit
"""

import math

from minipod.kube.times import parse_rfc3339

REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"


def scaled_value(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: 2 -> 2, "25%" of 10 -> 3 (up) or 2."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def replicas(obj: dict) -> int:
    r = obj["spec"].get("replicas")
    return 1 if r is None else r


def is_rolling(d: dict) -> bool:
    return (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def fenceposts(d: dict) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods."""
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    want = replicas(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), want, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), want, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # a rollout must be able to make progress
    return surge, unavailable


def max_surge(d: dict) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: dict) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas(d))


def status_of(rs: dict, field: str) -> int:
    return (rs.get("status") or {}).get(field, 0) or 0


def created(rs: dict) -> float:
    ts = rs["metadata"].get("creationTimestamp")
    return parse_rfc3339(ts) if ts else 0.0


def oldest_first(rss: list[dict]) -> list[dict]:
    return sorted(rss, key=lambda r: (created(r), r["metadata"]["name"]))


def revision(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def new_rs_replicas(d: dict, all_rss: list[dict], new_rs: dict) -> int:
    """NewRSNewReplicas: the new ReplicaSet's size for this step."""
    if not is_rolling(d):
        return replicas(d)
    current = sum(replicas(rs) for rs in all_rss)
    max_total = replicas(d) + max_surge(d)
    if current >= max_total:
        return replicas(new_rs)
    grow = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + max(0, grow)


def scale_down_old(d: dict, old_rss: list[dict], new_rs: dict | None) -> dict[str, int]:
    """reconcileOldReplicaSets: the plan for the old ReplicaSets."""
    old_count = sum(replicas(rs) for rs in old_rss)
    if old_count == 0:
        return {}
    all_rss = old_rss + ([new_rs] if new_rs else [])
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = (replicas(new_rs) - status_of(new_rs, "availableReplicas")) if new_rs else 0
    max_scaled_down = sum(replicas(rs) for rs in all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    plan: dict[str, int] = {}
    # 1. the old pods that are not available go first: losing them costs nothing
    done = 0
    for rs in oldest_first(old_rss):
        if done >= max_scaled_down:
            break
        size, available = replicas(rs), status_of(rs, "availableReplicas")
        if size == 0 or size == available:
            continue
        cut = min(max_scaled_down - done, size - available)
        plan[rs["metadata"]["name"]] = size - cut
        done += cut

    # 2. then available old pods, oldest ReplicaSet first, keeping min_available
    def size_now(rs: dict) -> int:
        return plan.get(rs["metadata"]["name"], replicas(rs))

    available_now = sum(status_of(rs, "availableReplicas") for rs in all_rss)
    if available_now > min_available:
        to_cut, cut_so_far = available_now - min_available, 0
        for rs in oldest_first(old_rss):
            if cut_so_far >= to_cut:
                break
            if size_now(rs) == 0:
                continue
            cut = min(size_now(rs), to_cut - cut_so_far)
            plan[rs["metadata"]["name"]] = size_now(rs) - cut
            cut_so_far += cut
    before = {rs["metadata"]["name"]: replicas(rs) for rs in old_rss}
    return {name: size for name, size in plan.items() if size != before[name]}


def _fraction(rs: dict, d: dict) -> int:
    """getReplicaSetFraction: the change in this ReplicaSet's size."""
    if replicas(d) == 0:
        return -replicas(rs)
    allowed = replicas(d) + max_surge(d)
    try:
        annotated = int((rs["metadata"].get("annotations") or {})[MAX])
    except (KeyError, ValueError):
        annotated = status_of(d, "replicas")
    if annotated == 0:
        return 0
    exact = replicas(rs) * allowed / annotated
    rounded = math.floor(exact + 0.5) if exact >= 0 else math.ceil(exact - 0.5)  # Go's math.Round
    return rounded - replicas(rs)


def proportional(d: dict, active: list[dict]) -> dict[str, int]:
    """scale(): the active ReplicaSets' new sizes when spec.replicas changed
    during a rolling update. The leftover goes to the largest one."""
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - sum(replicas(rs) for rs in active)
    if to_add == 0 or not active:
        return {}
    # Growing: larger first, newer first among equals; shrinking: older first.
    if to_add > 0:
        ordered = sorted(active, key=lambda r: (-replicas(r), -created(r)))
    else:
        ordered = sorted(active, key=lambda r: (-replicas(r), created(r)))
    sizes, added = {}, 0
    for rs in ordered:
        part = 0
        if replicas(rs) != 0 and to_add != added:
            frac, left = _fraction(rs, d), to_add - added
            part = min(frac, left) if to_add > 0 else max(frac, left)
        sizes[rs["metadata"]["name"]] = replicas(rs) + part
        added += part
    first = ordered[0]["metadata"]["name"]
    sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


def history_to_delete(d: dict, old_rss: list[dict]) -> list[dict]:
    """cleanupDeployment: the oldest empty ReplicaSets beyond revisionHistoryLimit."""
    limit = d["spec"].get("revisionHistoryLimit")
    if limit is None:
        return []
    cleanable = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
    extra = len(cleanable) - limit
    if extra <= 0:
        return []
    out = []
    for rs in sorted(cleanable, key=lambda r: (revision(r), created(r)))[:extra]:
        if status_of(rs, "replicas") != 0 or replicas(rs) != 0:
            continue
        if rs["metadata"].get("generation", 1) > status_of(rs, "observedGeneration"):
            continue
        out.append(rs)
    return out
