"""Density: N pods (default 500) of one container on this machine, all Running.

    python bench/bench_density.py [--pods 500] [--wave 50] [--seconds 60]

Steps, on a private instance (bench.py's Minipod, --max-pods N + 10):
    1. create the pods in waves of W (one apply request each, waiting for
       Running); each pod runs `httpd -f -p 8080` (busybox) with a tcpSocket readiness
       probe every 10 s (the kubelet's default period), the cheap probe;
    2. the daemon's RSS (/proc/PID/status VmRSS), goal <= 150 MiB;
    3. `minipod get pods` of the N pods, CLI wall, median of 5, goal <= 150 ms;
    4. the CPU of the probes: utime + stime (/proc/PID/stat) of the daemon
       and of every minipod process of the instance (fork server, pod
       inits, monitors; not the workloads) over S seconds, as % of one
       core, goal <= 10 %;
    5. every pod deleted, the daemon stopped, the root removed; run it under
       a leak checker to see that nothing is left.
"""

import argparse
import os
import statistics
import time

import bench

PROBE = """    readinessProbe:
      tcpSocket:
        port: 8080
      periodSeconds: 10
"""


def pod_yaml(name: str) -> str:
    return bench.pod_yaml(name, '["httpd", "-f", "-p", "8080"]', PROBE)


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total


def minipod_pids(mp: bench.Minipod, uids: set[str]) -> list[int]:
    """The daemon, its children (the fork server), each pod's init (named
    by the pod's uid) and each container's monitor (named by the root's
    paths): minipod's processes, not the workloads."""
    out = {mp.daemon.pid}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = bench._read(f"/proc/{pid}/cmdline").split(b"\0")
        stat = bench._read(f"/proc/{pid}/stat").rsplit(b")", 1)[-1].split()
        if len(stat) > 1 and int(stat[1]) == mp.daemon.pid:
            out.add(int(pid))
        elif argv[:2] == [b"minipod-shim", b"monitor"] and mp.root.encode() in b" ".join(argv):
            out.add(int(pid))
        elif argv[:2] == [b"minipod-shim", b"init"] and len(argv) > 3 and argv[3].decode() in uids:
            out.add(int(pid))
    return sorted(out)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return round(kib / 1024, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pods", type=int, default=500)
    ap.add_argument("--wave", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60, help="how long the probes' CPU is measured")
    ap.add_argument("--bridge", default="mpbench0", help="the bench daemon's bridge (bench.py's default)")
    ap.add_argument("--subnet", default="10.251.0.0/16", help="its pod subnet")
    ap.add_argument("--service-cidr", default="10.252.0.0/16", help="its Service range")
    args = ap.parse_args()
    mp = bench.Minipod(args.pods + 10, args.bridge, args.subnet, args.service_cidr)
    names = [f"dense-{i}" for i in range(args.pods)]
    try:
        mp.client.json("POST", "/minipod/v1/images/build-base", {})
        t0 = time.perf_counter()
        for i in range(0, args.pods, args.wave):
            mp.apply_running("---\n".join(pod_yaml(n) for n in names[i : i + args.wave]))
            bench.log(f"  {min(i + args.wave, args.pods)} pods Running")
        made = time.perf_counter() - t0
        running = mp.client.json("GET", bench.pod_path("default"))["items"]
        n_running = sum(p["status"].get("phase") == "Running" for p in running)
        get = [bench.timed(mp.cli, "get", "pods")[0] for _ in range(5)]
        pids = minipod_pids(mp, {p["metadata"]["uid"] for p in running})
        hz = os.sysconf("SC_CLK_TCK")
        before = cpu_ticks(pids)
        time.sleep(args.seconds)
        probe_cpu = 100 * (cpu_ticks(pids) - before) / hz / args.seconds
        rss = rss_mib(mp.daemon.pid)
    finally:
        t1 = time.perf_counter()
        leftovers = mp.stop()
        gone = time.perf_counter() - t1
    get_ms = round(statistics.median(get) * 1000, 1)
    print(f"{n_running} of {args.pods} pods Running, created in {made:.1f} s ({args.pods / made:.1f} pods/s)")
    print(f"daemon RSS: {rss} MiB (goal <= 150): {'met' if rss <= 150 else 'missed'}")
    print(
        f"get pods of {args.pods} pods, CLI wall: {get_ms} ms (goal <= 150): {'met' if get_ms <= 150 else 'missed'}"
    )
    print(
        f"probes' CPU ({len(pids)} minipod processes, {args.seconds} s): {probe_cpu:.1f} % of a core "
        f"(goal <= 10): {'met' if probe_cpu <= 10 else 'missed'}"
    )
    print(f"all deleted and the daemon stopped in {gone:.1f} s; left behind: {leftovers or 'nothing'}")


if __name__ == "__main__":
    main()
