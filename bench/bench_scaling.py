"""How a pod start's cost grows with the number of pods already running:
one file of pods added to those running, then all deleted (issue 19's
scaling table).

    python bench/bench_scaling.py [--steps 50,150,350]

Steps:
    1. start a private daemon (its own --root, bridge, subnet and API port)
       and build the busybox image into it;
    2. for each step (running -> target): write one file of the missing
       pods, `minipod apply -f` it, and time until every pod is Running
       (the wall time and pods per second of that step);
    3. delete every pod (one DELETE each, grace 0) and time until none is
       left;
    4. stop the daemon and remove the root.
The pods are busybox `sleep` with no probes, so what is measured is
minipod, not the workload. Every wait polls the API over the daemon's
socket every 0.5 s (a list of hundreds of pods is not free). A step that costs more per pod than the one before
is a cost that grows with the number of pods.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import bench

MINIPOD = bench.MINIPOD
PODS = "/api/v1/namespaces/default/pods"


def pod(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"scale-{i}", "labels": {"app": "scale"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": "busybox:1.35", "command": ["sleep", "3600"]}],
        },
    }


def wait(what: str, done, timeout: float = 1800) -> float:
    t0 = time.time()
    while not done():
        if time.time() - t0 > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)
    return time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="50,150,350", help="pod counts to reach, in order")
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    # Stopped early (also in the background, where SIGINT is ignored): the
    # finally below still deletes the pods and stops the daemon.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # A private daemon (bench.Minipod), on a bridge and subnets of its own
    # so it can run beside bench.py's.
    mp = bench.Minipod(max(steps) + 10, "mpbenchs0", "10.249.0.0/16", "10.248.0.0/16")
    root, client = mp.root, mp.client

    def running() -> int:
        items = client.json("GET", PODS, query={"labelSelector": "app=scale"})["items"]
        return sum(1 for p in items if (p.get("status") or {}).get("phase") == "Running")

    rows: list[tuple[str, float, int]] = []
    try:
        client.json("POST", "/minipod/v1/images/build-base", {})
        have = 0
        for target in steps:  # 2
            path = os.path.join(root, f"pods-{target}.json")
            with open(path, "w") as f:
                json.dump(
                    {"apiVersion": "v1", "kind": "List", "items": [pod(i) for i in range(have, target)]}, f
                )
            t0 = time.time()
            subprocess.run(
                [MINIPOD, "--root", root, "apply", "-f", path], check=True, stdout=subprocess.DEVNULL
            )
            wait(f"{target} pods Running", lambda t=target: running() >= t)
            rows.append((f"{have} -> {target}", time.time() - t0, target - have))
            have = target
        t0 = time.time()  # 3
        for i in range(have):
            client.json("DELETE", f"{PODS}/scale-{i}", query={"gracePeriodSeconds": "0"})
        wait("all pods gone", lambda: not client.json("GET", PODS)["items"])
        rows.append((f"delete all {have}", time.time() - t0, have))
    finally:
        leftovers = mp.stop()  # deletes what is left, stops the daemon, removes the root
        if leftovers:
            print(f"warning: left behind under {root}: {leftovers}", file=sys.stderr)
    print("| pods running -> added | wall | pods/s |")
    print("|---|---|---|")
    for what, seconds, n in rows:
        print(f"| {what} | {seconds:.1f} s | {n / seconds:.1f} |")


if __name__ == "__main__":
    main()
