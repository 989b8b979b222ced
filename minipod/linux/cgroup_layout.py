"""Which cgroup hierarchies this host has, and where we are in each.

Read from /proc/self/mountinfo and /proc/self/cgroup, never assumed:
    parse_mounts()       the cgroup and cgroup2 mounts, with v1 controllers
    parse_proc_cgroup()  the cgroup of a process on each hierarchy
    detect()             v2, hybrid (v1 controllers + an empty v2 hierarchy
                         that only tracks processes) or v1: a Layout
    parent_dirs()        the instance's parent cgroup on each hierarchy
    Root                 an instance's layout and parents: a cgroup's dirs
Pure functions (detect_host() aside), unit-tested with sample files.
"""

import functools
import os
from dataclasses import dataclass

from minipod.errors import MinipodError

# The v1 controllers minipod uses; others (cpuset needs cpus and mems
# copied into each child, blkio, net_cls, ...) are left alone.
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "devices", "freezer")
V2_CONTROLLERS = ("cpu", "memory", "pids")


@dataclass(frozen=True)
class Hierarchy:
    mount: str  # where the hierarchy is mounted
    version: int  # 1 or 2
    controllers: frozenset  # v1: bound to it; v2: listed in cgroup.controllers
    own: str  # the cgroup this process is in, on this hierarchy ("/", "/a/b")

    def has(self, controller: str) -> bool:
        return controller in self.controllers


@dataclass(frozen=True)
class Layout:
    mode: str  # "v2", "hybrid" or "v1"
    hierarchies: tuple

    @property
    def v2(self) -> Hierarchy | None:
        return next((h for h in self.hierarchies if h.version == 2), None)

    def with_controller(self, name: str) -> list[Hierarchy]:
        return [h for h in self.hierarchies if h.has(name)]


@dataclass(frozen=True)
class Root:
    """An instance's cgroups: its layout and its parent dir per hierarchy."""

    layout: Layout
    parents: tuple  # (Hierarchy, absolute dir of the instance's parent) pairs

    def dirs(self, rel: str) -> list[tuple[Hierarchy, str]]:
        return [(h, os.path.join(p, rel)) for h, p in self.parents]

    def dir(self, rel: str, controller: str) -> str | None:
        """The directory of `rel` on the hierarchy holding `controller`."""
        return next((d for h, d in self.dirs(rel) if h.has(controller)), None)

    def tracking_dir(self, rel: str) -> str:
        """Where the processes of `rel` are listed and killed: the v2
        hierarchy when there is one, else v1's freezer (or any)."""
        dirs = self.dirs(rel)
        for h, d in dirs:
            if h.version == 2:
                return d
        return next((d for h, d in dirs if h.has("freezer")), dirs[0][1])


def parse_mounts(mountinfo: str) -> list[tuple[str, str, frozenset]]:
    """(mount point, "cgroup" or "cgroup2", v1 controllers) for each cgroup
    mount in /proc/self/mountinfo (proc(5): the fields after " - ")."""
    out = []
    for line in mountinfo.splitlines():
        pre, _, post = line.partition(" - ")
        fields, post_fields = pre.split(), post.split()
        if len(post_fields) < 3 or post_fields[0] not in ("cgroup", "cgroup2"):
            continue
        options = set(post_fields[2].split(","))
        out.append((fields[4], post_fields[0], frozenset(options & set(V1_CONTROLLERS))))
    return out


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/PID/cgroup: hierarchy key ("0" for v2, else the comma-joined
    controllers) -> path of the cgroup."""
    out = {}
    for line in text.splitlines():
        num, controllers, path = line.split(":", 2)
        out["0" if num == "0" and not controllers else controllers] = path
    return out


def detect(mountinfo: str, proc_cgroup: str, v2_controllers: str = "") -> Layout:
    """Which cgroup versions this host has, and where we are in each.
    `v2_controllers` is the v2 root's cgroup.controllers."""
    mine = parse_proc_cgroup(proc_cgroup)
    hierarchies = []
    v1_seen = False
    for mount, fstype, controllers in parse_mounts(mountinfo):
        if fstype == "cgroup2":
            hierarchies.append(Hierarchy(mount, 2, frozenset(v2_controllers.split()), mine.get("0", "/")))
        elif controllers:
            key = next((k for k in mine if k != "0" and set(k.split(",")) >= controllers), None)
            if key is not None:
                v1_seen = True
                hierarchies.append(Hierarchy(mount, 1, controllers, mine[key]))
    if not hierarchies:
        raise MinipodError("no cgroup filesystem is mounted", hint="mount cgroup2 on /sys/fs/cgroup")
    v2 = [h for h in hierarchies if h.version == 2]
    if v1_seen:
        # Hybrid: the v2 hierarchy only tracks processes; it holds no controller.
        hierarchies = [h for h in hierarchies if h.version == 1] + [
            Hierarchy(h.mount, 2, frozenset(), h.own) for h in v2[:1]
        ]
        return Layout("hybrid" if v2 else "v1", tuple(hierarchies))
    return Layout("v2", tuple(v2[:1]))


@functools.cache
def detect_host() -> Layout:
    """This host's layout (it does not change while we run)."""
    with open("/proc/self/mountinfo") as f:
        mountinfo = f.read()
    with open("/proc/self/cgroup") as f:
        proc_cgroup = f.read()
    v2_controllers = ""
    for mount, fstype, _ in parse_mounts(mountinfo):
        if fstype == "cgroup2":
            v2_controllers = _read_controllers(mount)
            break
    return detect(mountinfo, proc_cgroup, v2_controllers)


def parent_dirs(layout: Layout, parent: str) -> list[tuple[Hierarchy, str]]:
    """The instance's parent on each hierarchy: `parent` if absolute
    (from the hierarchy's root, as the kubelet's --cgroup-root), else
    below the cgroup this process is in."""
    out = []
    for h in layout.hierarchies:
        rel = parent if parent.startswith("/") else os.path.join(h.own, parent)
        out.append((h, os.path.normpath(os.path.join(h.mount, rel.lstrip("/")))))
    return out


def _read_controllers(mount: str) -> str:
    try:
        with open(os.path.join(mount, "cgroup.controllers")) as f:
            return f.read().strip()
    except OSError:
        return ""
