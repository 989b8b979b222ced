"""The host as one Kubernetes Node: its capacity, allocatable and v1 Node object.

Steps, as the kubelet computes them (pkg/kubelet/cm/node_container_manager):
    1. capacity, read from the host: cpu (cores this process may run on),
       memory (MemTotal), ephemeral-storage (the filesystem of the
       instance's state), pods (--max-pods, 110), hugepages (0);
    2. allocatable = capacity - kube-reserved - system-reserved - the
       hard eviction thresholds (memory.available<100Mi,
       nodefs.available<10%), never below zero;
    3. node_object(): the v1 Node kubectl shows (conditions, addresses,
       nodeInfo), from node_facts() and the instance's start time.

Plain functions returning typed records: the API server and `describe
node` call the same ones.
"""

import os
import time
from dataclasses import dataclass, field

from minipod import __version__
from minipod.errors import MinipodError
from minipod.kube import quantity
from minipod.kube.cgroup_values import DEFAULT_POD_PIDS_LIMIT
from minipod.kube.resources import ResourceList, amount
from minipod.pod.admission import node_name

DEFAULT_MAX_PODS = 110
EVICTION_MEMORY = 100 * 2**20  # the kubelet's default memory.available<100Mi
EVICTION_NODEFS_PERCENT = 10  # and nodefs.available<10%


@dataclass(frozen=True)
class ResourceConfig:
    """The instance's kubelet settings (`minipod daemon` flags)."""

    cgroup_parent: str = ""  # "" = below the daemon's own cgroup
    pod_pids_limit: int | None = DEFAULT_POD_PIDS_LIMIT
    max_pods: int = DEFAULT_MAX_PODS
    system_reserved: ResourceList = field(default_factory=dict)
    kube_reserved: ResourceList = field(default_factory=dict)
    # The pool of hostUsers: false pods' id ranges (linux/userns.py).
    userns_base: int = 65536
    userns_ranges: int = 1024
    # --node-labels: put on the Node at every start, as the kubelet does.
    node_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeFacts:
    name: str
    capacity: ResourceList
    allocatable: ResourceList
    address: str
    kernel: str
    os_image: str
    architecture: str
    boot_id: str
    machine_id: str


def parse_reserved(flag: str, text: str | None) -> ResourceList:
    """kubelet syntax: "cpu=100m,memory=256Mi,ephemeral-storage=1Gi"."""
    out: ResourceList = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = amount(name.strip(), value.strip())
        except ValueError:
            raise MinipodError(
                f"--{flag}: invalid value {item!r}: expected NAME=QUANTITY",
                hint=f"for example --{flag} cpu=100m,memory=256Mi",
            ) from None
    return out


def parse_node_labels(text: str | None) -> dict[str, str]:
    """kubelet syntax: "key=value,key2=value2", each a valid label."""
    from minipod.kube.names import label_value_problems, qualified_name_problems

    out: dict[str, str] = {}
    for item in filter(None, (text or "").split(",")):
        key, sep, value = item.partition("=")
        problems = (
            (qualified_name_problems(key.strip()) + label_value_problems(value.strip()))
            if sep
            else ["no '='"]
        )
        if problems:
            raise MinipodError(
                f"--node-labels: invalid label {item!r}: {problems[0]}",
                hint="for example --node-labels topology.kubernetes.io/zone=lab-a",
            )
        out[key.strip()] = value.strip()
    return out


def host_capacity(state_dir: str, max_pods: int) -> ResourceList:
    """Step 1."""
    with open("/proc/meminfo") as f:
        mem_kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    st = os.statvfs(state_dir)
    return {
        "cpu": len(os.sched_getaffinity(0)) * 1000,
        "memory": mem_kib * 1024,
        "ephemeral-storage": st.f_blocks * st.f_frsize,
        "pods": max_pods,
        "hugepages-1Gi": 0,
        "hugepages-2Mi": 0,
    }


def allocatable(capacity: ResourceList, config: ResourceConfig) -> ResourceList:
    """Step 2, pure."""
    eviction = {
        "memory": EVICTION_MEMORY,
        "ephemeral-storage": capacity.get("ephemeral-storage", 0) * EVICTION_NODEFS_PERCENT // 100,
    }
    out = {}
    for name, cap in capacity.items():
        left = cap
        for reserved in (config.kube_reserved, config.system_reserved, eviction):
            left -= reserved.get(name, 0)
        out[name] = max(left, 0)
    return out


def node_facts(state_dir: str, config: ResourceConfig, address: str) -> NodeFacts:
    capacity = host_capacity(state_dir, config.max_pods)
    uname = os.uname()
    return NodeFacts(
        name=node_name(),
        capacity=capacity,
        allocatable=allocatable(capacity, config),
        address=address,
        kernel=uname.release,
        os_image=_os_image(),
        architecture={"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        machine_id=_read("/etc/machine-id"),
    )


def format_resources(resources: ResourceList, kib: bool = False) -> dict[str, str]:
    """As the kubelet reports them: memory and storage capacity in Ki."""
    out = {}
    for name, value in sorted(resources.items()):
        if name == "cpu":
            out[name] = quantity.format_cpu(value)
        elif name == "pods":
            out[name] = str(value)
        elif kib and value % 1024 == 0 and name in ("memory", "ephemeral-storage"):
            out[name] = f"{value // 1024}Ki"
        else:
            out[name] = quantity.format_bytes(value)
    return out


def node_object(facts: NodeFacts, created: str) -> dict:
    """Step 3: the v1 Node."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def cond(ctype, status, reason, message):
        return {
            "type": ctype,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": created,
            "reason": reason,
            "message": message,
        }

    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": facts.name,
            "creationTimestamp": created,
            "labels": {
                "beta.kubernetes.io/arch": facts.architecture,
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": facts.architecture,
                "kubernetes.io/hostname": facts.name,
                "kubernetes.io/os": "linux",
            },
        },
        "spec": {},
        "status": {
            "capacity": format_resources(facts.capacity, kib=True),
            "allocatable": format_resources(facts.allocatable, kib=True),
            "conditions": [
                cond(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond(
                    "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"
                ),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": facts.address},
                {"type": "Hostname", "address": facts.name},
            ],
            "nodeInfo": {
                "machineID": facts.machine_id,
                "systemUUID": facts.machine_id,
                "bootID": facts.boot_id,
                "kernelVersion": facts.kernel,
                "osImage": facts.os_image,
                "containerRuntimeVersion": f"minipod://{__version__}",
                "kubeletVersion": f"v{__version__}",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": facts.architecture,
            },
        },
    }


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""
