"""What `kubectl get daemonsets` and `kubectl get statefulsets` print, as
the API server's Table columns (printers.go: printDaemonSet,
printStatefulSet)."""

from minipod.kube.label_selector import format_selector
from minipod.objects.columns import AGE, NAME, Column


def _status(field: str):
    return lambda o, now: int((o.get("status") or {}).get(field) or 0)


def _template(field: str):
    def cell(o: dict, now: float) -> str:
        spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
        return ",".join(str(c.get(field, "")) for c in spec.get("containers") or [])

    return cell


def _node_selector(o: dict, now: float) -> str:
    selector = (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


CONTAINERS = Column("Containers", "string", _template("name"), 1, "Names of each container in the template.")
IMAGES = Column(
    "Images", "string", _template("image"), 1, "Images referenced by each container in the template."
)

DAEMONSET = (
    NAME,
    Column(
        "Desired",
        "integer",
        _status("desiredNumberScheduled"),
        0,
        "The number of nodes that should be running the daemon pod.",
    ),
    Column(
        "Current",
        "integer",
        _status("currentNumberScheduled"),
        0,
        "The number of nodes running at least one daemon pod.",
    ),
    Column("Ready", "integer", _status("numberReady"), 0, "The number of nodes with a ready daemon pod."),
    Column(
        "Up-to-date",
        "integer",
        _status("updatedNumberScheduled"),
        0,
        "The number of nodes running the updated daemon pod.",
    ),
    Column(
        "Available",
        "integer",
        _status("numberAvailable"),
        0,
        "The number of nodes with an available daemon pod.",
    ),
    Column("Node Selector", "string", _node_selector, 0, "NodeSelector of the daemon pods."),
    AGE,
    CONTAINERS,
    IMAGES,
    Column(
        "Selector",
        "string",
        lambda o, now: format_selector((o.get("spec") or {}).get("selector")),
        1,
        "A label query over pods that are managed by the daemon set.",
    ),
)

STATEFULSET = (
    NAME,
    Column(
        "Ready",
        "string",
        lambda o, now: f"{_status('readyReplicas')(o, now)}/{(o.get('spec') or {}).get('replicas', 1)}",
        0,
        "Number of the pod with ready state",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
)
