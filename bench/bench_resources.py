"""What cgroups cost and what they hold: pod start, `top`, a CPU limit.

    python bench/bench_resources.py [--runs 50] [--pods 100] [--seconds 10]

Steps:
    1. the cgroup steps of a pod start, in-process on this host's real
       hierarchies (a parent of the bench's own, removed at the end): the
       pod's cgroup with its limits and its sandbox leaf, then one
       container's cgroup with limits and the device list
       (pod_cgroups.setup_pod + setup_container); and the teardown (kill
       by cgroup, rmdir). Median of N. Their share of pod start is that
       median over the daemon's request-to-Running median for a
       1-container pod (the API's apply?wait=running, measured here too);
    2. `top` over P pods (default 100): P `sleep` pods Running, one warm-up
       request (it takes the first CPU reading and waits the 0.5 s window),
       then the median of 10 requests of every pod's metrics through the
       API (daemon side), and of 10 `minipod top pod -A` (CLI wall time);
    3. a busy loop limited to 200m: the CPU time its cgroup used over S
       seconds (cpuacct.usage), in cores; and what `top` shows for it.
Target: the cgroup steps <= 2 ms of pod start; `top` over 100 pods <= 50 ms.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench import MINIPOD, Minipod, pod_yaml, timed
from minipod.linux import cgroups
from minipod.pod import pod_cgroups
from minipod.pod import record as rec

BUSY = """apiVersion: v1
kind: Pod
metadata:
  name: busy
spec:
  containers:
  - name: main
    image: busybox:1.35
    command: ["sh", "-c", "while :; do :; done"]
    resources:
      limits: {cpu: 200m, memory: 32Mi}
"""


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


def bench_cgroup_steps(runs: int) -> dict:
    state = tempfile.mktemp(prefix="minipod-bench-cgroups-", suffix=".json")
    root = cgroups.setup_root(state, f"minipod-bench-{os.urandom(3).hex()}")
    spec = {
        "containers": [
            {"name": "main", "image": "busybox", "resources": {"limits": {"cpu": "200m", "memory": "64Mi"}}}
        ]
    }
    create, teardown = [], []
    try:
        for i in range(runs):
            record = rec.PodRecord(
                pod={"metadata": {"uid": f"bench-{i}", "name": "b", "namespace": "default"}, "spec": spec},
                runtime=rec.PodRuntime(),
            )
            c = rec.ContainerRecord(name="main", id=os.urandom(16).hex())
            began = time.perf_counter()
            pod_cgroups.setup_pod(root, record, 1024)
            pod_cgroups.setup_container(root, record, spec["containers"][0], c, None)
            create.append(time.perf_counter() - began)
            began = time.perf_counter()
            cgroups.kill(root, record.runtime.cgroup)
            cgroups.remove(root, record.runtime.cgroup)
            teardown.append(time.perf_counter() - began)
    finally:
        cgroups.teardown_root(root, state)
        os.unlink(state)
    return {"create_ms": median_ms(create), "teardown_ms": median_ms(teardown), "runs": runs}


def cgroup_cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/cgroup") as f:
        path = next(line.split(":", 2)[2].strip() for line in f if line.split(":")[1] == "cpuacct")
    with open(os.path.join("/sys/fs/cgroup/cpuacct", path.lstrip("/"), "cpuacct.usage")) as f:
        return int(f.read())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()

    steps = bench_cgroup_steps(args.runs)
    mp = Minipod()
    try:
        mp.cli("image", "build-base")
        mp.apply_running(pod_yaml("warm"))
        mp.delete("warm")
        start = []
        for _ in range(10):
            start.append(timed(mp.apply_running, pod_yaml("one"))[0])
            mp.delete("one")
        steps["pod_start_ms"] = median_ms(start)
        steps["share_percent"] = round(100 * steps["create_ms"] / steps["pod_start_ms"], 1)

        docs = "\n---\n".join(pod_yaml(f"p{i}") for i in range(args.pods))
        mp.apply_running(docs)
        path = "/apis/metrics.k8s.io/v1beta1/pods"
        warm = timed(mp.client.json, "GET", path)[0]
        api = [timed(mp.client.json, "GET", path)[0] for _ in range(10)]
        items = mp.client.json("GET", path)["items"]
        assert len(items) == args.pods, f"metrics for {len(items)} pods, not {args.pods}"
        cli = []
        for _ in range(10):
            began = time.perf_counter()
            subprocess.run([MINIPOD, "--root", mp.root, "top", "pod", "-A"], check=True, capture_output=True)
            cli.append(time.perf_counter() - began)
        top = {
            "pods": args.pods,
            "first_ms": round(warm * 1000, 1),
            "api_ms": median_ms(api),
            "cli_ms": median_ms(cli),
        }
        for i in range(args.pods):
            mp.delete(f"p{i}")

        mp.apply_running(BUSY)
        pid = next(
            c["process"]["pid"]
            for c in mp.client.json("GET", "/minipod/v1/namespaces/default/pods/busy/inspect")["containers"]
        )
        ns0, t0 = cgroup_cpu_ns(pid), time.monotonic()
        time.sleep(args.seconds)
        ns1, t1 = cgroup_cpu_ns(pid), time.monotonic()
        shown = (
            subprocess.run(
                [MINIPOD, "--root", mp.root, "top", "pod", "busy"], check=True, capture_output=True, text=True
            )
            .stdout.splitlines()[1]
            .split()[1]
        )
        busy = {"limit": "200m", "cores_used": round((ns1 - ns0) / 1e9 / (t1 - t0), 3), "top_shows": shown}
        mp.delete("busy")
    finally:
        left = mp.stop()
    print(
        f"cgroup steps of a pod start: {steps['create_ms']} ms (median of {steps['runs']}); "
        f"teardown {steps['teardown_ms']} ms"
    )
    print(
        f"pod start, request to Running: {steps['pod_start_ms']} ms; cgroup share {steps['share_percent']} %"
    )
    print(
        f"top over {top['pods']} pods: API {top['api_ms']} ms (first request {top['first_ms']} ms), "
        f"`minipod top pod -A` {top['cli_ms']} ms"
    )
    print(
        f"busy loop limited to 200m: {busy['cores_used']} cores over {args.seconds:g} s; top shows {busy['top_shows']}"
    )
    if left:
        print(f"left behind: {left}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
