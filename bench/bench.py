"""Benchmark minipod on this machine (and podman beside it, when installed).

    python bench/bench.py [--runs N] [--burst N] [--pss-pods K] [--no-podman] [--json]
                          [--bridge NAME --subnet CIDR --service-cidr CIDR]

The script starts its own minipod daemon on a fresh temporary --root,
builds the busybox image into it, and does one untimed warm-up run, so every
figure is with the image cached and the daemon already running. The pod is
the same everywhere: one container, busybox:1.35, `sleep 3600`.

What is measured, and how (times are medians of N runs, default 10):
  1. `minipod run FILE`: wall time from starting the command to its exit
     (it returns once the pod is Running). Between runs the pod is deleted
     with `minipod delete pod NAME --grace-period 0`, whose wall time is
     kept too ("delete, CLI").
  2. apply -> Running, daemon side: the time one
     `POST /minipod/v1/apply?wait=running` request takes over the daemon's
     Unix socket, i.e. without the CLI's process start and imports.
  3. A burst of B pods (default 50) created through the API, three ways:
     one request holding B documents; B requests one after the other;
     B requests at once from B threads. Each reports pods/s until all B are
     Running (every answer is checked), median of 3 bursts. The B pods are
     then deleted with B concurrent DELETE requests (pods/s shown too).
     Then the daemon's event loop during three more such bursts (one
     request) and their deletion: its stalls, median, p99 and max, and
     its busy time per pod (bench_loop.py).
  4. Delete latency: `DELETE /api/v1/namespaces/default/pods/NAME
     ?gracePeriodSeconds=0`, which answers once the pod is gone.
  5. Memory minipod adds per running pod: with K pods (default 20) Running,
     the PSS (/proc/PID/smaps_rollup) of each pod's init
     (`minipod-shim init`) and of each container's monitor
     (`minipod-shim monitor`), plus the daemon's PSS growth (with K pods
     minus with none), divided by K. The workload (`sleep`) is not counted.
     Kernel memory (namespaces, mounts, page cache) is not in PSS either.
     This is measured first, right after the warm-up: after the bursts the
     daemon's heap has free room that would hide its growth.
  6. If podman is installed: the same manifest with `podman kube play
     FILE` (median of N, wall time; both give the pod a bridge IP), with
     `podman kube down FILE` between runs, and the 30-pod file of 9; podman
     runs with its own config, storage and network config in the temporary
     root (bench/podman_side.py), so the host is left as found.
  7. The network's share of pod start: the time the daemon spent pinning
     each pod's netns and running the CNI ADD chain (veth, addresses,
     routes, NAT), as `minipod inspect` reports it, median over the K pods
     of 5.

  8. `minipod get pods` with 10 pods Running, and `minipod version`: CLI
     wall from starting the command to its exit (median of N); the two
     commands take the CLI's fast path (minipod/cli/fast_path.py), which
     skips click's import.

  9. A file of M pods (default 30): `minipod run FILE` until all Running
     (CLI wall), as pods/s, and its ratio to podman's `kube play` of it.
 10. Pod start as the kubelet's SLO measures it: 200 pods, creation to
     Running seen by a watch, p50, p99 and a histogram (bench_slo.py).
 11. Where a start goes: `minipod run --trace` of one pod, N times, each
     step's median and its share, grouped by kind (bench_slo.py).
The table gives each figure's goal from issue 19 and "met" or "missed";
the machine's state over the run (busy, steal, iowait, load, pressure,
page cache; machine.py) is printed above it, and the commit measured.

Everything the script creates is removed at the end: the pods, the daemon,
the temporary root, podman's private store and the bridge it made.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import bench_loop
import bench_slo
import machine
import podman_side
import report

from minipod import __version__
from minipod.cli.client import Client, pod_path
from minipod.image.base import build_busybox_archive
from minipod.paths import instance

MINIPOD = os.path.join(os.path.dirname(sys.executable), "minipod")
POD = "minipod-bench"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pod_yaml(name: str, command: str = '["sleep", "3600"]', extra: str = "") -> str:
    """The benchmarks' pod: one busybox container; EXTRA is more of the
    container's fields, as YAML indented under it (bench_density.py adds a
    readiness probe)."""
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: main
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: {command}
{extra}"""


def ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def pss_kib(pid: int) -> int:
    """Proportional set size: each page shared by n processes counts 1/n."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))


# --- minipod ------------------------------------------------------------------------


class Minipod:
    """A private minipod instance: its own root, daemon and API client."""

    def __init__(
        self,
        max_pods: int = 250,
        bridge: str = "mpbench0",
        subnet: str = "10.251.0.0/16",
        service_cidr: str = "10.252.0.0/16",
    ):
        self.root = tempfile.mkdtemp(prefix="minipod-bench-")
        self.client = Client(instance(self.root), autostart=False)
        self.log = open(os.path.join(self.root, "daemon.log"), "ab")
        # Its own bridge and subnet, so a system instance (minipod0) is untouched.
        self.daemon = subprocess.Popen(
            [
                *(MINIPOD, "--root", self.root, "daemon", "--bridge", bridge, "--subnet", subnet),
                *("--api-port", str(free_port()), "--service-cidr", service_cidr),
                *("--max-pods", str(max_pods)),
            ],
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.time() + 20
        while not os.path.exists(self.client.inst.socket):
            if self.daemon.poll() is not None or time.time() > deadline:
                raise SystemExit("the daemon did not start:\n" + self.daemon_log())
            time.sleep(0.01)

    def daemon_log(self) -> str:
        return open(os.path.join(self.root, "daemon.log")).read()[-2000:]

    def cli(self, *args: str) -> None:
        p = subprocess.run([MINIPOD, "--root", self.root, *args], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"minipod {' '.join(args)} failed:\n{p.stdout}{p.stderr}")

    def apply_running(self, text: str) -> dict:
        """POST apply?wait=running; fail unless every pod got Running."""
        result = self.client.json(
            "POST",
            "/minipod/v1/apply",
            text,
            content_type="application/yaml",
            query={"namespace": "default", "wait": "running", "timeout": "120"},
        )
        bad = {n: o for n, o in result.get("outcomes", {}).items() if o[0] != "ready"}
        if bad:
            raise SystemExit(f"pods did not get Running: {bad}")
        return result

    def delete(self, name: str) -> None:
        self.client.json("DELETE", pod_path("default", name), query={"gracePeriodSeconds": "0"})

    def pod_names(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.client.json("GET", pod_path("default"))["items"]]

    def stop(self) -> list[str]:
        """Delete every pod, stop the daemon, remove the root; return leftovers."""
        if self.daemon.poll() is None:
            try:
                for name in self.pod_names():
                    self.delete(name)
            except Exception as e:  # noqa: BLE001 - still stop the daemon
                log(f"warning: deleting the pods failed: {e}")
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.log.close()
        mounts = [line.split()[4] for line in open("/proc/self/mountinfo") if self.root in line]
        if not mounts:
            shutil.rmtree(self.root, ignore_errors=True)
        return mounts + [
            f"process {pid}"
            for pid in filter(str.isdigit, os.listdir("/proc"))
            if self.root.encode() in _read(f"/proc/{pid}/cmdline")
        ]


def free_port() -> int:
    """A TCP port nobody listens on now, for the instance's Kubernetes API
    (another instance on this host may hold the default 6443)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def bench_cli_run(mp: Minipod, runs: int) -> tuple[list[float], list[float]]:
    path = os.path.join(mp.root, "pod.yml")
    with open(path, "w") as f:
        f.write(pod_yaml(POD))
    run, delete = [], []
    for _ in range(runs):
        run.append(timed(mp.cli, "run", path)[0])
        delete.append(timed(mp.cli, "delete", "pod", POD, "--grace-period", "0")[0])
    return run, delete


def bench_api(mp: Minipod, runs: int) -> tuple[list[float], list[float]]:
    apply, delete = [], []
    for _ in range(runs):
        apply.append(timed(mp.apply_running, pod_yaml(POD))[0])
        delete.append(timed(mp.delete, POD)[0])
    return apply, delete


def bench_burst(mp: Minipod, n: int, reps: int = 3) -> dict:
    """pods/s for n pods, created three ways (median of reps bursts each);
    after each burst the n pods are deleted concurrently."""
    names = [f"burst-{i}" for i in range(n)]
    docs = [pod_yaml(name) for name in names]
    ways = {
        "one request": lambda: mp.apply_running("---\n".join(docs)),
        "sequential requests": lambda: [mp.apply_running(d) for d in docs],
        "concurrent requests": lambda: parallel(mp.apply_running, docs),
    }
    out = {}
    for way, create in ways.items():
        made, gone = [], []
        for _ in range(reps):
            made.append(timed(create)[0])
            gone.append(timed(parallel, mp.delete, names)[0])
        seconds = statistics.median(made)
        out[way] = {
            "create_pods_per_s": round(n / seconds, 1),
            "create_s": round(seconds, 3),
            "delete_pods_per_s": round(n / statistics.median(gone), 1),
            "create_s_samples": [round(x, 3) for x in made],
        }
        log(
            f"  burst, {way}: {out[way]['create_pods_per_s']} pods/s (runs: {out[way]['create_s_samples']} s)"
        )
    return out


def parallel(fn, items: list) -> list:
    """fn(item) for every item at once, one thread each."""
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(fn, items))


def bench_pss(mp: Minipod, k: int) -> dict:
    """KiB of PSS that minipod adds per running pod (see the docstring, 5.)."""
    time.sleep(1)  # let the daemon settle
    daemon_before = pss_kib(mp.daemon.pid)
    names = [f"pss-{i}" for i in range(k)]
    mp.apply_running("---\n".join(pod_yaml(n) for n in names))
    time.sleep(1)
    init = monitor = workload = 0
    network_s = []
    for name in names:
        view = mp.client.json("GET", f"/minipod/v1/namespaces/default/pods/{name}/inspect")
        network_s.append(view["network"]["setupSeconds"])
        init += pss_kib(view["podInit"]["pid"])
        for c in view["containers"]:
            monitor += pss_kib(c["monitor"]["pid"])
            workload += pss_kib(c["process"]["pid"])
    daemon_growth = pss_kib(mp.daemon.pid) - daemon_before
    for name in names:
        mp.delete(name)
    per_pod = {"pod init": init / k, "container monitor": monitor / k, "daemon growth": daemon_growth / k}
    return {
        "pods": k,
        "kib_per_pod": round(sum(per_pod.values()), 1),
        "parts_kib": {p: round(v, 1) for p, v in per_pod.items()},
        "daemon_pss_kib": {"with 0 pods": daemon_before, f"with {k} pods": daemon_before + daemon_growth},
        "workload_excluded_kib": round(workload / k, 1),
        "network_setup": network_s,
    }


def bench_cli_get(mp: Minipod, runs: int, pods: int = 10) -> dict:
    """Step 8."""
    names = [f"{POD}-get-{i}" for i in range(pods)]
    mp.apply_running("---\n".join(pod_yaml(n) for n in names))
    try:
        get = [timed(mp.cli, "get", "pods")[0] for _ in range(runs)]
        version = [timed(mp.cli, "version")[0] for _ in range(runs)]
    finally:
        parallel(mp.delete, names)
    return {"get_pods": get, "version": version, "pods": pods}


def many_file(root: str, n: int) -> str:
    """One file of n pods, for `minipod run` and `podman kube play` alike."""
    path = os.path.join(root, f"pods-{n}.yml")
    with open(path, "w") as f:
        f.write("---\n".join(pod_yaml(f"many-{i}") for i in range(n)))
    return path


def bench_many(mp: Minipod, path: str, n: int) -> dict:
    """Step 9: `minipod run FILE` of n pods, wall until it returns (all Running)."""
    seconds = timed(mp.cli, "run", path, "--timeout", "300")[0]
    parallel(mp.delete, [f"many-{i}" for i in range(n)])
    return {"pods": n, "seconds": seconds}


def commit() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run(["git", "-C", here, "log", "-1", "--format=%h %cI"], capture_output=True, text=True)
    return p.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="runs per timed metric (median)")
    ap.add_argument("--burst", type=int, default=50, help="pods in each burst")
    ap.add_argument("--many", type=int, default=30, help="pods in the one-file figure")
    ap.add_argument("--slo-pods", type=int, default=200, help="pods in the pod-start histogram")
    ap.add_argument("--pss-pods", type=int, default=20, help="pods running for the memory figure")
    ap.add_argument("--no-podman", action="store_true", help="skip the podman comparison")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    # Two benches at once on one host need their own bridge and subnets.
    ap.add_argument("--bridge", default="mpbench0", help="the bench daemon's bridge")
    ap.add_argument("--subnet", default="10.251.0.0/16", help="its pod subnet")
    ap.add_argument("--service-cidr", default="10.252.0.0/16", help="its Service range")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("minipod needs root (namespaces and mounts): run this as root")

    r = {"machine": machine.facts(), "minipod": __version__, "commit": commit(), "notes": []}
    r.update(runs=args.runs, burst_size=args.burst)
    before = machine.snapshot()
    log(f"machine: {r['machine']}")
    mp = Minipod(bridge=args.bridge, subnet=args.subnet, service_cidr=args.service_cidr)
    try:
        log(f"minipod daemon on {mp.root}; building the busybox image")
        mp.client.json("POST", "/minipod/v1/images/build-base", {})
        bench_cli_run(mp, 1)  # warm-up
        # Memory first: later bursts would leave the daemon's heap with free
        # room that hides what K pods really cost it.
        log(f"5+7. PSS and network setup with {args.pss_pods} pods")
        r["pss"] = bench_pss(mp, args.pss_pods)
        log(f"1. minipod run, {args.runs} runs")
        r["cli_run"], r["cli_delete"] = bench_cli_run(mp, args.runs)
        log(f"2+4. apply -> Running and delete over the API, {args.runs} runs")
        r["api_apply"], r["api_delete"] = bench_api(mp, args.runs)
        log(f"8. get pods and version, {args.runs} runs")
        r["cli_get"] = bench_cli_get(mp, args.runs)
        log(f"9. a file of {args.many} pods")
        many = many_file(mp.root, args.many)
        r["many"] = bench_many(mp, many, args.many)
        log(f"3. bursts of {args.burst} pods")
        r["burst"] = bench_burst(mp, args.burst)
        log(f"3b. the daemon's event loop during bursts of {args.burst} pods")
        r["loop_stall"] = bench_loop.loop_stall(mp, pod_yaml, args.burst)
        log(f"10. pod start SLO over {args.slo_pods} pods")
        r["slo"] = bench_slo.slo(mp, pod_yaml, args.slo_pods)
        log("11. the steps of a start, from minipod run --trace")
        r["trace"] = bench_slo.step_shares(mp, MINIPOD, pod_yaml, args.runs)
        if not args.no_podman:
            log(f"6. podman kube play, {args.runs} runs and the {args.many}-pod file")
            archive = os.path.join(mp.root, "busybox.tar")
            build_busybox_archive(archive)
            one = os.path.join(mp.root, "podman-pod.yml")
            with open(one, "w") as f:
                f.write(pod_yaml(POD))
            r["podman"] = podman_side.bench_podman(
                mp.root, archive, one, many, args.many, args.runs, r["notes"]
            )
    except BaseException:
        log(f"daemon log (end):\n{mp.daemon_log()}")
        raise
    finally:
        leftovers = mp.stop()
        if leftovers:
            log(f"warning: left behind under {mp.root}: {leftovers}")
    r["machine_run"] = machine.over_run(before, machine.snapshot())
    r["table"] = report.rows(r)
    if args.json:
        print(json.dumps(r, indent=1))
    else:
        report.print_report(r)


if __name__ == "__main__":
    main()
