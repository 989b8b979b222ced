"""The cgroup drivers on this machine's real hierarchies, without a daemon.

v1/hybrid: limits, the device allow-list, OOM counting and freeze+kill on
the v1 controllers; the v2 code path (mkdir, nesting, cgroup.procs,
cgroup.events, cgroup.kill) on the unified hierarchy, which has no
controllers here.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest

from minipod.kube import cgroup_values as v
from minipod.linux import cgroup_layout, cgroup_stats
from minipod.linux import cgroup_plan as cgp
from minipod.linux import cgroups as cg

MI = 2**20


@pytest.fixture
def root():
    state = tempfile.mktemp(prefix="minipod-cgtest-", suffix=".json")
    r = cg.setup_root(state, f"minipod-cgtest-{os.urandom(4).hex()}")
    yield r
    cg.kill(r, "kubepods")
    cg.remove(r, "kubepods")
    cg.teardown_root(r, state)
    os.unlink(state)
    assert not [d for _, d in r.parents if os.path.exists(d)], "the test left cgroups behind"


def start_in(files: list[str], *argv: str) -> subprocess.Popen:
    """A process that joins the cgroup before it execs, as the launcher does."""
    return subprocess.Popen(argv, preexec_fn=lambda: cg.join(files), start_new_session=True)


def read(r, rel, controller, name):
    with open(os.path.join(r.dir(rel, controller), name)) as f:
        return f.read().strip()


def test_this_machine_is_hybrid_and_pods_go_below_our_own_cgroup(root):
    assert root.layout.mode == "hybrid"
    with open("/proc/self/cgroup") as f:
        own = cgroup_layout.parse_proc_cgroup(f.read())
    memory_parent = next(d for h, d in root.parents if h.has("memory"))
    assert memory_parent.startswith(os.path.join("/sys/fs/cgroup/memory", own["memory"].lstrip("/")))


def test_v1_limits_are_written_as_the_kubelet_writes_them(root):
    spec = {"containers": [{"name": "a", "resources": {"limits": {"cpu": "200m", "memory": "48Mi"}}}]}
    cg.create(root, "kubepods/podA", v.pod_limits(spec, 1024))
    cg.create(root, "kubepods/podA/c", v.container_limits(spec["containers"][0]), devices=False)
    assert read(root, "kubepods/podA/c", "cpu", "cpu.cfs_quota_us") == "20000"
    assert read(root, "kubepods/podA/c", "cpu", "cpu.cfs_period_us") == "100000"
    assert read(root, "kubepods/podA/c", "cpu", "cpu.shares") == "204"
    assert read(root, "kubepods/podA/c", "memory", "memory.limit_in_bytes") == str(48 * MI)
    assert read(root, "kubepods/podA", "memory", "memory.limit_in_bytes") == str(48 * MI)
    assert read(root, "kubepods/podA", "pids", "pids.max") == "1024"
    assert "c 1:3 rwm" in read(root, "kubepods/podA/c", "devices", "devices.list")
    assert "a *:* rwm" not in read(root, "kubepods/podA/c", "devices", "devices.list")


def test_v1_oom_kill_is_counted(root):
    cg.create(root, "kubepods/podO", v.CgroupLimits(memory_bytes=16 * MI), devices=None)
    p = start_in(
        cg.procs_files(root, "kubepods/podO"),
        "python3",
        "-c",
        "b = bytearray(200 * 2**20); b[::4096] = b'x' * (len(b) // 4096)",
    )
    assert p.wait(30) == -signal.SIGKILL
    assert cgroup_stats.oom_kills(root, "kubepods/podO") == 1


def test_v1_devices_deny_what_is_not_allowed(root, tmp_path):
    cg.create(root, "kubepods/podD", v.CgroupLimits(), devices=False)
    # The control: outside the cgroup (and on a filesystem without nodev)
    # the same device node opens.
    subprocess.run(["mknod", f"{tmp_path}/control", "c", "1", "11"], check=True)
    subprocess.run(["sh", "-c", f": < {tmp_path}/control"], check=True)
    script = (
        f"mknod {tmp_path}/kmsg c 1 11 && mknod {tmp_path}/blk b 254 0 && "
        f"echo ok > /dev/null && "
        f"! (echo x > {tmp_path}/kmsg) 2>/dev/null && ! (cat {tmp_path}/blk) 2>/dev/null && echo denied"
    )
    p = subprocess.run(
        ["sh", "-c", script],
        preexec_fn=lambda: cg.join(cg.procs_files(root, "kubepods/podD")),
        capture_output=True,
        text=True,
    )
    assert p.stdout.strip() == "denied", p.stderr


def test_v1_freeze_and_kill_reaches_double_forked_setsid_children(root):
    cg.create(root, "kubepods/podK", v.CgroupLimits())
    p = start_in(cg.procs_files(root, "kubepods/podK"), "sh", "-c", "setsid sleep 300 & sleep 300 & wait")
    deadline = time.time() + 10
    while len(cg.pids(root, "kubepods/podK")) < 3 and time.time() < deadline:
        time.sleep(0.01)
    # Only the v1 path: no cgroup.kill used here.
    v1_only = cg.Root(root.layout, tuple((h, d) for h, d in root.parents if h.version == 1))
    assert not os.path.exists(os.path.join(v1_only.tracking_dir("kubepods/podK"), "cgroup.kill"))
    cg.kill(v1_only, "kubepods/podK")
    assert p.wait(10) == -signal.SIGKILL
    assert cg.pids(root, "kubepods/podK") == []
    assert read(root, "kubepods/podK", "freezer", "freezer.state") == "THAWED"


def test_v2_path_on_the_unified_hierarchy(tmp_path):
    """The v2 driver alone: a layout with only the unified hierarchy."""
    layout = cgroup_layout.detect_host()
    v2 = layout.v2
    v2_layout = cgroup_layout.Layout("v2", (v2,))
    parent = os.path.join(v2.mount, v2.own.lstrip("/"), f"minipod-v2test-{os.urandom(4).hex()}")
    r = cg.Root(v2_layout, ((v2, parent),))
    try:
        cg.create(r, "kubepods/burstable/podV/c", v.CgroupLimits())  # no controllers: nothing written
        assert os.path.isdir(os.path.join(parent, "kubepods/burstable/podV/c"))
        assert not cg.populated(r, "kubepods/burstable/podV")
        p = start_in(
            cg.procs_files(r, "kubepods/burstable/podV/c"), "sh", "-c", "setsid sleep 300 & sleep 300"
        )
        deadline = time.time() + 10
        while len(cg.pids(r, "kubepods/burstable/podV")) < 2 and time.time() < deadline:
            time.sleep(0.01)
        with open(f"/proc/{p.pid}/cgroup") as f:
            assert f"{parent.removeprefix(v2.mount)}/kubepods/burstable/podV/c" in f.read()
        assert cg.populated(r, "kubepods/burstable/podV")  # cgroup.events, recursively
        cg.kill(r, "kubepods/burstable/podV")  # cgroup.kill
        assert p.wait(10) == -signal.SIGKILL
        assert not cg.populated(r, "kubepods/burstable/podV")
        assert cgroup_stats.cpu_usage_ns(r, "kubepods/burstable/podV") > 0  # cpu.stat usage_usec
    finally:
        cg.remove(r, "kubepods")
        os.rmdir(parent)
    assert not os.path.exists(parent)


def setup_in_child(plan: cgp.Plan) -> tuple[int, str]:
    """Fork, carry the plan out in the child (as the sandbox helper and the
    container's process do), then sleep there: (pid, "" or its error)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            cgp.setup(plan)
            os.write(w, b"OK")
        except Exception as e:  # noqa: BLE001 - the test reads it
            os.write(w, str(e).encode())
            os._exit(1)
        os.close(w)
        time.sleep(60)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        said = f.read().decode()
    return pid, "" if said == "OK" else said


def test_the_child_makes_its_cgroup_writes_its_values_and_joins_it(root):
    cg.create(root, "kubepods/podP", v.CgroupLimits(pids_max=64))
    limits = v.CgroupLimits(cpu_shares=204, cpu_quota_us=30000, memory_bytes=32 * MI)
    rel = "kubepods/podP/c1"
    plan = cgp.Plan(
        rel,
        tuple(cgp.plan_create(root, rel, limits, devices=False)),
        tuple(cg.procs_files(root, rel)),
        "container c1 of pod default/p",
    )
    assert not os.path.exists(root.dir(rel, "memory"))  # deciding made nothing
    pid, error = setup_in_child(plan)
    try:
        assert error == ""
        assert read(root, rel, "cpu", "cpu.cfs_quota_us") == "30000"
        assert read(root, rel, "memory", "memory.limit_in_bytes") == str(32 * MI)
        assert "a *:* rwm" not in read(root, rel, "devices", "devices.list")
        for _, d in root.dirs(rel):  # on every hierarchy, the unified one too
            assert str(pid) in open(os.path.join(d, "cgroup.procs")).read().split()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    cg.remove(root, rel)
    assert not [d for _, d in root.dirs(rel) if os.path.exists(d)]


def test_a_bad_value_fails_the_child_with_the_named_error_and_leaves_no_cgroup(root):
    rel = "kubepods/podB/c1"
    # A CFS quota below 1 ms: the kernel refuses it (EINVAL).
    steps = cgp.plan_create(root, rel, v.CgroupLimits(cpu_quota_us=10))
    plan = cgp.Plan(rel, tuple(steps), tuple(cg.procs_files(root, rel)), "container c1 of pod default/b")
    pid, error = setup_in_child(plan)
    os.waitpid(pid, 0)
    quota = os.path.join(root.dir(rel, "cpu"), "cpu.cfs_quota_us")
    assert error == f"container c1 of pod default/b: writing '10' to {quota}: Invalid argument"
    cg.kill(root, rel)
    cg.remove(root, rel)  # what the daemon does with the failed plan's cgroup
    assert not [d for _, d in root.dirs(rel) if os.path.exists(d)]
