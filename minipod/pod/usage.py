"""What pods and the node use now, read from the cgroups: `top` and metrics.

CPU use is a rate, so it needs two readings of a cumulative counter. The
reader keeps the previous readings; steps of UsageReader.pods():
    1. read every container's counters now (cpu ns, memory working set);
    2. for each, find a previous reading at least MIN_WINDOW old (and not
       older than MAX_WINDOW); if one is missing, wait MIN_WINDOW and
       read again: the first `top` takes that long, the next ones not;
    3. CPU = delta ns / delta t, in millicores; memory as read.
The node's CPU comes from /proc/stat, its memory from /proc/meminfo
(total - free - inactive file pages: the working set, as for a cgroup).

Typed records out, so `minipod top` and a metrics.k8s.io API can share them.
"""

import asyncio
import time
from dataclasses import dataclass

from minipod.linux import cgroup_stats, cgroups
from minipod.pod import pod_cgroups
from minipod.pod.record import ContainerState, PodRecord

MIN_WINDOW = 0.5  # seconds
MAX_WINDOW = 60.0
CLK_TCK = 100  # USER_HZ: /proc/stat counts in 1/100 s on Linux


@dataclass(frozen=True)
class ContainerUsage:
    name: str
    cpu_millicores: int
    memory_bytes: int


@dataclass(frozen=True)
class PodUsage:
    namespace: str
    name: str
    timestamp: float
    window: float
    containers: tuple

    @property
    def cpu_millicores(self) -> int:
        return sum(c.cpu_millicores for c in self.containers)

    @property
    def memory_bytes(self) -> int:
        return sum(c.memory_bytes for c in self.containers)


@dataclass(frozen=True)
class NodeUsage:
    timestamp: float
    window: float
    cpu_millicores: int
    memory_bytes: int


def _node_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) * (10**9 // CLK_TCK)


def node_memory_working_set() -> int:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            info[k] = int(v.split()[0]) * 1024
    return max(info["MemTotal"] - info["MemFree"] - info.get("Inactive(file)", 0), 0)


class UsageReader:
    def __init__(self, root: cgroups.Root):
        self.root = root
        # key -> readings (time, cpu ns), oldest first, none older than MAX_WINDOW
        self.samples: dict[str, list[tuple[float, int]]] = {}

    def _remember(self, key: str, now: float, ns: int) -> tuple[float, int] | None:
        """The newest earlier reading of `key` at least MIN_WINDOW old (None
        if there is none yet), and keep this one: a reading every half
        window, so calls of any frequency always find one."""
        kept = [s for s in self.samples.get(key, []) if now - s[0] <= MAX_WINDOW]
        usable = [s for s in kept if now - s[0] >= MIN_WINDOW]
        if not kept or now - kept[-1][0] >= MIN_WINDOW / 2:
            kept.append((now, ns))
        # Only the newest usable reading and those after it are ever needed.
        self.samples[key] = kept[len(usable) - 1 :] if usable else kept
        return usable[-1] if usable else None

    async def _rates(self, read: dict) -> dict[str, tuple[int, float]]:
        """key -> (millicores, window) for counters read by read[key]()."""
        now = time.monotonic()
        current = {k: fn() for k, fn in read.items()}
        prevs = {k: self._remember(k, now, ns) for k, ns in current.items()}
        if any(p is None for p in prevs.values()):
            await asyncio.sleep(MIN_WINDOW)
            return await self._rates(read)
        out = {}
        for k, ns in current.items():
            prev = prevs[k]
            if prev is None:  # cannot be: checked above
                continue
            t0, ns0 = prev
            window = now - t0
            out[k] = (max(ns - ns0, 0) * 1000 // int(window * 10**9) if window > 0 else 0, window)
        return out

    async def pods(self, records: list[PodRecord]) -> list[PodUsage]:
        """Usage of the running containers of `records` (pods that have a cgroup)."""
        read = {}
        for record in records:
            for c in record.runtime.all_containers():
                if c.state == ContainerState.RUNNING and c.id and record.runtime.cgroup:
                    rel = pod_cgroups.container_rel(record, c.id)
                    read[rel] = lambda rel=rel: cgroup_stats.cpu_usage_ns(self.root, rel)
        self._forget_old()
        rates = await self._rates(read) if read else {}
        stamp = time.time()
        out = []
        for record in records:
            meta, containers, window = record.metadata, [], MIN_WINDOW
            for c in record.runtime.all_containers():
                c_rel = pod_cgroups.container_rel(record, c.id) if c.id else None
                if c_rel is not None and c_rel in rates:
                    cpu, window = rates[c_rel]
                    mem = cgroup_stats.memory_working_set(self.root, c_rel)
                    containers.append(ContainerUsage(c.name, cpu, mem))
            if containers:
                out.append(PodUsage(meta["namespace"], meta["name"], stamp, window, tuple(containers)))
        return out

    async def node(self) -> NodeUsage:
        rates = await self._rates({"node": _node_cpu_ns})
        cpu, window = rates["node"]
        return NodeUsage(time.time(), window, cpu, node_memory_working_set())

    def _forget_old(self) -> None:
        """Drop readings too old to use (containers gone, or not asked for)."""
        now = time.monotonic()
        for key in [k for k, readings in self.samples.items() if now - readings[-1][0] > MAX_WINDOW]:
            del self.samples[key]
