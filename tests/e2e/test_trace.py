"""`minipod run --trace`: every kernel-level step of a pod's start, with its
time, from every process that takes one (the daemon, the sandbox helper
and the pod init, the launcher, the container), and its total; and the
same for `delete --trace`.

The pod has an init container and two app containers; the trace's total
must match the wall time of the pod's start, as the student sees it
(the `minipod run` command, from the request to Running), within 20 %.
"""

import json
import re
import time

import yaml
from helpers.pods import ctr, pod

SLEEP = "exec sleep 3600"


def traced_pod(name: str) -> str:
    p = pod(
        name,
        ctr("web", SLEEP, ports=[{"containerPort": 8080}]),
        ctr("side", SLEEP),
        initContainers=[ctr("prepare", "echo prepared > /tmp/x; sleep 2")],
    )
    return yaml.safe_dump(p)


def test_run_trace_prints_every_step_with_times_and_a_total_that_matches_the_wall_time(
    mp, pod_name, tmp_path
):
    out = tmp_path / "trace.txt"
    began = time.monotonic()
    mp.run_pod(traced_pod(pod_name), "--trace", str(out))
    wall = time.monotonic() - began
    try:
        text = out.read_text()
        key = f"default/{pod_name}"
        # Grouped by pod and container, one line per step, with its times.
        for where in ("pod", "container prepare", "container web", "container side"):
            assert f"{key}  {where}\n" in text, where
        steps = [line for line in text.splitlines() if line.startswith("  +")]
        assert all(re.match(r"  \+ *-?[0-9.]+ ms +[0-9.]+ ms  \S", line) for line in steps), steps[:3]
        assert "create pod" in steps[0], "the first step is the request"
        for step in (
            "unshare(CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS)",
            f"sethostname({pod_name})",
            "mount(overlay,",
            "pivot_root(",
            "setns(/proc/",
            "ip link add veth",
            "IPAM lease",
            "ip addr add",
            "cgroup mkdir",
            "cgroup write",
            "cgroup join",
            "set the capability sets",
            "execve",
            "ran  exit code 0",
            "pod ready",
        ):
            assert step in text, f"{step!r} not in the trace:\n{text}"
        # Every container's own steps: its overlay, its pivot_root, its execve.
        for c in ("prepare", "web", "side"):
            block = text.split(f"{key}  container {c}\n", 1)[1]
            assert "execve" in text.split(f"container {c}")[-1] or "execve" in block, c
        total = [line for line in text.splitlines() if line.startswith(f"{key}: ")]
        assert len(total) == 1, text
        total_ms = float(total[0].split("total ")[1].split()[0])
        # The total is the pod's start, from the request to Running: the
        # `minipod run` command's wall time, less the CLI's own start-up.
        assert abs(total_ms / 1000 - wall) <= 0.2 * wall, (total_ms, wall)
    finally:
        mp.delete(pod_name)


def test_trace_as_json_and_the_delete_trace(mp, pod_name, tmp_path):
    out = tmp_path / "trace.json"
    mp.run_pod(yaml.safe_dump(pod(pod_name, ctr("main", SLEEP))), "--trace", str(out), "-o", "json")
    doc = json.loads(out.read_text())
    (p,) = doc["pods"]
    assert p["pod"] == f"default/{pod_name}"
    steps = p["steps"]
    assert [s["startSeconds"] for s in steps] == sorted(s["startSeconds"] for s in steps)
    assert any(s["step"].startswith("pivot_root(") and s["container"] == "main" for s in steps)
    assert all(s["durationSeconds"] >= 0 and s["ok"] for s in steps)
    assert p["totalSeconds"] >= max(s["startSeconds"] + s["durationSeconds"] for s in steps) - 1e-6
    # Steps come from several processes: the daemon, the sandbox, the container.
    assert len({s["pid"] for s in steps}) >= 4

    gone = tmp_path / "delete.txt"
    r = mp.run("delete", "pod", pod_name, "--trace", str(gone), "--grace-period", "0")
    assert f'pod "{pod_name}" deleted' in r.stdout
    text = gone.read_text()
    for step in ("stop containers", "ip link del", "IPAM release", "kill the pod init", "cgroup teardown"):
        assert step in text, f"{step!r} not in the delete trace:\n{text}"
    assert f"default/{pod_name}: " in text and "total" in text
    assert not mp.run("get", "pods", check=False).stdout.count(pod_name)


def test_a_pod_not_traced_leaves_no_trace_file(mp, pod_name):
    mp.run_pod(yaml.safe_dump(pod(pod_name, ctr("main", SLEEP))))
    try:
        import os

        traces = os.path.join(mp.root, "run", "traces")
        assert not os.path.isdir(traces) or not os.listdir(traces)
    finally:
        mp.delete(pod_name)
