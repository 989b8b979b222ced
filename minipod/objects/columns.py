"""The columns `kubectl get` prints, as the API server's Table responses
give them (kubernetes pkg/printers/internalversion/printers.go).

Each Column names a pure function from (object, now) to the cell. Columns
with priority 1 appear only with `-o wide`.
"""

from collections.abc import Callable
from dataclasses import dataclass

from minipod.cli.pod_columns import pod_columns
from minipod.cli.printers import human_age


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, integer, date, ...
    cell: Callable[[dict, float], object]
    priority: int = 0
    description: str = ""
    format: str = ""


def age(obj: dict, now: float) -> str:
    return human_age(obj["metadata"].get("creationTimestamp"), now)


def name(obj: dict, now: float) -> str:
    return obj["metadata"]["name"]


NAME = Column("Name", "string", name, 0, "Name must be unique within a namespace.", "name")
AGE = Column(
    "Age",
    "string",
    age,
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def _pod(field: str):
    """A cell of kubectl's pod printer (cli/pod_columns.py), reused as is."""
    return lambda p, now: getattr(pod_columns(p, now), field)


def status_of(obj: dict) -> dict:
    return obj.get("status") or {}


POD = (
    NAME,
    Column(
        "Ready",
        "string",
        _pod("ready"),
        0,
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    Column("Status", "string", _pod("status"), 0, "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        "string",
        _pod("restarts"),
        0,
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    Column(
        "IP",
        "string",
        _pod("ip"),
        1,
        "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    Column(
        "Node", "string", _pod("node"), 1, "NodeName is a request to schedule this pod onto a specific node."
    ),
    Column(
        "Nominated Node",
        "string",
        _pod("nominated_node"),
        1,
        "nominatedNodeName is set only when this pod preempts other pods on the node.",
    ),
    Column(
        "Readiness Gates",
        "string",
        _pod("readiness_gates"),
        1,
        "If specified, all readiness gates will be evaluated for pod readiness.",
    ),
)

NAMESPACE = (
    NAME,
    Column(
        "Status", "string", lambda o, now: status_of(o).get("phase", ""), 0, "The status of the namespace"
    ),
    AGE,
)

CONFIGMAP = (
    NAME,
    Column(
        "Data",
        "string",
        lambda o, now: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        0,
        "Number of data in configmap",
    ),
    AGE,
)

SECRET = (
    NAME,
    Column("Type", "string", lambda o, now: o.get("type", ""), 0, "The type of the secret"),
    Column("Data", "string", lambda o, now: len(o.get("data") or {}), 0, "The number of the secret data"),
    AGE,
)

SERVICEACCOUNT = (
    NAME,
    Column(
        "Secrets",
        "string",
        lambda o, now: len(o.get("secrets") or []),
        0,
        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
    ),
    AGE,
)


def _event_time(e: dict) -> str | None:
    return (
        e.get("lastTimestamp")
        or e.get("deprecatedLastTimestamp")
        or e.get("eventTime")
        or e["metadata"].get("creationTimestamp")
    )


def _event_object(e: dict, now: float) -> str:
    o = e.get("involvedObject") or e.get("regarding") or {}
    return f"{str(o.get('kind', '')).lower()}/{o.get('name', '')}"


EVENT = (
    Column(
        "Last Seen",
        "string",
        lambda e, now: human_age(_event_time(e), now),
        0,
        "Time when last occurrence of the event was recorded.",
    ),
    Column(
        "Type",
        "string",
        lambda e, now: e.get("type", ""),
        0,
        "Type of this event (Normal, Warning), new types could be added in the future.",
    ),
    Column(
        "Reason",
        "string",
        lambda e, now: e.get("reason", ""),
        0,
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    Column("Object", "string", _event_object, 0, "The object that this event is about."),
    Column(
        "Subobject",
        "string",
        lambda e, now: (e.get("involvedObject") or {}).get("fieldPath", ""),
        1,
        "The subobject within the object that this event is about.",
    ),
    Column(
        "Source",
        "string",
        lambda e, now: ", ".join(
            filter(None, [(e.get("source") or {}).get("component"), (e.get("source") or {}).get("host")])
        ),
        1,
        "The component reporting this event.",
    ),
    Column(
        "Message",
        "string",
        lambda e, now: e.get("message", ""),
        0,
        "A human-readable description of the status of this operation.",
    ),
    Column(
        "First Seen",
        "string",
        lambda e, now: human_age(e.get("firstTimestamp") or _event_time(e), now),
        1,
        "The time at which the event was first recorded.",
    ),
    Column(
        "Count",
        "string",
        lambda e, now: str(e.get("count", 1)),
        1,
        "The number of times this event has occurred.",
    ),
    Column("Name", "string", name, 1, "Name must be unique within a namespace."),
)


def _node_status(n: dict, now: float) -> str:
    ready = next((c for c in status_of(n).get("conditions") or [] if c.get("type") == "Ready"), None)
    text = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    return text + (",SchedulingDisabled" if n.get("spec", {}).get("unschedulable") else "")


def _node_roles(n: dict, now: float) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix) :] for k in n["metadata"].get("labels") or {} if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _node_address(kind: str):
    def cell(n: dict, now: float) -> str:
        return next(
            (a["address"] for a in status_of(n).get("addresses") or [] if a.get("type") == kind), "<none>"
        )

    return cell


def _node_info(key: str):
    return lambda n, now: (status_of(n).get("nodeInfo") or {}).get(key, "<unknown>")


NODE = (
    NAME,
    Column("Status", "string", _node_status, 0, "The status of the node"),
    Column("Roles", "string", _node_roles, 0, "The roles of the node"),
    AGE,
    Column("Version", "string", _node_info("kubeletVersion"), 0, "Kubelet Version reported by the node."),
    Column("Internal-IP", "string", _node_address("InternalIP"), 1, "List of internal IPs."),
    Column("External-IP", "string", _node_address("ExternalIP"), 1, "List of external IPs."),
    Column("OS-Image", "string", _node_info("osImage"), 1, "OS image reported by the node."),
    Column(
        "Kernel-Version", "string", _node_info("kernelVersion"), 1, "Kernel version reported by the node."
    ),
    Column(
        "Container-Runtime",
        "string",
        _node_info("containerRuntimeVersion"),
        1,
        "Container runtime version reported by the node.",
    ),
)


PRIORITYCLASS = (
    NAME,
    Column("Value", "integer", lambda o, now: o.get("value"), 0, "The value of this priority class."),
    Column(
        "Global-Default",
        "boolean",
        lambda o, now: bool(o.get("globalDefault")),
        0,
        "Whether this priority class is the default for pods without a priorityClassName.",
    ),
    AGE,
    Column(
        "PreemptionPolicy",
        "string",
        lambda o, now: o.get("preemptionPolicy", ""),
        0,
        "The policy for preempting pods with lower priority.",
    ),
)

# What the API server prints for a kind with no printer of its own.
DEFAULT = (
    NAME,
    Column(
        "Created At",
        "date",
        lambda o, now: o["metadata"].get("creationTimestamp"),
        0,
        "The date and time the object was created.",
    ),
)
