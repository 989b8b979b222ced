"""The kinds the API serves: one typed entry per resource.

A new kind (NetworkPolicy, Deployment, ...) is one Resource in RESOURCES:
discovery, OpenAPI, the REST verbs, tables and watches all read this table.

backend says who owns the objects:
    "stored"   the object store keeps them (crash-safe files, lib/objects/);
    "pods"     the pod manager: the API writes desired state, the pod
               workers act on it, and status flows back into the store;
    "events"   the runtime's event recorder (read and watch);
    "nodes"    the host itself, computed (this instance is one node);
    "metrics"  read from the cgroups when asked (api/node_routes.py).
"""

from dataclasses import dataclass

from minipod.objects import apps_columns, batch_columns, columns, network_columns, storage_columns
from minipod.objects.columns import Column

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    columns: tuple[Column, ...] = columns.DEFAULT
    verbs: tuple[str, ...] = VERBS
    backend: str = "stored"
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    stored_as: str = ""  # another resource's storage key: events.k8s.io events are core events

    @property
    def key(self) -> str:
        """Where the store keeps these objects: "GROUP/PLURAL" ("/pods")."""
        return self.stored_as or f"{self.group}/{self.plural}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of this resource's collection, or of one object:
        /api/v1/namespaces/NS/pods/NAME, /apis/apps/v1/deployments."""
        parts = ["/api", self.version] if not self.group else ["/apis", self.group, self.version]
        if self.namespaced and namespace:
            parts += ["namespaces", namespace]
        parts.append(self.plural)
        if name:
            parts.append(name)
        return "/".join(parts)

    @property
    def group_resource(self) -> str:
        """pods, or deployments.apps: how messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: list[Resource] = [
    Resource(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        columns.NAMESPACE,
        ("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("status", "finalize"),
    ),
    Resource(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        columns.POD,
        backend="pods",
        subresources=("status", "log", "exec", "attach", "portforward", "eviction", "binding"),
        categories=("all",),
    ),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",), columns.CONFIGMAP),
    Resource("", "v1", "Secret", "secrets", True, (), columns.SECRET),
    Resource(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        True,
        ("sa",),
        columns.SERVICEACCOUNT,
        subresources=("token",),
    ),
    Resource("", "v1", "Event", "events", True, ("ev",), columns.EVENT, backend="events"),
    Resource(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        ("no",),
        columns.NODE,
        ("get", "list", "watch", "patch", "update"),
        backend="nodes",
        subresources=("status",),
    ),
    Resource(
        "",
        "v1",
        "Service",
        "services",
        True,
        ("svc",),
        network_columns.SERVICE,
        subresources=("status",),
        categories=("all",),
    ),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",), network_columns.ENDPOINTS),
    Resource(
        "discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, (), network_columns.ENDPOINTSLICE
    ),
    Resource(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        True,
        ("pvc",),
        storage_columns.PVC,
        subresources=("status",),
    ),
    Resource(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        False,
        ("pv",),
        storage_columns.PV,
        subresources=("status",),
    ),
    Resource(
        "storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",), storage_columns.STORAGECLASS
    ),
    Resource(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        True,
        ("ev",),
        columns.EVENT,
        backend="events",
        stored_as="/events",
    ),
    Resource(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        apps_columns.DEPLOYMENT,
        subresources=("status", "scale"),
        categories=("all",),
    ),
    Resource(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        ("rs",),
        apps_columns.REPLICASET,
        subresources=("status", "scale"),
        categories=("all",),
    ),
    # metrics-server's API, read from the cgroups (api/node_routes.py): `kubectl top`.
    Resource(
        "metrics.k8s.io",
        "v1beta1",
        "NodeMetrics",
        "nodes",
        False,
        (),
        verbs=("get", "list"),
        backend="metrics",
    ),
    Resource(
        "metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, (), verbs=("get", "list"), backend="metrics"
    ),
    Resource(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        False,
        ("pc",),
        columns.PRIORITYCLASS,
    ),
    Resource(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        True,
        ("netpol",),
        network_columns.NETWORKPOLICY,
    ),
    Resource(
        "batch",
        "v1",
        "Job",
        "jobs",
        True,
        (),
        batch_columns.JOB,
        subresources=("status",),
        categories=("all",),
    ),
    Resource(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        True,
        ("cj",),
        batch_columns.CRONJOB,
        subresources=("status",),
        categories=("all",),
    ),
    Resource(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        True,
        ("ds",),
        apps_columns.DAEMONSET,
        subresources=("status",),
        categories=("all",),
    ),
    Resource(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        True,
        ("sts",),
        apps_columns.STATEFULSET,
        subresources=("status", "scale"),
        categories=("all",),
    ),
]


def find(group: str, version: str, plural: str) -> Resource | None:
    for r in RESOURCES:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


def builtin(group: str, version: str, plural: str) -> Resource:
    """find() for a resource minipod itself defines: never None."""
    r = find(group, version, plural)
    if r is None:
        raise KeyError(f"no resource {group}/{version}/{plural} in RESOURCES")
    return r


def by_kind(api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    for r in RESOURCES:
        if r.group == group and r.version == version and r.kind == kind:
            return r
    return None


def resolve(name: str) -> Resource | None:
    """The resource a user means by NAME, as kubectl resolves it: the
    plural (pods), the singular (pod), a short name (po), the kind (Pod),
    or any of these qualified by the group (deployments.apps). The core
    group and the first version listed win (events, not events.k8s.io)."""
    base, _, group = name.lower().partition(".")
    for r in RESOURCES:
        if group and r.group != group:
            continue
        if base in (r.plural, r.singular, *r.short_names):
            return r
    return None


def groups() -> dict[str, list[str]]:
    """{group: [versions]} of the named groups (not the core group), in order."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in out.setdefault(r.group, []):
            out[r.group].append(r.version)
    return out


# The namespaces every cluster starts with, and what the store creates in each.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
