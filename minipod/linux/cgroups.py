"""Cgroups: every pod and container of an instance in its own control group.

A cgroup is a directory in a cgroup filesystem; a process is in it once its
pid is written to the directory's `cgroup.procs`; limits are files beside
it (cgroups(7)). Hosts come in two shapes, detected from
/proc/self/mountinfo, never assumed:

    v2      one unified hierarchy at /sys/fs/cgroup, controllers (cpu,
            memory, pids, ...) enabled per subtree in cgroup.subtree_control
    hybrid  controllers on v1 hierarchies, one per controller
    / v1    (/sys/fs/cgroup/memory, .../cpu, ...), plus, in hybrid, an
            empty v2 hierarchy (/sys/fs/cgroup/unified): minipod uses it,
            as systemd does, to track a pod's processes and to kill them
            all at once with cgroup.kill

Steps, in the order the runtime takes them (cgroup_layout.py tells the
host's shape first):
    1. setup_root(): choose the instance's parent cgroup on every hierarchy
       (below the daemon's own cgroup, or --cgroup-parent) and create
       kubepods/{burstable,besteffort} in it; on v2 enable the controllers
       for the subtree (moving the daemon into a leaf first: the
       no-internal-processes rule).
    2. a pod's or a container's directory on every hierarchy, its limits
       (kube/cgroup_values.py) and device rules: decided by the daemon,
       made by the forked child that joins it (cgroup_plan.py), which
    3. joins: writes "0" (this process) to each cgroup.procs before
       execve, so nothing ever runs outside. write_limits() again on an
       update.
    4. reading back what the kernel counted: cgroup_stats.py.
    5. kill(): every process below a cgroup: v2 cgroup.kill; v1 without
       it, freeze, SIGKILL each pid, thaw (runc's signalAllProcesses).
    6. remove(): rmdir, deepest first, on every hierarchy.
"""

import json
import os
import signal
import time

from minipod.errors import MinipodError
from minipod.fsutil import write_json_atomic
from minipod.kube import cgroup_values as values
from minipod.linux import cgroup_plan as plan
from minipod.linux.cgroup_layout import Layout, Root, detect_host, parent_dirs, parse_proc_cgroup

# Re-exported: the child's side (join) and the path helper live in cgroup_plan.py.
from minipod.linux.cgroup_plan import join, procs_files  # noqa: F401 - re-exported


def setup_root(state_file: str, parent: str | None) -> Root:
    """Step 1. The parents are written to `state_file` on the first start,
    so a daemon restarted from anywhere finds its pods' cgroups again."""
    layout = detect_host()
    saved = _load(state_file)
    if saved and saved.get("mode") == layout.mode:
        by_mount = dict(saved["parents"])
        parents = tuple((h, by_mount[h.mount]) for h in layout.hierarchies if h.mount in by_mount)
    else:
        parents = tuple(parent_dirs(layout, parent or ""))
        created = [d for _, d in parents if not os.path.isdir(d)]
        _save(
            state_file,
            {"mode": layout.mode, "parents": [[h.mount, d] for h, d in parents], "created": created},
        )
    root = Root(layout, parents)
    v2 = layout.v2
    if layout.mode == "v2" and v2 is not None:
        _leave_internal(root)
    for rel in ("kubepods", "kubepods/burstable", "kubepods/besteffort"):
        make(root, rel)
    write_limits(root, "kubepods/besteffort", values.CgroupLimits(cpu_shares=values.MIN_SHARES))
    return root


def _leave_internal(root: Root) -> None:
    """v2's no-internal-processes rule: a cgroup that hands controllers to
    its children may hold no process. When the parent is the daemon's own
    cgroup, move the daemon into a leaf beside the pods, as a delegated
    systemd service does."""
    h, parent = next((h, d) for h, d in root.parents if h.version == 2)
    own = os.path.normpath(os.path.join(h.mount, h.own.lstrip("/")))
    if own == parent and own != h.mount:
        leaf = os.path.join(own, "minipod-daemon")
        os.makedirs(leaf, exist_ok=True)
        for pid in read_file(os.path.join(own, "cgroup.procs"), "").split():
            plan.write(os.path.join(leaf, "cgroup.procs"), pid, missing_ok=True)


def make(root: Root, rel: str) -> None:
    """mkdir on every hierarchy; on v2, hand the controllers down each level."""
    plan.carry_out(plan.plan_make(root, rel))


def write_limits(root: Root, rel: str, limits: values.CgroupLimits) -> None:
    """The limits, on the hierarchy that has each controller (at setup
    and on an update: UpdateContainerResources)."""
    raising = False
    if root.layout.mode != "v2":
        d = root.dir(rel, "memory")
        current = read_file(os.path.join(d, "memory.limit_in_bytes"), None) if d else None
        raising = (
            limits.memory_bytes is not None and current is not None and int(current) < limits.memory_bytes
        )
    plan.carry_out(plan.plan_limits(root, rel, limits, raising))


def create(
    root: Root,
    rel: str,
    limits: values.CgroupLimits,
    devices: bool | None = None,
    extra_devices: tuple[str, ...] = (),
) -> None:
    """Step 2, here (the daemon's own kubepods, tests): a cgroup with its
    limits; `devices` as cgroup_plan.plan_create() takes it. A pod's and a
    container's are made by the child that joins them: cgroup_plan.py."""
    plan.carry_out(plan.plan_create(root, rel, limits, devices, extra_devices))


def procs_files_of(pid: int, layout: Layout) -> list[str]:
    """The cgroup.procs files of the cgroups process `pid` is in, on the
    hierarchies of `layout`: how an exec session joins its container."""
    with open(f"/proc/{pid}/cgroup") as f:
        mine = parse_proc_cgroup(f.read())
    out = []
    for h in layout.hierarchies:
        key = (
            "0"
            if h.version == 2
            else next((k for k in mine if k != "0" and set(k.split(",")) >= h.controllers), None)
        )
        if key in mine:
            out.append(os.path.join(h.mount, mine[key].lstrip("/"), "cgroup.procs"))
    return out


def pids(root: Root, rel: str) -> list[int]:
    """Every process in `rel` and below it."""
    out: list[int] = []
    top = root.tracking_dir(rel)
    for d, _, _ in os.walk(top):
        out += [int(p) for p in read_file(os.path.join(d, "cgroup.procs"), "").split()]
    return out


def populated(root: Root, rel: str) -> bool:
    d = root.tracking_dir(rel)
    events = read_file(os.path.join(d, "cgroup.events"), None)
    if events is not None:
        return "populated 1" in events
    return bool(pids(root, rel))


def signal_kill(root: Root, rel: str) -> None:
    """Step 5: SIGKILL every process below `rel`, without waiting. Nothing
    escapes: not a double fork, setsid, nor a hostPID pod's child."""
    d = root.tracking_dir(rel)
    if not os.path.isdir(d):
        return
    if os.path.exists(os.path.join(d, "cgroup.kill")):
        plan.write(os.path.join(d, "cgroup.kill"), "1", missing_ok=True)
    else:
        _freeze_and_kill(root, rel)


def kill(root: Root, rel: str, timeout: float = 5.0) -> None:
    """signal_kill(), then wait until no process is left (blocking: the
    daemon calls it in a thread, pod_cgroups.py)."""
    signal_kill(root, rel)
    deadline = time.monotonic() + timeout
    while os.path.isdir(root.tracking_dir(rel)) and populated(root, rel) and time.monotonic() < deadline:
        time.sleep(0.002)


def _freeze_and_kill(root: Root, rel: str) -> None:
    """v1: freeze first, so no process can fork while we list and kill;
    signals to frozen tasks are delivered once thawed."""
    freezer = root.dir(rel, "freezer")
    if freezer:
        plan.write(os.path.join(freezer, "freezer.state"), "FROZEN", missing_ok=True)
    try:
        for pid in pids(root, rel):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        if freezer:
            plan.write(os.path.join(freezer, "freezer.state"), "THAWED", missing_ok=True)


def remove(root: Root, rel: str, timeout: float = 5.0) -> None:
    """Step 6: rmdir `rel` and everything below it on every hierarchy.
    A cgroup whose last process has just exited may be busy a moment."""
    deadline = time.monotonic() + timeout
    for _, top in root.dirs(rel):
        for d, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if time.monotonic() > deadline:
                        raise MinipodError(f"removing cgroup {d}: rmdir: {e.strerror}") from None
                    time.sleep(0.005)


def teardown_root(root: Root, state_file: str) -> None:
    """The instance's own cgroups, once no pod is left: kubepods, and the
    parent when this instance created it."""
    for rel in ("kubepods/burstable", "kubepods/besteffort", "kubepods"):
        for _, d in root.dirs(rel):
            try:
                os.rmdir(d)
            except OSError:
                pass
    for d in sorted((_load(state_file) or {}).get("created", []), key=lambda p: -p.count("/")):
        try:
            os.rmdir(d)
        except OSError:
            pass


def read_file(path: str, default):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def _load(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _save(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_json_atomic(path, data)
