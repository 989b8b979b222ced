"""Pod lifecycle: init containers, restart policies, back-off, phases, delete.

Times are taken inside the pod from /proc/uptime (the host's monotonic
clock; there is no time namespace), written to an emptyDir that outlives
container restarts, so ordering is checked on real events, not on our own
bookkeeping.
"""

import itertools
import os
import time

from helpers.pods import pod_yaml

EMPTYDIR = """  volumes:
  - name: shared
    emptyDir: {}"""
MOUNT = """    volumeMounts:
    - name: shared
      mountPath: /shared"""


def uptimes(mp, name: str, container: str = "main") -> list[tuple[str, float]]:
    out = mp.run("exec", name, "-c", container, "--", "cat", "/shared/times").stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [(r[0], float(r[1])) for r in rows]


def test_init_containers_run_one_at_a_time_in_order(mp, pod_name):
    stamp = (
        "echo {0}-start $(cut -d' ' -f1 /proc/uptime) >> /shared/times; sleep 0.3; "
        "echo {0}-end $(cut -d' ' -f1 /proc/uptime) >> /shared/times"
    )
    manifest = f"""apiVersion: v1
kind: Pod
metadata:
  name: {pod_name}
spec:
{EMPTYDIR}
  initContainers:
  - name: first
    image: busybox:1.35
    command: ["sh", "-c", "{stamp.format("first")}"]
{MOUNT}
  - name: second
    image: busybox:1.35
    command: ["sh", "-c", "{stamp.format("second")}"]
{MOUNT}
  containers:
  - name: main
    image: busybox:1.35
    command: ["sh", "-c", "echo main-start $(cut -d' ' -f1 /proc/uptime) >> /shared/times; sleep 3600"]
{MOUNT}
"""
    try:
        mp.run_pod(manifest)
        events = uptimes(mp, pod_name)
        assert [e[0] for e in events] == [
            "first-start",
            "first-end",
            "second-start",
            "second-end",
            "main-start",
        ]
        times = [e[1] for e in events]
        assert times == sorted(times)
        status = mp.pod(pod_name)["status"]
        inits = status["initContainerStatuses"]
        assert [s["name"] for s in inits] == ["first", "second"]
        for s in inits:
            assert s["state"]["terminated"]["reason"] == "Completed"
            assert s["state"]["terminated"]["exitCode"] == 0
        assert inits[0]["state"]["terminated"]["finishedAt"] <= inits[1]["state"]["terminated"]["startedAt"]
        cond = {c["type"]: c["status"] for c in status["conditions"]}
        assert cond == {
            "Initialized": "True",
            "Ready": "True",
            "ContainersReady": "True",
            "PodScheduled": "True",
        }
    finally:
        mp.delete(pod_name)


def test_pod_shows_init_progress_while_init_containers_run(mp, pod_name):
    manifest = pod_yaml(
        pod_name,
        "sleep 3600",
        extra_spec="""  initContainers:
  - name: slow
    image: busybox:1.35
    command: ["sleep", "3600"]
  - name: never-reached
    image: busybox:1.35
    command: ["true"]""",
    )
    try:
        mp.apply(manifest)
        pod = mp.wait_for(
            pod_name,
            lambda p: p["status"].get("initContainerStatuses", [{}])[0].get("state", {}).get("running"),
            what="the first init container to run",
        )
        row = mp.run("get", "pods", pod_name).stdout.splitlines()[1].split()
        assert row[2] == "Init:0/2"
        assert pod["status"]["phase"] == "Pending"
        assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    finally:
        mp.delete(pod_name)


def test_failed_init_container_fails_a_never_pod_and_app_never_starts(mp, pod_name):
    manifest = pod_yaml(
        pod_name,
        "echo app-ran; sleep 3600",
        restart="Never",
        extra_spec="""  initContainers:
  - name: setup
    image: busybox:1.35
    command: ["sh", "-c", "exit 4"]""",
    )
    try:
        out = mp.run_pod(manifest, check=False)
        assert out.returncode == 1
        assert 'init container "setup"' in out.stderr and "exit code 4" in out.stderr
        pod = mp.pod(pod_name)
        assert pod["status"]["phase"] == "Failed"
        assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 4
        assert "running" not in pod["status"]["containerStatuses"][0]["state"]
        assert "Init:Error" in mp.run("get", "pods", pod_name).stdout
    finally:
        mp.delete(pod_name)


def test_failed_init_container_is_retried_under_onfailure(mp, pod_name):
    # Fails twice, then succeeds: the marker file lives in the emptyDir.
    script = "n=$(cat /shared/n 2>/dev/null || echo 0); echo $((n+1)) > /shared/n; [ $n -ge 2 ]"
    manifest = f"""apiVersion: v1
kind: Pod
metadata:
  name: {pod_name}
spec:
  restartPolicy: OnFailure
{EMPTYDIR}
  initContainers:
  - name: flaky
    image: busybox:1.35
    command: ["sh", "-c", "{script}"]
{MOUNT}
  containers:
  - name: main
    image: busybox:1.35
    command: ["sleep", "3600"]
"""
    try:
        mp.apply(manifest)
        pod = mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Running", timeout=30)
        init = pod["status"]["initContainerStatuses"][0]
        assert init["restartCount"] == 2
        assert init["state"]["terminated"]["exitCode"] == 0
        assert init["lastState"]["terminated"]["exitCode"] == 1
    finally:
        mp.delete(pod_name)


def test_restart_never_onfailure_always(mp, pod_name):
    names = {p: f"{pod_name[:40]}-{p.lower()}" for p in ("Never", "OnFailure", "Always")}
    try:
        for policy, name in names.items():
            mp.apply(pod_yaml(name, "exit 0", restart=policy))
        never = mp.wait_for(names["Never"], lambda p: p["status"]["phase"] == "Succeeded")
        assert never["status"]["containerStatuses"][0]["restartCount"] == 0
        onfail = mp.wait_for(names["OnFailure"], lambda p: p["status"]["phase"] == "Succeeded")
        assert onfail["status"]["containerStatuses"][0]["restartCount"] == 0
        # Always restarts even a container that succeeded, and the pod stays Running.
        always = mp.wait_for(
            names["Always"],
            lambda p: p["status"]["containerStatuses"][0]["restartCount"] >= 2,
            what="two restarts",
        )
        assert always["status"]["phase"] == "Running"
        assert always["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] == "Completed"
    finally:
        mp.delete(*names.values())


def test_onfailure_restarts_a_failing_container_until_it_succeeds(mp, pod_name):
    script = "n=$(cat /shared/n 2>/dev/null || echo 0); echo $((n+1)) > /shared/n; [ $n -ge 1 ]"
    manifest = pod_yaml(pod_name, script, restart="OnFailure", extra_spec=EMPTYDIR, extra_container=MOUNT)
    try:
        mp.apply(manifest)
        pod = mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Succeeded", timeout=30)
        cs = pod["status"]["containerStatuses"][0]
        assert cs["restartCount"] == 1
        assert cs["lastState"]["terminated"]["exitCode"] == 1
        assert cs["state"]["terminated"]["reason"] == "Completed"
    finally:
        mp.delete(pod_name)


def test_crash_loop_back_off_doubles(mp, pod_name):
    """The kubelet's back-off: first restart at once, then base, 2x, 4x...
    (the session daemon's base is 0.5 s instead of 10 s)."""
    script = "echo start $(cut -d' ' -f1 /proc/uptime) >> /shared/times; exit 1"
    manifest = pod_yaml(pod_name, script, extra_spec=EMPTYDIR, extra_container=MOUNT)
    try:
        mp.apply(manifest)
        seen_backoff = mp.wait_for(
            pod_name,
            lambda p: (
                p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
                == "CrashLoopBackOff"
            ),
            what="CrashLoopBackOff",
        )
        assert "back-off" in seen_backoff["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        mp.wait_for(
            pod_name,
            lambda p: p["status"]["containerStatuses"][0]["restartCount"] >= 4,
            timeout=30,
            what="four restarts",
        )
        times = [float(line.split()[1]) for line in _read_shared(mp, pod_name)]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(gaps) >= 4
        assert gaps[0] < 0.4  # the first restart is immediate
        assert 0.45 <= gaps[1] < 1.5  # then the base delay
        assert gaps[2] >= 1.8 * gaps[1] * 0.9 and gaps[3] >= 1.8 * gaps[2] * 0.9  # doubling
        assert (
            "CrashLoopBackOff" in mp.run("describe", "pod", pod_name).stdout
            or "BackOff" in mp.run("describe", "pod", pod_name).stdout
        )
    finally:
        mp.delete(pod_name)


def _read_shared(mp, name: str) -> list[str]:
    """The emptyDir's file, read from the host (the container may be down)."""
    pod = mp.pod(name)
    path = os.path.join(mp.root, "lib", "volumes", pod["metadata"]["uid"], "shared", "times")
    with open(path) as f:
        return [line for line in f if line.strip()]


def test_exit_code_and_phase_failed(mp, pod_name):
    try:
        mp.apply(pod_yaml(pod_name, "echo bye; exit 3", restart="Never"))
        pod = mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Failed")
        t = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert t["exitCode"] == 3 and t["reason"] == "Error"
        assert t["startedAt"] <= t["finishedAt"]
        cond = {c["type"]: c for c in pod["status"]["conditions"]}
        assert cond["Ready"]["status"] == "False" and cond["Ready"]["reason"] == "PodCompleted"
        assert mp.logs(pod_name) == "bye\n"
    finally:
        mp.delete(pod_name)


def test_killed_by_signal_reports_137(mp, pod_name):
    try:
        mp.run_pod(pod_yaml(pod_name, "sleep 3600", restart="Never"))
        pid = mp.inspect(pod_name)["containers"][0]["process"]["pid"]
        os.kill(pid, 9)
        pod = mp.wait_for(pod_name, lambda p: p["status"]["phase"] == "Failed")
        t = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert t["exitCode"] == 137 and t["signal"] == 9
    finally:
        mp.delete(pod_name)


def test_delete_leaves_nothing_behind(mp, pod_name):
    manifest = pod_yaml(
        pod_name,
        "sleep 3600 & sleep 3600",
        extra_spec="""  volumes:
  - name: mem
    emptyDir: {medium: Memory}
  - name: disk
    emptyDir: {}""",
        extra_container="""    volumeMounts:
    - {name: mem, mountPath: /mem}
    - {name: disk, mountPath: /disk}""",
    )
    mp.run_pod(manifest)
    pod = mp.pod(pod_name)
    uid = pod["metadata"]["uid"]
    info = mp.inspect(pod_name)
    pids = [
        info["podInit"]["pid"],
        info["containers"][0]["process"]["pid"],
        info["containers"][0]["monitor"]["pid"],
    ]
    cid = info["containers"][0]["containerID"]
    start = time.monotonic()
    mp.delete(pod_name, grace=0)
    assert time.monotonic() - start < 10
    for pid in pids:
        assert not _alive(pid), f"pid {pid} survived the delete"
    assert not [p for p in mp.processes() if uid in p]
    assert not [m for m in mp.mounts() if uid in m or cid in m]
    for d in (f"run/pods/{uid}", f"lib/volumes/{uid}", f"lib/containers/{cid}"):
        assert not os.path.exists(os.path.join(mp.root, d)), d
    assert not [f for f in os.listdir(os.path.join(mp.root, "lib", "logs")) if uid in f]
    assert mp.run("get", "pod", pod_name, check=False).returncode == 1


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_graceful_delete_sigterm_then_sigkill(mp, pod_name, tmp_path):
    # The container notes the SIGTERM in a hostPath file, then ignores it.
    script = "trap 'echo got-TERM >> /out/log' TERM; while true; do sleep 0.1; done"
    manifest = pod_yaml(
        pod_name,
        script,
        extra_spec=f"""  volumes:
  - name: out
    hostPath: {{path: {tmp_path}}}""",
        extra_container="""    volumeMounts:
    - {name: out, mountPath: /out}""",
    )
    try:
        mp.run_pod(manifest)
        start = time.monotonic()
        mp.delete(pod_name, grace=2)
        took = time.monotonic() - start
        assert took >= 2.0, "killed before the grace period ended"
        assert took < 10
        assert (tmp_path / "log").read_text() == "got-TERM\n"
    finally:
        mp.run("delete", "pod", pod_name, "--grace-period", "0", "--ignore-not-found")
