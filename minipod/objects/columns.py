"""The columns `kubectl get` prints, as the API server's Table responses
give them (kubernetes pkg/printers/internalversion/printers.go).

Each Column names a pure function from (object, now) to the cell. Columns
with priority 1 appear only with `-o wide`.
"""

from collections.abc import Callable
from dataclasses import dataclass

from minipod.cli.pod_columns import pod_columns
from minipod.cli.printers import human_age
from minipod.kube.label_selector import format_selector


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


def _status(obj: dict) -> dict:
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
    Column("Status", "string", lambda o, now: _status(o).get("phase", ""), 0, "The status of the namespace"),
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
    ready = next((c for c in _status(n).get("conditions") or [] if c.get("type") == "Ready"), None)
    text = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    return text + (",SchedulingDisabled" if n.get("spec", {}).get("unschedulable") else "")


def _node_roles(n: dict, now: float) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix) :] for k in n["metadata"].get("labels") or {} if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _node_address(kind: str):
    def cell(n: dict, now: float) -> str:
        return next(
            (a["address"] for a in _status(n).get("addresses") or [] if a.get("type") == kind), "<none>"
        )

    return cell


def _node_info(key: str):
    return lambda n, now: (_status(n).get("nodeInfo") or {}).get(key, "<unknown>")


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


def _service_external_ip(s: dict, now: float) -> str:
    spec = s.get("spec") or {}
    kind, external = spec.get("type"), list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return spec.get("externalName") or "<none>"
    if kind == "LoadBalancer":
        ingress = [
            i.get("ip") or i.get("hostname")
            for i in (_status(s).get("loadBalancer") or {}).get("ingress") or []
        ]
        return ",".join(ingress + external) or "<pending>"
    return ",".join(external) or "<none>"


def _service_ports(s: dict, now: float) -> str:
    out = []
    for p in (s.get("spec") or {}).get("ports") or []:
        proto = p.get("protocol", "TCP")
        out.append(
            f"{p.get('port')}:{p['nodePort']}/{proto}" if p.get("nodePort") else f"{p.get('port')}/{proto}"
        )
    return ",".join(out) or "<none>"


def _selector(s: dict, now: float) -> str:
    sel = (s.get("spec") or {}).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>"


SERVICE = (
    NAME,
    Column(
        "Type", "string", lambda s, now: (s.get("spec") or {}).get("type", ""), 0, "The type of the service."
    ),
    Column(
        "Cluster-IP",
        "string",
        lambda s, now: ((s.get("spec") or {}).get("clusterIPs") or ["<none>"])[0],
        0,
        "The IP address of the service.",
    ),
    Column("External-IP", "string", _service_external_ip, 0, "The external IP address of the service."),
    Column("Port(s)", "string", _service_ports, 0, "The ports that this service serves on."),
    AGE,
    Column("Selector", "string", _selector, 1, "The label selector of the service."),
)


def _at_most_three(items: list[str], empty: str) -> str:
    """kubectl's listWithMoreString: the first three, then "+ N more..."."""
    text = ",".join(items[:3])
    if len(items) > 3:
        return f"{text} + {len(items) - 3} more..."
    return text or empty


def _slice_ports(e: dict, now: float) -> str:
    return _at_most_three(
        [str(p["port"]) if p.get("port") is not None else p.get("name") or "*" for p in e.get("ports") or []],
        "<unset>",
    )


def _slice_endpoints(e: dict, now: float) -> str:
    return _at_most_three(
        [a for ep in e.get("endpoints") or [] for a in ep.get("addresses") or []], "<unset>"
    )


ENDPOINTSLICE = (
    NAME,
    Column(
        "AddressType", "string", lambda e, now: e.get("addressType", ""), 0, "The IP protocol for this slice."
    ),
    Column("Ports", "string", _slice_ports, 0, "The ports of this slice."),
    Column("Endpoints", "string", _slice_endpoints, 0, "The endpoints of this slice."),
    AGE,
)


def _endpoints(e: dict, now: float) -> str:
    subsets = e.get("subsets") or []
    if not subsets:
        return "<none>"
    out = []
    for ss in subsets:
        addresses = [a["ip"] for a in ss.get("addresses") or []]
        ports = ss.get("ports") or []
        if not ports:
            out += addresses
        for p in ports:
            out += [f"{ip}:{p['port']}" for ip in addresses]
    return _at_most_three(out, "")


ENDPOINTS = (NAME, Column("Endpoints", "string", _endpoints, 0, "Endpoints of the resource."), AGE)


def _template_containers(field: str):
    def cell(o: dict, now: float) -> str:
        spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
        return ",".join(str(c.get(field, "")) for c in spec.get("containers") or [])

    return cell


def _count(field: str, where: str = "status", default: int = 0):
    return lambda o, now: int((o.get(where) or {}).get(field) or default)


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


# --- storage: printPersistentVolumeClaim, printPersistentVolume, printStorageClass ---
_MODE_ABBREVIATIONS = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: list | None) -> str:
    """GetAccessModesAsString: RWO,ROX,RWX,RWOP, always in that order."""
    return ",".join(short for mode, short in _MODE_ABBREVIATIONS if mode in (modes or []))


def _phase(o: dict) -> str:
    return "Terminating" if o["metadata"].get("deletionTimestamp") else _status(o).get("phase", "")


def _claim_class(o: dict) -> str:
    annotations = o["metadata"].get("annotations") or {}
    return (o.get("spec") or {}).get("storageClassName") or annotations.get(
        "volume.beta.kubernetes.io/storage-class", ""
    )


def _volume_attributes_class(o: dict, now: float) -> str:
    return (o.get("spec") or {}).get("volumeAttributesClassName") or "<unset>"


def _volume_mode(o: dict, now: float) -> str:
    return (o.get("spec") or {}).get("volumeMode") or "<unset>"


def _claim_bound(field: str):
    """Capacity and access modes are printed once the claim names its volume."""

    def cell(o: dict, now: float) -> str:
        if not (o.get("spec") or {}).get("volumeName"):
            return ""
        st = _status(o)
        return (
            (st.get("capacity") or {}).get("storage", "")
            if field == "capacity"
            else access_modes(st.get("accessModes"))
        )

    return cell


def _claim_ref(o: dict, now: float) -> str:
    ref = (o.get("spec") or {}).get("claimRef")
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""


def _class_name(o: dict, now: float) -> str:
    annotations = o["metadata"].get("annotations") or {}
    default = "true" in (
        annotations.get("storageclass.kubernetes.io/is-default-class"),
        annotations.get("storageclass.beta.kubernetes.io/is-default-class"),
    )
    return o["metadata"]["name"] + (" (default)" if default else "")


_VOLUME_MODE_DOC = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."

PVC = (
    NAME,
    Column(
        "Status",
        "string",
        lambda o, now: _phase(o),
        0,
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    Column(
        "Volume",
        "string",
        lambda o, now: (o.get("spec") or {}).get("volumeName", ""),
        0,
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    Column(
        "Capacity",
        "string",
        _claim_bound("capacity"),
        0,
        "capacity represents the actual resources of the underlying volume.",
    ),
    Column(
        "Access Modes",
        "string",
        _claim_bound("accessModes"),
        0,
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    Column("StorageClass", "string", lambda o, now: _claim_class(o), 0, "StorageClass of the pvc"),
    Column(
        "VolumeAttributesClass", "string", _volume_attributes_class, 0, "VolumeAttributesClass of the pvc"
    ),
    AGE,
    Column("VolumeMode", "string", _volume_mode, 1, _VOLUME_MODE_DOC),
)

PV = (
    NAME,
    Column(
        "Capacity",
        "string",
        lambda o, now: ((o.get("spec") or {}).get("capacity") or {}).get("storage", ""),
        0,
        "capacity is the description of the persistent volume's resources and capacity.",
    ),
    Column(
        "Access Modes",
        "string",
        lambda o, now: access_modes((o.get("spec") or {}).get("accessModes")),
        0,
        "accessModes contains all ways the volume can be mounted.",
    ),
    Column(
        "Reclaim Policy",
        "string",
        lambda o, now: (o.get("spec") or {}).get("persistentVolumeReclaimPolicy", ""),
        0,
        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
    ),
    Column(
        "Status",
        "string",
        lambda o, now: _phase(o),
        0,
        "phase indicates if a volume is available, bound to a claim, or released by a claim.",
    ),
    Column(
        "Claim",
        "string",
        _claim_ref,
        0,
        "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
    ),
    Column(
        "StorageClass",
        "string",
        lambda o, now: (o.get("spec") or {}).get("storageClassName", ""),
        0,
        "storageClassName is the name of StorageClass to which this persistent volume belongs.",
    ),
    Column("VolumeAttributesClass", "string", _volume_attributes_class, 0, "VolumeAttributesClass of the pv"),
    Column(
        "Reason",
        "string",
        lambda o, now: _status(o).get("reason", ""),
        0,
        "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
    ),
    AGE,
    Column(
        "VolumeMode",
        "string",
        _volume_mode,
        1,
        "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
    ),
)

STORAGECLASS = (
    Column("Name", "string", _class_name, 0, "Name must be unique within a namespace.", "name"),
    Column(
        "Provisioner",
        "string",
        lambda o, now: o.get("provisioner", ""),
        0,
        "provisioner indicates the type of the provisioner.",
    ),
    Column(
        "ReclaimPolicy",
        "string",
        lambda o, now: o.get("reclaimPolicy") or "Delete",
        0,
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.",
    ),
    Column(
        "VolumeBindingMode",
        "string",
        lambda o, now: o.get("volumeBindingMode") or "Immediate",
        0,
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
    ),
    Column(
        "AllowVolumeExpansion",
        "string",
        lambda o, now: bool(o.get("allowVolumeExpansion")),
        0,
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
)

NETWORKPOLICY = (
    NAME,
    Column(
        "Pod-Selector",
        "string",
        lambda o, now: format_selector((o.get("spec") or {}).get("podSelector")),
        0,
        "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.",
    ),
    AGE,
)
