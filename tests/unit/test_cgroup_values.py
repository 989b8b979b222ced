"""The values written into each controller's files, for v1 and v2: no root."""

from minipod.kube import cgroup_values as v
from minipod.linux import cgroup_layout

MI = 2**20


def test_kubelet_conversions():
    assert v.cpu_shares(0) == 2
    assert v.cpu_shares(1) == 2
    assert v.cpu_shares(250) == 256
    assert v.cpu_shares(1000) == 1024
    assert v.cpu_shares(10**9) == 262144
    assert v.cpu_quota(200) == 20000
    assert v.cpu_quota(5) == 1000  # the kernel's minimum
    assert v.cpu_quota(0) is None
    assert v.cpu_weight(2) == 1
    assert v.cpu_weight(1024) == 39
    assert v.cpu_weight(262144) == 10000


def test_container_files_v1_and_v2():
    limits = v.container_limits(
        {"resources": {"limits": {"cpu": "200m", "memory": "48Mi"}, "requests": {"cpu": "100m"}}}
    )
    assert v.v1_files(limits) == [
        ("cpu", "cpu.shares", "102"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.cfs_quota_us", "20000"),
        ("memory", "memory.limit_in_bytes", str(48 * MI)),
        ("memory", "memory.memsw.limit_in_bytes", str(48 * MI)),
    ]
    assert v.v2_files(limits) == [
        ("cpu", "cpu.weight", "4"),
        ("cpu", "cpu.max", "20000 100000"),
        ("memory", "memory.max", str(48 * MI)),
        ("memory", "memory.swap.max", "0"),
    ]
    assert v.v1_files(v.container_limits({})) == [("cpu", "cpu.shares", "2")]


def test_pod_files_sum_the_containers_and_limit_pids():
    spec = {
        "containers": [
            {"name": "a", "resources": {"limits": {"memory": "48Mi", "cpu": "200m"}}},
            {"name": "b", "resources": {"limits": {"memory": "16Mi", "cpu": "100m"}}},
        ]
    }
    files = dict(((c, f), val) for c, f, val in v.v1_files(v.pod_limits(spec, 1024)))
    assert files[("memory", "memory.limit_in_bytes")] == str(64 * MI)
    assert files[("cpu", "cpu.cfs_quota_us")] == "30000"
    assert files[("cpu", "cpu.shares")] == "307"
    assert files[("pids", "pids.max")] == "1024"
    # One container without a memory limit: the pod has none either.
    del spec["containers"][1]["resources"]["limits"]["memory"]
    files = {f: val for _, f, val in v.v2_files(v.pod_limits(spec, 64))}
    assert "memory.max" not in files and files["pids.max"] == "64" and files["cpu.max"] == "30000 100000"
    best_effort = v.pod_limits({"containers": [{"name": "a"}]}, 1024)
    assert v.v2_files(best_effort) == [("cpu", "cpu.weight", "1"), ("pids", "pids.max", "1024")]


def test_devices_deny_all_but_the_defaults():
    rules = v.v1_device_rules(privileged=False)
    assert rules[0] == ("devices.deny", "a")
    allowed = [r for f, r in rules if f == "devices.allow"]
    assert "c 1:3 rwm" in allowed and "c 136:* rwm" in allowed and "c 1:11 rwm" not in allowed
    assert v.v1_device_rules(privileged=True) == [("devices.allow", "a")]
    assert v.qos_parent("Guaranteed") == "kubepods"
    assert v.qos_parent("BestEffort") == "kubepods/besteffort"


HYBRID_MOUNTS = """\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
22 1 0:20 / /proc rw - proc proc rw
"""
HYBRID_SELF = "9:name=systemd:/\n4:memory:/user/a\n2:cpuacct:/\n1:cpu:/\n0::/user\n"
V2_MOUNTS = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"


def test_detect_hybrid_and_v2():
    layout = cgroup_layout.detect(HYBRID_MOUNTS, HYBRID_SELF, "hugetlb")
    assert layout.mode == "hybrid"
    assert [(h.mount, h.version, h.own) for h in layout.hierarchies] == [
        ("/sys/fs/cgroup/cpu", 1, "/"),
        ("/sys/fs/cgroup/cpuacct", 1, "/"),
        ("/sys/fs/cgroup/memory", 1, "/user/a"),
        ("/sys/fs/cgroup/unified", 2, "/user"),
    ]
    assert layout.v2.controllers == frozenset()  # tracking only
    v2 = cgroup_layout.detect(V2_MOUNTS, "0::/system.slice/minipod.service\n", "cpu memory pids io")
    assert v2.mode == "v2" and v2.v2.has("memory") and v2.v2.own == "/system.slice/minipod.service"
    parents = cgroup_layout.parent_dirs(v2, "pods")
    assert parents[0][1] == "/sys/fs/cgroup/system.slice/minipod.service/pods"
    assert cgroup_layout.parent_dirs(v2, "/minipod")[0][1] == "/sys/fs/cgroup/minipod"
