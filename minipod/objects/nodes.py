"""The Node: this host, as a kubelet would report it.

node_object() reads the host (cpu count, memory, the OS, the kernel, the
address of the default route) once when the daemon starts; the node is
Ready while the daemon runs. A simple reader on purpose: when richer node
facts (cgroup capacity, allocatable) exist, they replace facts().

What users change on the node (kubectl label, taint, cordon: its labels,
annotations, spec.taints and spec.unschedulable) is kept in
lib/node.json, so it survives a restart, and each change is passed on
(on_change) to the scheduler and the taint manager.
"""

import os
import platform
from collections.abc import Callable

from minipod import __version__
from minipod.fsutil import read_json, write_json_atomic
from minipod.kube.times import rfc3339 as now_rfc3339
from minipod.objects.errors import ApiError
from minipod.objects.resources import builtin
from minipod.pod.admission import node_name

# The Kubernetes API version minipod serves (discovery, OpenAPI, kubelet version).
KUBE_VERSION = "v1.32.0"


def facts(host_ip: str) -> dict:
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    os_image = "Linux"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_image = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{mem_kib}Ki",
        "osImage": os_image,
        "kernelVersion": platform.release(),
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()),
        "hostIP": host_ip,
    }


def node_object(f: dict, boot_id: str = "", created: str | None = None) -> dict:
    """Pure: the v1 Node for the facts in `f`."""
    now = now_rfc3339()
    name = node_name()
    capacity = {"cpu": f["cpu"], "memory": f["memory"], "pods": "110", "ephemeral-storage": "0"}

    def condition(kind: str, status: str, reason: str, message: str) -> dict:
        return {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": created or now,
            "reason": reason,
            "message": message,
        }

    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "creationTimestamp": created or now,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": f["architecture"],
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": f["architecture"],
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                condition(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                condition(
                    "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
                ),
                condition(
                    "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"
                ),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": f["hostIP"]},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": boot_id,
                "kernelVersion": f["kernelVersion"],
                "osImage": f["osImage"],
                "containerRuntimeVersion": f"minipod://{__version__}",
                "kubeletVersion": KUBE_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": f["architecture"],
            },
        },
    }


# The parts of the Node that users set, and that node.json keeps.
USER_METADATA = ("labels", "annotations")
USER_SPEC = ("taints", "unschedulable")


def user_part(node: dict) -> dict:
    """(pure) What of the Node users changed, for node.json."""
    meta, spec = node["metadata"], node.get("spec") or {}
    return {
        "metadata": {k: meta[k] for k in USER_METADATA if k in meta},
        "spec": {k: spec[k] for k in USER_SPEC if k in spec},
    }


def with_user_part(node: dict, saved: dict) -> dict:
    """(pure) The computed Node with what users set put back."""
    for k, v in (saved.get("metadata") or {}).items():
        node["metadata"][k] = v
    for k, v in (saved.get("spec") or {}).items():
        node.setdefault("spec", {})[k] = v
    return node


def stamp_taints(node: dict, now: str) -> None:
    """timeAdded on NoExecute taints that have none: the taint manager
    counts tolerationSeconds from it."""
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") == "NoExecute" and not taint.get("timeAdded"):
            taint["timeAdded"] = now


class NodeBackend:
    """The node is computed, not created: create and delete are refused."""

    def __init__(
        self, store, host_ip: str, node_facts=None, lib_dir: str | None = None, labels: dict | None = None
    ):
        self.store = store
        self.res = builtin("", "v1", "nodes")
        self.saved_path = os.path.join(lib_dir, "node.json") if lib_dir else None
        self.on_change: list[Callable[[], None]] = []
        boot_id = ""
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                boot_id = f.read().strip()
        except OSError:
            pass
        node = node_object(facts(host_ip), boot_id)
        if node_facts is not None:
            # The kubelet's figures (pod/node.py): the same capacity and
            # allocatable the pods are admitted against.
            from minipod.pod.node import format_resources

            node["status"]["capacity"] = format_resources(node_facts.capacity, kib=True)
            node["status"]["allocatable"] = format_resources(node_facts.allocatable, kib=True)
        node["metadata"]["uid"] = boot_id or node["metadata"]["name"]
        if self.saved_path and os.path.exists(self.saved_path):
            node = with_user_part(node, read_json(self.saved_path))
        node["metadata"].setdefault("labels", {}).update(labels or {})  # --node-labels win, as the kubelet's
        store.track(self.res, node)

    def create(self, res, obj, dry_run):
        raise ApiError(405, "MethodNotAllowed", "the node is this host: nodes cannot be created")

    def update(self, res, old: dict, new: dict, dry_run: bool) -> dict:
        # Labels, annotations, taints and unschedulable may change, as with kubectl label/cordon.
        stamp_taints(new, now_rfc3339())
        if dry_run:
            return new
        if self.saved_path:
            write_json_atomic(self.saved_path, user_part(new))
        self.store.track(res, new)
        for hook in self.on_change:
            hook()
        return new

    def view(self) -> tuple[dict, tuple[dict, ...], bool]:
        """(labels, taints, unschedulable) of the Node as it is now."""
        node = self.store.get(self.res, None, node_name())
        spec = node.get("spec") or {}
        return (
            node["metadata"].get("labels") or {},
            tuple(spec.get("taints") or ()),
            bool(spec.get("unschedulable")),
        )

    def delete(self, res, old, grace, dry_run):
        raise ApiError(405, "MethodNotAllowed", "the node is this host: it cannot be deleted")
