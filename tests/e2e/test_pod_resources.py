"""Issue 13: every pod in its own cgroup, on this machine's real (hybrid)
cgroups: limits, OOMKilled, the pids limit, devices, QoS, admission
against the node, `top`, and nothing left behind."""

import json
import os
import signal
import time

import pytest
from helpers.host import eventually
from helpers.instance import running_instance
from helpers.pods import pod_yaml

MI = 2**20


def cgroup_dirs(pid: int) -> dict[str, str]:
    """controller -> the directory of the cgroup process `pid` is in."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.strip().split(":", 2)
            if controllers in ("memory", "cpu", "pids", "devices", "freezer"):
                out[controllers] = os.path.join("/sys/fs/cgroup", controllers, path.lstrip("/"))
            elif controllers == "":
                out["unified"] = os.path.join("/sys/fs/cgroup/unified", path.lstrip("/"))
    return out


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def container_pid(mp, pod: str, container: str = "main") -> int:
    for c in mp.inspect(pod)["containers"]:
        if c["name"] == container:
            return c["process"]["pid"]
    raise AssertionError(f"no container {container} in {pod}")


def with_resources(
    name: str, command: str, resources: str, restart: str = "Always", extra_spec: str = ""
) -> str:
    return pod_yaml(name, command, restart=restart, extra_spec=extra_spec, extra_container=resources)


def test_oomkilled_from_the_cgroup_and_pod_limit_is_the_sum(mp, pod_name):
    manifest = f"""apiVersion: v1
kind: Pod
metadata:
  name: {pod_name}
spec:
  restartPolicy: Always
  containers:
  - name: main
    image: busybox:1.35
    command: ["sh", "-c", "sleep 1; awk 'BEGIN {{ s = \\"x\\"; for (i = 0; i < 29; i++) s = s s; print length(s) }}'"]
    resources:
      limits: {{memory: 48Mi}}
  - name: side
    image: busybox:1.35
    command: ["sleep", "3600"]
    resources:
      limits: {{memory: 16Mi, cpu: 100m}}
"""
    mp.apply(manifest)
    pod = mp.wait_for(
        pod_name,
        lambda p: any(
            (c.get("lastState") or {}).get("terminated", {}).get("reason") == "OOMKilled"
            or c["state"].get("terminated", {}).get("reason") == "OOMKilled"
            for c in p["status"].get("containerStatuses", [])
        ),
        timeout=60,
        what="an OOMKilled container",
    )
    main = next(c for c in pod["status"]["containerStatuses"] if c["name"] == "main")
    term = main["state"].get("terminated") or main["lastState"]["terminated"]
    assert term["exitCode"] == 137 and term["reason"] == "OOMKilled"
    # restartPolicy Always: it is restarted, with back-off.
    pod = mp.wait_for(
        pod_name,
        lambda p: (
            next(c for c in p["status"]["containerStatuses"] if c["name"] == "main")["restartCount"] >= 1
        ),
        what="a restart",
    )
    events = mp.run("describe", "pod", pod_name).stdout
    assert "OOMKilling" in events
    assert pod["status"]["qosClass"] == "Burstable"
    pod_dir = os.path.dirname(cgroup_dirs(container_pid(mp, pod_name, "side"))["memory"])
    assert read(os.path.join(pod_dir, "memory.limit_in_bytes")) == str(64 * MI)
    mp.delete(pod_name)
    assert not os.path.exists(pod_dir)


def test_cpu_limit_is_a_quota_and_requests_are_shares(mp, pod_name):
    mp.run_pod(
        with_resources(
            pod_name,
            "sleep 3600",
            "    resources:\n      requests: {cpu: 100m, memory: 32Mi}\n      limits: {cpu: 200m, memory: 64Mi}",
        )
    )
    cg = cgroup_dirs(container_pid(mp, pod_name))
    assert read(os.path.join(cg["cpu"], "cpu.cfs_quota_us")) == "20000"
    assert read(os.path.join(cg["cpu"], "cpu.cfs_period_us")) == "100000"
    assert read(os.path.join(cg["cpu"], "cpu.shares")) == "102"
    assert read(os.path.join(cg["memory"], "memory.limit_in_bytes")) == str(64 * MI)
    assert read(os.path.join(cg["memory"], "memory.memsw.limit_in_bytes")) == str(64 * MI)  # no swap
    # The kubelet's layout: .../kubepods/burstable/pod<uid>/<container id>
    uid = mp.pod(pod_name)["metadata"]["uid"]
    assert f"/kubepods/burstable/pod{uid}/" in cg["memory"]
    assert f"/{mp.cgroup_parent}/" in cg["memory"]
    mp.delete(pod_name)


@pytest.fixture
def pids_mp():
    with running_instance("pids", ["--pod-pids-limit", "40"]) as inst:
        yield inst


def pod_cgroup(mp, pod: str, controller: str) -> str:
    """The pod's cgroup directory on one v1 hierarchy, from the instance's
    cgroup parents (lib/cgroups.json) and the kubelet's layout."""
    with open(os.path.join(mp.root, "lib", "cgroups.json")) as f:
        parent = next(d for m, d in json.load(f)["parents"] if m.endswith("/" + controller))
    p = mp.pod(pod)
    qos = {"Guaranteed": "", "Burstable": "burstable", "BestEffort": "besteffort"}[p["status"]["qosClass"]]
    return os.path.join(parent, "kubepods", qos, f"pod{p['metadata']['uid']}")


def test_a_fork_loop_stops_at_the_pids_limit(pids_mp, pod_name):
    mp = pids_mp
    mp.run_pod(pod_yaml("calm", "sleep 3600"))
    # busybox sh gives up at the first fork that fails (EAGAIN).
    loop = "i=0; while [ $i -lt 200 ]; do sleep 3600 & i=$((i+1)); done"
    mp.apply(pod_yaml(pod_name, loop, restart="Never"))
    pod = mp.wait_for(
        pod_name, lambda p: p["status"]["phase"] == "Failed", what="the fork loop to hit the limit"
    )
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert "can't fork: Resource temporarily unavailable" in mp.logs(pod_name)
    pids_dir = pod_cgroup(mp, pod_name, "pids")
    assert read(os.path.join(pids_dir, "pids.max")) == "40"
    refused = sum(int(read(os.path.join(d, "pids.events")).split()[1]) for d, _, _ in os.walk(pids_dir))
    assert refused >= 1  # pids.events "max": forks refused, counted where they were tried
    # The shell was PID 1 of the container's own pid namespace: when it
    # exited, the kernel killed its 38 sleeps; the pod init is left.
    eventually(
        lambda: int(read(os.path.join(pids_dir, "pids.current"))) == 1,
        what="the container's processes to go with its PID 1",
    )
    # The other pod and the node are fine.
    assert mp.run("exec", "calm", "--", "echo", "alive").stdout == "alive\n"
    mp.delete(pod_name, "calm")
    assert not os.path.exists(pids_dir)


def test_devices_made_with_mknod_cannot_be_opened(mp, pod_name):
    mp.run_pod(pod_yaml(pod_name, "sleep 3600"))
    script = (
        "mknod /tmp/kmsg c 1 11 && mknod /tmp/blk b 254 0 && "
        "{ echo x > /tmp/kmsg; } 2>/tmp/e1; { head -c1 /tmp/blk; } 2>/tmp/e2; "
        "cat /tmp/e1 /tmp/e2; echo ok > /dev/null && head -c4 /dev/urandom | wc -c && head -c4 /dev/zero | wc -c"
    )
    out = mp.run("exec", pod_name, "--", "sh", "-c", script).stdout
    # Refused twice over: the devices cgroup (EPERM), and since the
    # container's filesystems are nodev, the mount too (EACCES).
    assert out.count("Operation not permitted") + out.count("Permission denied") == 2, out
    devices = read(os.path.join(cgroup_dirs(container_pid(mp, pod_name))["devices"], "devices.list"))
    assert "a *:* rwm" not in devices and "c 1:3 rwm" in devices and "c 1:11" not in devices
    assert out.strip().endswith("4\n4") or out.split()[-2:] == ["4", "4"], out
    mp.delete(pod_name)


def test_qos_classes_and_describe_node_sums_requests_and_limits(mp):
    def allocated() -> dict:
        out = {}
        text = mp.run("describe", "node", os.uname().nodename).stdout
        table = text.split("Allocated resources:")[1]
        for line in table.splitlines():
            parts = line.split()
            if parts and parts[0] in ("cpu", "memory"):
                out[parts[0]] = (parts[1], parts[3])
        return out

    def millis(q: str) -> int:
        return int(q[:-1]) if q.endswith("m") else int(q) * 1000

    before = allocated()
    mp.apply(with_resources("qos-g", "sleep 3600", "    resources:\n      limits: {cpu: 100m, memory: 32Mi}"))
    mp.apply(
        with_resources(
            "qos-b", "sleep 3600", "    resources:\n      requests: {cpu: 50m}\n      limits: {cpu: 250m}"
        )
    )
    mp.apply(pod_yaml("qos-be", "sleep 3600"))
    assert mp.pod("qos-g")["status"]["qosClass"] == "Guaranteed"
    assert mp.pod("qos-b")["status"]["qosClass"] == "Burstable"
    assert mp.pod("qos-be")["status"]["qosClass"] == "BestEffort"
    assert "QoS Class:" in mp.run("describe", "pod", "qos-g").stdout
    after = allocated()
    assert millis(after["cpu"][0]) - millis(before["cpu"][0]) == 150  # requests 100m + 50m
    assert millis(after["cpu"][1]) - millis(before["cpu"][1]) == 350  # limits 100m + 250m
    text = mp.run("describe", "node", os.uname().nodename).stdout
    row = next(line for line in text.splitlines() if " qos-b " in line)
    assert "50m (" in row and "250m (" in row
    for section in ("Capacity:", "Allocatable:", "Non-terminated Pods:", "Allocated resources:"):
        assert section in text
    mp.delete("qos-g", "qos-b", "qos-be")


def test_a_pod_that_does_not_fit_is_pending_until_room_is_made(mp):
    node = json.loads(mp.run("get", "node", os.uname().nodename, "-o", "json").stdout)
    assert node["kind"] == "Node" and node["status"]["capacity"]["pods"] == "110"
    nodes = mp.run("get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] and "Ready" in nodes[1]
    mp.apply(with_resources("huge", "sleep 3600", "    resources:\n      requests: {memory: 4000Gi}"))
    pod = mp.pod("huge")
    assert pod["status"]["phase"] == "Pending"
    cond = pod["status"]["conditions"]
    assert cond == [
        {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": cond[0]["lastTransitionTime"],
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient memory.",
        }
    ]
    assert "FailedScheduling" in mp.run("describe", "pod", "huge").stdout
    mp.delete("huge")
    # Two thirds of what is left, twice: the second waits for the first.
    free = _free_memory(mp)
    half = f"{free * 2 // 3 // MI}Mi"
    req = f"    resources:\n      requests: {{memory: {half}}}"
    mp.apply(with_resources("first", "sleep 3600", req))
    mp.apply(with_resources("second", "sleep 3600", req))
    mp.apply(with_resources("third", "sleep 3600", req))
    mp.wait_for("first", lambda p: p["status"]["phase"] == "Running", what="Running")
    time.sleep(1)
    for name in ("second", "third"):
        pod = mp.pod(name)
        assert pod["status"]["phase"] == "Pending"
        assert pod["status"]["conditions"][0]["message"] == "0/1 nodes are available: 1 Insufficient memory."
    mp.delete("first")
    # In creation order: the second runs, the third still waits.
    mp.wait_for("second", lambda p: p["status"]["phase"] == "Running", what="Running once room was made")
    assert mp.pod("third")["status"]["phase"] == "Pending"
    scheduled = next(c for c in mp.pod("second")["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "True"
    mp.delete("second", "third")


def _free_memory(mp) -> int:
    from minipod.kube import quantity, resources

    node = json.loads(mp.run("get", "node", os.uname().nodename, "-o", "json").stdout)
    alloc = quantity.value(node["status"]["allocatable"]["memory"])
    pods = json.loads(mp.run("get", "pods", "-A", "-o", "json").stdout)["items"]
    used = sum(resources.pod_requests(p["spec"]).get("memory", 0) for p in pods)
    return alloc - used


def test_delete_kills_a_hostpid_pods_setsid_child_and_leaves_no_cgroup(mp, pod_name):
    mp.run_pod(
        pod_yaml(pod_name, "setsid sleep 98765 & sleep 3600", extra_spec="  hostPID: true"),
    )
    uid = mp.pod(pod_name)["metadata"]["uid"]

    def escaped() -> list[int]:
        out = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if read(f"/proc/{pid}/cmdline").replace("\0", " ").strip() == "sleep 98765":
                    if uid in read(f"/proc/{pid}/cgroup"):
                        out.append(int(pid))
            except OSError:
                pass
        return out

    deadline = time.time() + 10
    while not escaped() and time.time() < deadline:
        time.sleep(0.05)
    child = escaped()
    assert child, "the setsid child did not start"
    pod_dirs = {k: os.path.dirname(v) for k, v in cgroup_dirs(container_pid(mp, pod_name)).items()}
    mp.delete(pod_name)
    assert escaped() == []
    left = [d for d in pod_dirs.values() if os.path.exists(d)]
    assert left == []


def test_top_reads_the_cgroups(mp, pod_name):
    mp.run_pod(
        with_resources(
            pod_name, "while :; do :; done", "    resources:\n      limits: {cpu: 200m, memory: 32Mi}"
        )
    )
    out = mp.run("top", "pod", pod_name).stdout.splitlines()
    assert out[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    name, cpu, mem = out[1].split()
    assert name == pod_name and cpu.endswith("m") and mem.endswith("Mi")
    assert int(cpu[:-1]) <= 300  # the quota holds it near 200m
    out = mp.run("top", "pod", "--containers").stdout.splitlines()
    assert out[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    row = next(line.split() for line in out[1:] if line.split()[:2] == [pod_name, "main"])
    # One container: the pod's line and the container's agree (in Mi).
    assert abs(int(row[3][:-2]) - int(mem[:-2])) <= 1
    out = mp.run("top", "node").stdout.splitlines()
    assert out[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert out[1].split()[0] == os.uname().nodename
    mp.delete(pod_name)


def test_a_restarted_daemon_finds_its_pods_cgroups(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(with_resources(pod_name, "sleep 3600", "    resources:\n      limits: {memory: 32Mi}"))
    pod_dir = os.path.dirname(cgroup_dirs(container_pid(mp, pod_name))["memory"])
    mp.kill_daemon(signal.SIGKILL)
    mp.start_daemon()
    assert mp.pod(pod_name)["status"]["phase"] == "Running"
    assert mp.run("top", "pod", pod_name).stdout.splitlines()[1].split()[0] == pod_name
    assert read(os.path.join(pod_dir, "memory.limit_in_bytes")) == str(32 * MI)
    mp.delete(pod_name)
    assert not os.path.exists(pod_dir)


def test_memory_empty_dir_size_limit_is_the_tmpfs_size(mp, pod_name):
    extra_spec = "  volumes:\n  - name: scratch\n    emptyDir: {medium: Memory, sizeLimit: 1Mi}"
    mount = "    volumeMounts:\n    - {name: scratch, mountPath: /scratch}"
    mp.run_pod(pod_yaml(pod_name, "sleep 3600", extra_spec=extra_spec, extra_container=mount))
    p = mp.run(
        "exec", pod_name, "--", "sh", "-c", "dd if=/dev/zero of=/scratch/f bs=1k count=2048", check=False
    )
    assert p.returncode != 0 and "No space left on device" in p.stderr + p.stdout
    mp.delete(pod_name)


def test_a_start_that_fails_after_its_cgroup_was_made_leaves_no_cgroup(mp, pod_name):
    """The container's process makes its own cgroup (linux/cgroup_plan.py);
    when its setup then fails (a workingDir it cannot create on a read-only
    root: CreateContainerError), the daemon removes that cgroup again."""
    broken = "    workingDir: /not/there\n    securityContext:\n      readOnlyRootFilesystem: true"
    mp.apply(pod_yaml(pod_name, "sleep 3600", extra_container=broken))

    def failed(p):
        waiting = ((p["status"].get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting") or {}
        return waiting.get("reason") == "CreateContainerError" and "/not/there" in waiting.get("message", "")

    pod = mp.wait_for(pod_name, failed, what="CreateContainerError")
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    pod_dirs = [pod_cgroup(mp, pod_name, c) for c in ("memory", "pids", "devices", "freezer", "unified")]
    # The status is written once the failed instance's cgroup is removed,
    # not only when a retry replaces it; the pod init's leaf stays.
    assert all(os.path.isdir(os.path.join(d, "sandbox")) for d in pod_dirs)
    assert not [d for d in pod_dirs if os.path.exists(os.path.join(d, cid))]
    mp.delete(pod_name)
    assert not [d for d in pod_dirs if os.path.exists(d)]
