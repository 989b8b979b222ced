"""What `kubectl get` prints for Deployments, ReplicaSets, DaemonSets and
StatefulSets (printers.go: printDeployment, printReplicaSet,
printDaemonSet, printStatefulSet)."""

from minipod.kube.label_selector import format_selector
from minipod.objects.columns import AGE, NAME, Column


def _template_containers(field: str):
    def cell(o: dict, now: float) -> str:
        spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
        return ",".join(str(c.get(field, "")) for c in spec.get("containers") or [])

    return cell


def _count(field: str, where: str = "status", default: int = 0):
    # An explicit 0 stays 0 (`or default` showed a ReplicaSet scaled to 0 as 1).
    return lambda o, now: int(_or((o.get(where) or {}).get(field), default))


def _or(value, default: int):
    return default if value is None else value


TEMPLATE_COLUMNS = (
    Column(
        "Containers", "string", _template_containers("name"), 1, "Names of each container in the template."
    ),
    Column(
        "Images",
        "string",
        _template_containers("image"),
        1,
        "Images referenced by each container in the template.",
    ),
    Column(
        "Selector",
        "string",
        lambda o, now: format_selector((o.get("spec") or {}).get("selector")),
        1,
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
    ),
)

DEPLOYMENT = (
    NAME,
    Column(
        "Ready",
        "string",
        lambda o, now: f"{_count('readyReplicas')(o, now)}/{_count('replicas', 'spec', 1)(o, now)}",
        0,
        "Number of the pod with ready state",
    ),
    Column(
        "Up-to-date",
        "string",
        _count("updatedReplicas"),
        0,
        "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
    ),
    Column(
        "Available",
        "string",
        _count("availableReplicas"),
        0,
        "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    AGE,
    *TEMPLATE_COLUMNS,
)

REPLICASET = (
    NAME,
    Column(
        "Desired",
        "integer",
        _count("replicas", "spec", 1),
        0,
        "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#what-is-a-replicaset",
    ),
    Column(
        "Current",
        "integer",
        _count("replicas"),
        0,
        "Replicas is the number of actual replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#what-is-a-replicaset",
    ),
    Column(
        "Ready",
        "integer",
        _count("readyReplicas"),
        0,
        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
    ),
    AGE,
    *TEMPLATE_COLUMNS,
)


def _node_selector(o: dict, now: float) -> str:
    selector = (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


DAEMONSET = (
    NAME,
    Column(
        "Desired",
        "integer",
        _count("desiredNumberScheduled"),
        0,
        "The number of nodes that should be running the daemon pod.",
    ),
    Column(
        "Current",
        "integer",
        _count("currentNumberScheduled"),
        0,
        "The number of nodes running at least one daemon pod.",
    ),
    Column("Ready", "integer", _count("numberReady"), 0, "The number of nodes with a ready daemon pod."),
    Column(
        "Up-to-date",
        "integer",
        _count("updatedNumberScheduled"),
        0,
        "The number of nodes running the updated daemon pod.",
    ),
    Column(
        "Available",
        "integer",
        _count("numberAvailable"),
        0,
        "The number of nodes with an available daemon pod.",
    ),
    Column("Node Selector", "string", _node_selector, 0, "NodeSelector of the daemon pods."),
    AGE,
    *TEMPLATE_COLUMNS,
)

STATEFULSET = (
    NAME,
    Column(
        "Ready",
        "string",
        lambda o, now: f"{_count('readyReplicas')(o, now)}/{(o.get('spec') or {}).get('replicas', 1)}",
        0,
        "Number of the pod with ready state",
    ),
    AGE,
    *TEMPLATE_COLUMNS[:2],
)
