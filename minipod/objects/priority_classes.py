"""PriorityClasses (scheduling.k8s.io/v1), and the Priority admission step
that gives every new pod its spec.priority.

PriorityClassAdmission checks a class as the API server does: `value` is
required and at most 1000000000 for user classes, the `system-` prefix is
reserved, value and preemptionPolicy never change, only one class may be
globalDefault; preemptionPolicy defaults to PreemptLowerPriority.
ensure_system_classes() creates the two built-in classes every cluster has.

admit_pod(store, pod), for every new pod (the Priority admission plugin):
    1. the class named by spec.priorityClassName, or the globalDefault
       class, or none (priority 0, PreemptLowerPriority);
    2. a named class that does not exist refuses the pod (403); a
       spec.priority or preemptionPolicy the manifest sets must agree;
    3. spec.priority and spec.preemptionPolicy are set from the class.
"""

from minipod.objects.errors import ApiError, invalid
from minipod.objects.resources import builtin

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {
    "system-node-critical": (
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    "system-cluster-critical": (
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
}
DEFAULT_POLICY = "PreemptLowerPriority"


def _res():
    return builtin("scheduling.k8s.io", "v1", "priorityclasses")


class PriorityClassAdmission:
    def __init__(self, store):
        self.store = store

    def __call__(self, obj: dict, old: dict | None) -> dict:
        name = obj["metadata"]["name"]
        obj.setdefault("preemptionPolicy", DEFAULT_POLICY)
        causes = []
        value = obj.get("value")
        if not isinstance(value, int) or isinstance(value, bool):
            causes.append(("FieldValueRequired", "value", "Required value"))
        elif value > HIGHEST_USER_PRIORITY and name not in SYSTEM_CLASSES:
            causes.append(
                (
                    "FieldValueForbidden",
                    "value",
                    f"Forbidden: maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}",
                )
            )
        if name.startswith(SYSTEM_PREFIX) and name not in SYSTEM_CLASSES:
            causes.append(
                (
                    "FieldValueForbidden",
                    "metadata.name",
                    "Forbidden: priority class names with 'system-' prefix are reserved for system use only",
                )
            )
        if old is not None:
            for field in ("value", "preemptionPolicy"):
                if obj.get(field) != old.get(field):
                    causes.append(
                        ("FieldValueForbidden", field, "Forbidden: may not be changed in an update.")
                    )
        if causes:
            raise invalid("PriorityClass", name, causes)
        if obj.get("globalDefault"):
            for other in self.store.objects[_res().key].values():
                if other.get("globalDefault") and other["metadata"]["name"] != name:
                    raise ApiError(
                        403,
                        "Forbidden",
                        f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: PriorityClass '
                        f"{other['metadata']['name']} is already marked as default. Only one default can exist",
                    )
        return obj


def ensure_system_classes(store) -> None:
    res = _res()
    for name, (value, description) in SYSTEM_CLASSES.items():
        if not store.exists(res, None, name):
            body = {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
            }
            store.create(res, body, None)


def admit_pod(store, pod: dict) -> list[str]:
    """Steps 1-3; no warnings, ApiError 403 to refuse."""
    meta, spec = pod["metadata"], pod["spec"]
    res = _res()
    wanted = spec.get("priorityClassName")
    if wanted:  # 1
        if not store.exists(res, None, wanted):
            raise ApiError(  # 2
                403,
                "Forbidden",
                f'pods "{meta.get("name", "")}" is forbidden: no PriorityClass with name {wanted} was found',
            )
        pc = store.get(res, None, wanted)
    else:
        defaults = [c for c in store.objects[res.key].values() if c.get("globalDefault")]
        pc = defaults[0] if defaults else None
        if pc is not None:
            spec["priorityClassName"] = pc["metadata"]["name"]
    value = pc["value"] if pc else 0
    policy = (pc or {}).get("preemptionPolicy") or DEFAULT_POLICY
    if spec.get("priority") is not None and spec["priority"] != value:
        raise ApiError(
            403,
            "Forbidden",
            f'pods "{meta.get("name", "")}" is forbidden: the integer value of priority ({spec["priority"]}) must '
            f"not be provided in pod spec; priority admission controller computed {value} from the given "
            "PriorityClass name",
        )
    if spec.get("preemptionPolicy") and spec["preemptionPolicy"] != policy:
        raise ApiError(
            403,
            "Forbidden",
            f'pods "{meta.get("name", "")}" is forbidden: the string value of PreemptionPolicy '
            f"({spec['preemptionPolicy']}) must not be provided in pod spec; priority admission controller "
            f"computed {policy} from the given PriorityClass name",
        )
    spec["priority"], spec["preemptionPolicy"] = value, policy  # 3
    return []
