"""The cgroup plans the daemon decides and the forked child carries out
(linux/cgroup_plan.py): which directories on which hierarchy, which
values, in which order. Pure: no cgroup is touched."""

import pickle

import pytest

from minipod.errors import MinipodError
from minipod.kube import cgroup_values as v
from minipod.linux import cgroup_plan as cp
from minipod.linux.cgroup_layout import Hierarchy, Layout, Root

MI = 2**20


def hybrid_root() -> Root:
    hs = [
        Hierarchy("/sys/fs/cgroup/cpu,cpuacct", 1, frozenset({"cpu", "cpuacct"}), "/"),
        Hierarchy("/sys/fs/cgroup/memory", 1, frozenset({"memory"}), "/"),
        Hierarchy("/sys/fs/cgroup/pids", 1, frozenset({"pids"}), "/"),
        Hierarchy("/sys/fs/cgroup/devices", 1, frozenset({"devices"}), "/"),
        Hierarchy("/sys/fs/cgroup/unified", 2, frozenset(), "/"),
    ]
    return Root(Layout("hybrid", tuple(hs)), tuple((h, f"{h.mount}/mp") for h in hs))


def v2_root() -> Root:
    h = Hierarchy("/sys/fs/cgroup", 2, frozenset({"cpu", "memory", "pids"}), "/")
    return Root(Layout("v2", (h,)), ((h, "/sys/fs/cgroup/mp"),))


def test_a_container_plan_makes_a_dir_per_hierarchy_then_writes_its_limits_then_its_devices():
    limits = v.CgroupLimits(cpu_shares=204, cpu_quota_us=20000, memory_bytes=48 * MI, pids_max=None)
    steps = cp.plan_create(
        hybrid_root(), "kubepods/podA/c1", limits, devices=False, extra_devices=("c 10:200 rwm",)
    )
    kinds = [s.action for s in steps]
    # Every directory first, then every value: a write never meets a missing dir.
    assert kinds == [cp.MKDIR] * 5 + [cp.WRITE] * (len(steps) - 5)
    assert [s.path for s in steps[:5]] == [
        "/sys/fs/cgroup/cpu,cpuacct/mp/kubepods/podA/c1",
        "/sys/fs/cgroup/memory/mp/kubepods/podA/c1",
        "/sys/fs/cgroup/pids/mp/kubepods/podA/c1",
        "/sys/fs/cgroup/devices/mp/kubepods/podA/c1",
        "/sys/fs/cgroup/unified/mp/kubepods/podA/c1",
    ]
    writes = [(s.path.rsplit("/", 1)[1], s.value) for s in steps[5:]]
    assert writes[:5] == [
        ("cpu.shares", "204"),
        ("cpu.cfs_period_us", "100000"),
        ("cpu.cfs_quota_us", "20000"),
        ("memory.limit_in_bytes", str(48 * MI)),
        ("memory.memsw.limit_in_bytes", str(48 * MI)),
    ]
    assert (
        steps[3 + 5].missing_ok is False and steps[4 + 5].missing_ok is True
    )  # memsw: swap accounting may be off
    # deny all, then the defaults, then the devices its creator gave it
    assert writes[5] == ("devices.deny", "a")
    assert writes[-1] == ("devices.allow", "c 10:200 rwm")
    assert all(s.path.startswith("/sys/fs/cgroup/devices/") for s in steps[10:])


def test_a_privileged_container_gets_every_device_and_none_leaves_them_open():
    root = hybrid_root()
    privileged = cp.plan_devices(root, "p/c", True)
    assert [(s.path, s.value) for s in privileged] == [("/sys/fs/cgroup/devices/mp/p/c/devices.allow", "a")]
    steps = cp.plan_create(root, "p/c", v.CgroupLimits(), devices=None)
    assert not [s for s in steps if "devices." in s.path]


def test_raising_a_memory_limit_writes_memory_and_swap_first():
    steps = cp.plan_limits(hybrid_root(), "p/c", v.CgroupLimits(memory_bytes=64 * MI), raising_memory=True)
    assert [s.path.rsplit("/", 1)[1] for s in steps] == [
        "memory.memsw.limit_in_bytes",
        "memory.limit_in_bytes",
    ]


def test_on_v2_each_level_hands_the_controllers_down():
    steps = cp.plan_make(v2_root(), "kubepods/podA")
    assert steps[0] == cp.Step(cp.MKDIR, "/sys/fs/cgroup/mp/kubepods/podA")
    assert [(s.path, s.value) for s in steps[1:]] == [
        ("/sys/fs/cgroup/mp/cgroup.subtree_control", "+cpu +memory +pids"),
        ("/sys/fs/cgroup/mp/kubepods/cgroup.subtree_control", "+cpu +memory +pids"),
    ]
    limits = cp.plan_limits(v2_root(), "kubepods/podA", v.CgroupLimits(cpu_quota_us=50000, memory_bytes=MI))
    assert ("cpu.max", "50000 100000") in [(s.path.rsplit("/", 1)[1], s.value) for s in limits]


def test_a_plan_crosses_to_the_fork_server_intact():
    root = hybrid_root()
    plan = cp.Plan(
        "p/c", tuple(cp.plan_make(root, "p/c")), tuple(cp.procs_files(root, "p/c")), "container c of pod d/p"
    )
    assert pickle.loads(pickle.dumps(plan)) == plan
    assert plan.procs[0] == "/sys/fs/cgroup/cpu,cpuacct/mp/p/c/cgroup.procs"


def test_a_failed_step_names_the_container_the_pod_the_path_and_the_value(tmp_path):
    missing = tmp_path / "gone" / "cpu.shares"
    with pytest.raises(MinipodError) as e:
        cp.carry_out([cp.Step(cp.WRITE, str(missing), "204")], "container web of pod default/p")
    assert (
        str(e.value)
        == f"container web of pod default/p: writing '204' to {missing}: No such file or directory"
    )
    cp.carry_out([cp.Step(cp.WRITE, str(missing), "1", missing_ok=True)])  # memsw without swap accounting
