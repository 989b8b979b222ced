"""The daemon's event loop during a burst: how long it stalls.

    python bench/bench_loop.py [--burst N] [--reps R] [--bridge B --subnet S --service-cidr C]

Every pod start is a task on the daemon's one event loop; while one runs
something synchronous, no other pod moves, so the stalls are what keeps
starts from overlapping. The daemon's heartbeat (minipod/api/loop_stalls.py,
GET /minipod/v1/debug/loop) says how late it woke each time; around a
burst of N pods in one apply request (and their concurrent deletion):

    stall (ms)             median, p99 and max of the heartbeat's lateness
    loop busy per pod (ms) the stalls summed, divided by N: the loop's time
                           each start (or delete) cost, as far as it
                           kept the heartbeat waiting
    loop CPU per pod (ms)  the CPU time of the daemon's main thread (the
                           loop's; /proc/PID/task/PID/stat), divided by N:
                           steadier than the stalls on a shared machine

bench.py prints the same figures for its bursts (loop_stall()).
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import bench_slo


def stalls_since(mp, since: int) -> tuple[list[float], int]:
    r = mp.client.json("GET", "/minipod/v1/debug/loop", query={"since": str(since)})
    return r["stallsMs"], r["next"]


def loop_cpu_ms(pid: int) -> float:
    """utime + stime of the process's main thread, the event loop's."""
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def summary(stalls: list[float], pods: int, cpu_ms: float) -> dict:
    if not stalls:
        stalls = [0.0]
    return {
        "median_ms": round(statistics.median(stalls), 2),
        "p99_ms": round(bench_slo.percentile(stalls, 99), 2),
        "max_ms": round(max(stalls), 2),
        "busy_per_pod_ms": round(sum(stalls) / pods, 2),
        "cpu_per_pod_ms": round(cpu_ms / pods, 2),
        "samples": len(stalls),
    }


def loop_stall(mp, pod_yaml, n: int, reps: int = 3) -> dict:
    """Bursts of n pods (one request), then their deletion, reps times:
    the stalls of all creations together, and of all deletions."""
    names = [f"loop-{i}" for i in range(n)]
    docs = "---\n".join(pod_yaml(name) for name in names)
    _, mark = stalls_since(mp, 0)  # starts the heartbeat
    time.sleep(0.2)
    made: list[float] = []
    gone: list[float] = []
    seconds = []
    cpu = {"create": 0.0, "delete": 0.0}
    pid = mp.daemon.pid
    for _ in range(reps):
        _, mark = stalls_since(mp, mark)
        t, c = time.perf_counter(), loop_cpu_ms(pid)
        mp.apply_running(docs)
        seconds.append(time.perf_counter() - t)
        cpu["create"] += loop_cpu_ms(pid) - c
        s, mark = stalls_since(mp, mark)
        made += s
        c = loop_cpu_ms(pid)
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(mp.delete, names))
        cpu["delete"] += loop_cpu_ms(pid) - c
        s, mark = stalls_since(mp, mark)
        gone += s
    return {
        "create": summary(made, n * reps, cpu["create"]),
        "delete": summary(gone, n * reps, cpu["delete"]),
        "create_pods_per_s": round(n / statistics.median(seconds), 1),
    }


def print_loop_stall(r: dict) -> None:
    for what in ("create", "delete"):
        s = r[what]
        print(
            f"loop stall per pod {what} (ms): median {s['median_ms']:g}, p99 {s['p99_ms']:g}, "
            f"max {s['max_ms']:g}; loop busy per pod {s['busy_per_pod_ms']:g} ms, loop CPU per pod {s['cpu_per_pod_ms']:g} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bridge", default="mpbench0")
    ap.add_argument("--subnet", default="10.251.0.0/16")
    ap.add_argument("--service-cidr", default="10.252.0.0/16")
    args = ap.parse_args()
    import bench

    mp = bench.Minipod(bridge=args.bridge, subnet=args.subnet, service_cidr=args.service_cidr)
    try:
        mp.client.json("POST", "/minipod/v1/images/build-base", {})
        mp.apply_running(bench.pod_yaml("warm"))
        mp.delete("warm")
        r = loop_stall(mp, bench.pod_yaml, args.burst, args.reps)
        print(f"burst of {args.burst} in one request: {r['create_pods_per_s']} pods/s")
        print_loop_stall(r)
    finally:
        leftovers = mp.stop()
        if leftovers:
            print(f"warning: left behind: {leftovers}")


if __name__ == "__main__":
    main()
