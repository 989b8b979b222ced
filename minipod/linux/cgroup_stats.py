"""What the kernel counted in a cgroup: OOM kills, CPU time, memory.

oom_kills()           v2 memory.events `oom_kill`; v1 memory.oom_control
                      `oom_kill` (kernel 4.13+): how minipod knows a
                      container was OOMKilled, never from its exit code
cpu_usage_ns()        v1 cpuacct.usage; v2 cpu.stat `usage_usec`
memory_working_set()  usage minus inactive page cache, what the kubelet
                      (cAdvisor) reports and what `top` shows
"""

import os

from minipod.linux.cgroups import Root, read_file


def oom_kills(root: Root, rel: str) -> int:
    """How many processes the OOM killer killed in this cgroup: v2
    memory.events `oom_kill`, v1 memory.oom_control `oom_kill` (4.13+)."""
    d = root.dir(rel, "memory")
    if d is None:
        return 0
    text = read_file(
        os.path.join(d, "memory.events" if root.layout.mode == "v2" else "memory.oom_control"), ""
    )
    return _field(text, "oom_kill")


def cpu_usage_ns(root: Root, rel: str) -> int:
    """CPU time used by every process ever in the cgroup, in ns."""
    d = root.dir(rel, "cpuacct")
    if d is not None:
        return int(read_file(os.path.join(d, "cpuacct.usage"), "0") or 0)
    v2 = root.layout.v2
    d = next((dd for h, dd in root.dirs(rel) if h is v2), None)
    return _field(read_file(os.path.join(d, "cpu.stat"), "") if d else "", "usage_usec") * 1000


def memory_working_set(root: Root, rel: str) -> int:
    """What the kubelet reports as a container's memory: usage minus the
    inactive page cache, which the kernel can take back at once."""
    d = root.dir(rel, "memory")
    if d is None:
        return 0
    if root.layout.mode == "v2":
        usage = int(read_file(os.path.join(d, "memory.current"), "0") or 0)
        inactive = _field(read_file(os.path.join(d, "memory.stat"), ""), "inactive_file")
    else:
        usage = int(read_file(os.path.join(d, "memory.usage_in_bytes"), "0") or 0)
        inactive = _field(read_file(os.path.join(d, "memory.stat"), ""), "total_inactive_file")
    return max(usage - inactive, 0)


def _field(text: str, key: str) -> int:
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    return 0
