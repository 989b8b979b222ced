"""What probes cost the daemon: N pods, each probed twice a second.

    python bench/bench_probes.py [--pods 100] [--seconds 60]

Steps:
    1. start a private daemon (its own --root, bridge and subnet) and build
       the busybox image into it;
    2. run N pods, each a busybox httpd on port 8080 with a tcpSocket
       liveness probe and an httpGet readiness probe, both every second;
    3. wait until all are Ready, then sample the daemon's CPU time
       (utime + stime from /proc/PID/stat) and its PSS over the given
       seconds: CPU share = CPU seconds / wall seconds, in % of one core;
    4. check that no probe failed (no Unhealthy event), delete the pods,
       stop the daemon and remove the root.
Target: at most 5 % of one core for 100 pods.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from minipod.cli.client import Client
from minipod.paths import instance

MINIPOD = os.path.join(os.path.dirname(sys.executable), "minipod")
CLK_TCK = os.sysconf("SC_CLK_TCK")

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: web
    image: busybox:1.35
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
    - {{name: http, containerPort: 8080}}
    livenessProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 1
    readinessProbe:
      httpGet: {{path: /, port: http}}
      periodSeconds: 1
"""


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (proc(5): utime, stime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="minipod-bench-probes-")
    client = Client(instance(root), autostart=False)
    with open(os.path.join(root, "daemon.log"), "ab") as log:
        daemon = subprocess.Popen(
            [MINIPOD, "--root", root, "daemon", "--bridge", "mpbenchp0", "--subnet", "10.252.0.0/16"],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    names = [f"probed-{i}" for i in range(args.pods)]
    try:
        while not os.path.exists(client.inst.socket):
            time.sleep(0.05)
        time.sleep(0.2)
        client.json("POST", "/minipod/v1/images/build-base", {})
        idle_pss = pss_kib(daemon.pid)
        client.json(
            "POST",
            "/minipod/v1/apply",
            "---\n".join(POD.format(name=n) for n in names),
            query={"wait": "running", "timeout": "120"},
            content_type="application/yaml",
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            pods = client.json("GET", "/api/v1/namespaces/default/pods")["items"]
            ready = sum(all(c.get("ready") for c in p["status"].get("containerStatuses", [])) for p in pods)
            if ready == len(names):
                break
            time.sleep(0.5)
        print(f"{ready}/{len(names)} pods Ready; sampling the daemon for {args.seconds:g} s", file=sys.stderr)
        cpu0, t0 = cpu_seconds(daemon.pid), time.time()
        time.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(daemon.pid), time.time()
        user, system = ((b - a) * 100 / (t1 - t0) for a, b in zip(cpu0, cpu1, strict=True))
        share = user + system
        events = client.json("GET", "/api/v1/namespaces/default/events")["items"]
        unhealthy = sum(e["count"] for e in events if e["reason"] == "Unhealthy")
        print(f"pods: {len(names)}, probes: {2 * len(names)} per second")
        print(
            f"daemon CPU: {share:.1f} % of one core (user {user:.1f} %, system {system:.1f} %; target <= 5 %)"
        )
        print(f"daemon PSS: {pss_kib(daemon.pid)} KiB with the pods, {idle_pss} KiB idle")
        print(f"failed probe attempts: {unhealthy}")
    finally:
        for n in names:
            try:
                client.json(
                    "DELETE", f"/api/v1/namespaces/default/pods/{n}", query={"gracePeriodSeconds": "0"}
                )
            except Exception:  # noqa: BLE001 - best effort, then the daemon goes
                pass
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
