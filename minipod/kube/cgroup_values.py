"""What the kubelet writes into a pod's and a container's cgroups: pure values.

Steps, from a Pod spec to file contents:
    1. container_limits() / pod_limits(): requests and limits turned into
       one CgroupLimits record, with the kubelet's conversions
       (pkg/kubelet/cm/helpers_linux.go): cpu requests -> shares
       (1024 per core, at least 2), cpu limits -> a CFS quota per 100 ms
       period (at least 1 ms), memory limits -> a hard limit with swap off;
       the pod's values are its containers' sums (init containers and
       sidecars counted as the scheduler counts them), limits only when
       every container sets one.
    2. v1_files() / v2_files(): that record as (controller, file, value)
       lines for cgroup v1 or v2 (runc's fs and fs2 drivers), in the order
       they must be written.
    3. DEFAULT_DEVICES / v1_device_rules(): the device allow-list runc
       gives every container that is not privileged.

Standard library only: unit tests check every value without root.
"""

from dataclasses import dataclass
from typing import Any

from minipod.kube import resources

MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
QUOTA_PERIOD_US = 100_000
MIN_QUOTA_US = 1000
# The kubelet's podPidsLimit is off by default (-1); one fork loop then
# takes a whole host down. minipod limits each pod unless told otherwise:
# 1024 processes is far more than any ordinary pod runs, and small
# enough that a fork bomb stays harmless (`minipod daemon --pod-pids-limit`).
DEFAULT_POD_PIDS_LIMIT = 1024


@dataclass(frozen=True)
class CgroupLimits:
    cpu_shares: int | None = None  # v1 cpu.shares; v2 cpu.weight is derived
    cpu_quota_us: int | None = None  # None: no CFS quota ("max")
    cpu_period_us: int = QUOTA_PERIOD_US
    memory_bytes: int | None = None  # None: unlimited
    pids_max: int | None = None  # None: unlimited


def cpu_shares(millicores: int) -> int:
    """MilliCPUToShares: 1024 shares per core, clamped to [2, 262144]."""
    if millicores == 0:
        return MIN_SHARES
    shares = millicores * SHARES_PER_CPU // 1000
    return max(MIN_SHARES, min(shares, MAX_SHARES))


def cpu_quota(millicores: int, period_us: int = QUOTA_PERIOD_US) -> int | None:
    """MilliCPUToQuota: the share of each period the cgroup may run;
    200m -> 20000 us per 100000 us. At least 1 ms (the kernel's minimum)."""
    if millicores == 0:
        return None
    return max(millicores * period_us // 1000, MIN_QUOTA_US)


def cpu_weight(shares: int) -> int:
    """cgroup v2 cpu.weight [1, 10000] from v1 shares [2, 262144], the
    linear mapping runc and the kubelet use."""
    return 1 + ((shares - 2) * 9999) // 262142


def container_limits(container: dict[str, Any]) -> CgroupLimits:
    res = resources.container_resources(container)
    cpu_limit = res.limits.get("cpu", 0)
    return CgroupLimits(
        cpu_shares=cpu_shares(res.requests.get("cpu", 0)),
        cpu_quota_us=cpu_quota(cpu_limit),
        memory_bytes=res.limits.get("memory"),
    )


def pod_limits(spec: dict[str, Any], pids_limit: int | None) -> CgroupLimits:
    """The pod cgroup (ResourceConfigForPod): BestEffort pods get the
    minimum shares; others the summed requests as shares, and the summed
    limits where every container declares one."""
    qos = resources.qos_class(spec)
    if qos == resources.BEST_EFFORT:
        return CgroupLimits(cpu_shares=MIN_SHARES, pids_max=pids_limit)
    requests = resources.pod_requests(spec)
    limits = resources.pod_limits(spec)
    quota = cpu_quota(limits.get("cpu", 0)) if resources.all_limited(spec, "cpu") else None
    memory = limits.get("memory") if resources.all_limited(spec, "memory") else None
    return CgroupLimits(
        cpu_shares=cpu_shares(requests.get("cpu", 0)),
        cpu_quota_us=quota,
        memory_bytes=memory,
        pids_max=pids_limit,
    )


def qos_parent(qos: str) -> str:
    """Where a pod's cgroup goes, as the kubelet lays them out:
    kubepods/pod<uid> for Guaranteed, kubepods/burstable/pod<uid>, ..."""
    return {"Guaranteed": "kubepods", "Burstable": "kubepods/burstable"}.get(qos, "kubepods/besteffort")


def v1_files(limits: CgroupLimits) -> list[tuple[str, str, str]]:
    """(controller, file, value) for the v1 hierarchies, in write order:
    memory.limit_in_bytes before memory.memsw.limit_in_bytes, which may
    never be below it. Swap is off, as the kubelet's NoSwap: memory+swap
    limited to the memory limit itself."""
    out = []
    if limits.cpu_shares is not None:
        out.append(("cpu", "cpu.shares", str(limits.cpu_shares)))
    if limits.cpu_quota_us is not None:
        out.append(("cpu", "cpu.cfs_period_us", str(limits.cpu_period_us)))
        out.append(("cpu", "cpu.cfs_quota_us", str(limits.cpu_quota_us)))
    if limits.memory_bytes is not None:
        out.append(("memory", "memory.limit_in_bytes", str(limits.memory_bytes)))
        out.append(("memory", "memory.memsw.limit_in_bytes", str(limits.memory_bytes)))
    if limits.pids_max is not None:
        out.append(("pids", "pids.max", str(limits.pids_max)))
    return out


def v2_files(limits: CgroupLimits) -> list[tuple[str, str, str]]:
    """The same for cgroup v2 (runc's fs2): cpu.weight, cpu.max "QUOTA
    PERIOD", memory.max with memory.swap.max 0, pids.max."""
    out = []
    if limits.cpu_shares is not None:
        out.append(("cpu", "cpu.weight", str(cpu_weight(limits.cpu_shares))))
    if limits.cpu_quota_us is not None:
        out.append(("cpu", "cpu.max", f"{limits.cpu_quota_us} {limits.cpu_period_us}"))
    if limits.memory_bytes is not None:
        out.append(("memory", "memory.max", str(limits.memory_bytes)))
        out.append(("memory", "memory.swap.max", "0"))
    if limits.pids_max is not None:
        out.append(("pids", "pids.max", str(limits.pids_max)))
    return out


# runc's default allow-list (libcontainer/specconv AllowedDevices): mknod of
# any device is allowed (the node is harmless until opened); opening only
# these: null, zero, full, random, urandom, tty, console, ptmx, the pts
# ptys, and /dev/net/tun.
DEFAULT_DEVICES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",  # /dev/null
    "c 1:5 rwm",  # /dev/zero
    "c 1:7 rwm",  # /dev/full
    "c 1:8 rwm",  # /dev/random
    "c 1:9 rwm",  # /dev/urandom
    "c 5:0 rwm",  # /dev/tty
    "c 5:1 rwm",  # /dev/console
    "c 5:2 rwm",  # /dev/ptmx
    "c 136:* rwm",  # /dev/pts/N
    "c 10:200 rwm",  # /dev/net/tun
)


def v1_device_rules(privileged: bool, extra: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(file, rule) for the v1 devices controller: deny everything, then
    allow the defaults and `extra` ("c 10:200 rwm": the devices a CRI
    config lists); a privileged container may use every device."""
    if privileged:
        return [("devices.allow", "a")]
    return [("devices.deny", "a")] + [("devices.allow", rule) for rule in (*DEFAULT_DEVICES, *extra)]


def device_rule(kind: str, major: int, minor: int, permissions: str) -> str:
    """One allow rule: kind "c" or "b", permissions of r, w, m (empty: rwm)."""
    perms = "".join(p for p in "rwm" if p in (permissions or "rwm"))
    return f"{kind} {major}:{minor} {perms}"
