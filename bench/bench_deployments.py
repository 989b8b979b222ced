"""What a Deployment costs beside bare pods: 100 replicas until all are
ready, and a full rolling update of them.

    python bench/bench_deployments.py [--replicas 100]

Steps:
    1. start a private daemon (its own --root, bridge, subnet and API port)
       and build the busybox image into it;
    2. bare pods: create N pods (one request per pod, as a client would)
       and wait until all are Ready; then replace them all (delete each,
       create N new ones) until the new ones are Ready: the wall time of
       each, the "rollout" done by hand;
    3. a Deployment of N replicas (RollingUpdate, the defaults: 25 %
       surge, 25 % unavailable): created, then waited on until
       availableReplicas is N; then its template changes (an env value)
       and the rollout is waited on until N updated pods are available
       and no old one is left;
    4. delete everything, stop the daemon and remove the root.
Every wait polls the API over the daemon's socket every 0.2 s. The pods
are busybox `sleep` with no probes and terminationGracePeriodSeconds 0,
so what is measured is minipod, not the workload.
"""

import argparse
import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from minipod.cli.client import Client
from minipod.paths import instance

MINIPOD = os.path.join(os.path.dirname(sys.executable), "minipod")
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
SPEC = {
    "terminationGracePeriodSeconds": 0,
    "containers": [
        {
            "name": "main",
            "image": "busybox:1.35",
            "command": ["sleep", "3600"],
            "env": [{"name": "V", "value": "1"}],
        }
    ],
}


def ready(pod: dict) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conds
    )


def wait(what: str, done, timeout: float = 600) -> float:
    t0 = time.time()
    while not done():
        if time.time() - t0 > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)
    return time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, default=100)
    args = ap.parse_args()
    n = args.replicas
    root = tempfile.mkdtemp(prefix="minipod-bench-deploy-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Client(instance(root), autostart=False)
    with open(os.path.join(root, "daemon.log"), "ab") as log:
        daemon = subprocess.Popen(
            [
                *(MINIPOD, "--root", root, "daemon", "--bridge", "mpbenchd0", "--subnet", "10.250.0.0/16"),
                *("--api-port", str(port)),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def pods(selector: str) -> list[dict]:
        return client.json("GET", PODS, query={"labelSelector": selector})["items"]

    def all_ready(selector: str, version: str | None = None) -> bool:
        ps = [p for p in pods(selector) if not p["metadata"].get("deletionTimestamp")]
        if version is not None and any(p["spec"]["containers"][0]["env"][0]["value"] != version for p in ps):
            return False
        return len(ps) == n and all(ready(p) for p in ps)

    figures = {}
    try:
        while not os.path.exists(client.inst.socket):
            time.sleep(0.05)
        time.sleep(0.3)
        client.json("POST", "/minipod/v1/images/build-base", {})

        # 2. bare pods
        def bare(i: int, version: str) -> dict:
            spec = copy.deepcopy(SPEC)
            spec["containers"][0]["env"][0]["value"] = version
            meta = {"name": f"bare-{version}-{i}", "labels": {"app": "bare"}}
            return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

        t0 = time.time()
        for i in range(n):
            client.json("POST", PODS, bare(i, "1"))
        wait("bare pods", lambda: all_ready("app=bare"))
        figures["bare pods: create until all ready"] = time.time() - t0
        t0 = time.time()
        for i in range(n):
            client.json("DELETE", f"{PODS}/bare-1-{i}", query={"gracePeriodSeconds": "0"})
            client.json("POST", PODS, bare(i, "2"))
        wait("replaced bare pods", lambda: all_ready("app=bare", "2") and len(pods("app=bare")) == n)
        figures["bare pods: replace all until ready"] = time.time() - t0
        for i in range(n):
            client.json("DELETE", f"{PODS}/bare-2-{i}", query={"gracePeriodSeconds": "0"})
        wait("bare pods gone", lambda: not pods("app=bare"))

        # 3. a Deployment
        d = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "bench"},
            "spec": {
                "replicas": n,
                "selector": {"matchLabels": {"app": "bench"}},
                "template": {"metadata": {"labels": {"app": "bench"}}, "spec": SPEC},
            },
        }

        def rolled_out() -> bool:
            obj = client.json("GET", f"{DEPLOYMENTS}/bench")
            s = obj.get("status") or {}
            return (
                s.get("observedGeneration") == obj["metadata"]["generation"]
                and s.get("updatedReplicas") == n
                and s.get("availableReplicas") == n
                and s.get("replicas") == n
            )

        t0 = time.time()
        client.json("POST", DEPLOYMENTS, d)
        wait("the Deployment available", rolled_out)
        figures["Deployment: create until all ready"] = time.time() - t0
        patch = {
            "spec": {
                "template": {"spec": {"containers": [{"name": "main", "env": [{"name": "V", "value": "2"}]}]}}
            }
        }
        t0 = time.time()
        client.json(
            "PATCH", f"{DEPLOYMENTS}/bench", patch, content_type="application/strategic-merge-patch+json"
        )
        wait("the rolling update", lambda: rolled_out() and all_ready("app=bench", "2"))
        figures["Deployment: rolling update until all ready"] = time.time() - t0
        client.json("DELETE", f"{DEPLOYMENTS}/bench")
        wait("the Deployment's pods gone", lambda: not pods("app=bench"))
    finally:
        for p in client.json("GET", PODS)["items"]:
            try:
                client.json("DELETE", f"{PODS}/{p['metadata']['name']}", query={"gracePeriodSeconds": "0"})
            except Exception:  # noqa: BLE001 - best effort, then the daemon goes
                pass
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        shutil.rmtree(root, ignore_errors=True)
    print(f"{n} replicas, busybox sleep, no probes")
    for what, seconds in figures.items():
        print(f"{what:45} {seconds:6.1f} s")


if __name__ == "__main__":
    main()
