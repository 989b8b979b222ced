"""A cgroup to make, as a plan: decided by the daemon, carried out by the
process that joins it.

A pod's or a container's cgroup on a hybrid host is ~20 mkdirs (one per
hierarchy) and ~20 writes (its limits, the device allow-list). Done by
the daemon, each one would stall its single event loop, and with it
every other pod's start. So the daemon only decides, and the forked
child that joins the cgroup (the sandbox helper for the pod's, the
container's own process for the container's) does the work, on the other
core, while the loop goes on with the next pod; as runc makes a
container's cgroup in its own process, not containerd's.

Steps, in order:
    1. the daemon: plan_make(), plan_limits(), plan_devices() (pure, from
       the instance's Root): Steps in order (make a directory, write a
       value into a file); a Plan adds the cgroup.procs files to join and
       whom it is for (errors name the container and the pod);
    2. the child: setup(plan): carry_out() each step in order, then
       join(), before it does anything else; a failure names the step,
       the path, the value, the container and the pod;
    3. the daemon, when the start failed: removes the cgroup the plan
       named (Plan.rel: cgroups.remove()), so nothing is left behind.
"""

import os
from dataclasses import dataclass

from minipod import trace
from minipod.errors import MinipodError
from minipod.kube import cgroup_values as values
from minipod.linux.cgroup_layout import V2_CONTROLLERS, Hierarchy, Root

MKDIR = "mkdir"
WRITE = "write"


@dataclass(frozen=True)
class Step:
    action: str  # MKDIR or WRITE
    path: str  # the directory to make, or the file to write
    value: str = ""
    missing_ok: bool = False  # memory.memsw.* exists only with swap accounting on


@dataclass(frozen=True)
class Plan:
    rel: str  # the cgroup it makes, below the instance's parents (removed on failure)
    steps: tuple[Step, ...]
    procs: tuple[str, ...]  # the cgroup.procs files the child writes itself into
    who: str = ""  # "container web of pod default/p": what its errors name


# --- 1. deciding (pure) ------------------------------------------------------
def plan_make(root: Root, rel: str) -> list[Step]:
    """mkdir on every hierarchy; on v2, hand the controllers down each level."""
    steps = []
    for h, d in root.dirs(rel):
        steps.append(Step(MKDIR, d))
        if h.version == 2 and h.controllers:
            steps += _enable_controllers(h, d)
    return steps


def _enable_controllers(h: Hierarchy, d: str) -> list[Step]:
    wanted = " ".join(f"+{c}" for c in V2_CONTROLLERS if h.has(c))
    top = os.path.normpath(h.mount)
    parent = os.path.dirname(d)
    chain = []
    while parent.startswith(top) and parent != top:
        chain.append(parent)
        parent = os.path.dirname(parent)
    return [Step(WRITE, os.path.join(p, "cgroup.subtree_control"), wanted) for p in reversed(chain)]


def plan_limits(
    root: Root, rel: str, limits: values.CgroupLimits, raising_memory: bool = False
) -> list[Step]:
    """The limits, on the hierarchy that has each controller.
    `raising_memory`: an update above the current v1 memory limit, which
    must raise memory+swap first (it may never be below memory)."""
    if root.layout.mode == "v2":
        lines = values.v2_files(limits)
    else:
        lines = values.v1_files(limits)
        if raising_memory:
            lines.sort(key=lambda line: line[1] != "memory.memsw.limit_in_bytes")
    steps = []
    for controller, name, value in lines:
        d = root.dir(rel, controller)
        if d is not None:
            steps.append(
                Step(WRITE, os.path.join(d, name), value, missing_ok=name.startswith("memory.memsw"))
            )
    return steps


def plan_devices(root: Root, rel: str, privileged: bool, extra: tuple[str, ...] = ()) -> list[Step]:
    """The device allow-list (v1 devices controller). On v2 the same
    list is an eBPF program (runc's devicefilter): not done yet; the
    container's missing CAP_MKNOD-free /dev and dropped capabilities are
    then what stands in for it (see the README)."""
    d = root.dir(rel, "devices")
    if d is None:
        return []
    return [
        Step(WRITE, os.path.join(d, name), rule) for name, rule in values.v1_device_rules(privileged, extra)
    ]


def plan_create(
    root: Root,
    rel: str,
    limits: values.CgroupLimits,
    devices: bool | None = None,
    extra_devices: tuple[str, ...] = (),
) -> list[Step]:
    """A cgroup with its limits; `devices` False for the default
    allow-list (and `extra_devices`' rules), True for a privileged
    container, None to leave it open."""
    steps = plan_make(root, rel) + plan_limits(root, rel, limits)
    if devices is not None:
        steps += plan_devices(root, rel, devices, extra_devices)
    return steps


def procs_files(root: Root, rel: str) -> list[str]:
    """The cgroup.procs a process writes itself into to join `rel`."""
    return [os.path.join(d, "cgroup.procs") for _, d in root.dirs(rel)]


# --- 2. carrying it out (in the child) ---------------------------------------
def setup(plan: Plan) -> None:
    """Make the cgroup, then join it: from here on, all this process and
    its children do is accounted and limited."""
    carry_out(plan.steps, plan.who)
    join(list(plan.procs), plan.who)


def carry_out(steps: list[Step] | tuple[Step, ...], who: str = "") -> None:
    for s in steps:
        if s.action == MKDIR:
            try:
                with trace.span("cgroup mkdir", s.path):
                    os.makedirs(s.path, exist_ok=True)
            except OSError as e:
                raise MinipodError(f"{_of(who)}creating cgroup {s.path}: mkdir: {e.strerror}") from None
        else:
            write(s.path, s.value, s.missing_ok, who)


def join(files: list[str], who: str = "") -> None:
    """In the process that joins: "0" means the writer itself."""
    for path in files:
        try:
            with trace.span("cgroup join", path), open(path, "w") as f:
                f.write("0")
        except OSError as e:
            raise MinipodError(
                f"{_of(who)}joining cgroup {os.path.dirname(path)}: write cgroup.procs: {e.strerror}"
            ) from None


def write(path: str, value: str, missing_ok: bool = False, who: str = "") -> None:
    try:
        with trace.span("cgroup write", f"{path} {value}"), open(path, "w") as f:
            f.write(value)
    except FileNotFoundError as e:
        if not missing_ok:
            raise MinipodError(f"{_of(who)}writing {value!r} to {path}: {e.strerror}") from None
    except OSError as e:
        if missing_ok and e.errno in (3, 22):  # ESRCH, EINVAL: the process or cgroup is gone
            return
        raise MinipodError(f"{_of(who)}writing {value!r} to {path}: {e.strerror}") from None


def _of(who: str) -> str:
    return f"{who}: " if who else ""
