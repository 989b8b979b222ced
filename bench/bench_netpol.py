"""NetworkPolicy's cost: from the API call to the rule in the kernel, and
what replacing the whole table costs as it grows.

    python bench/bench_netpol.py [--runs 10] [--pods 200] [--policies 50]

Steps:
    1. start a private daemon (its own --root, bridge, subnet and API port)
       and build the busybox image into it; run two pods;
    2. R times: POST a default-deny NetworkPolicy over HTTPS, and time from
       the start of the request until the kernel's table holds the pod in
       its ingress-isolated set (read with libnftables, polled every
       0.2 ms); then DELETE it and time until the table is gone. Medians;
       the target is 100 ms;
    3. the whole-table transaction alone (what every change costs in the
       daemon), on a scratch table: P pods in K policies of one rule each
       (a pod-label peer, a port and a named port), median of R.
Everything is removed at the end: the pods, the table, the daemon, the root.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_kubeapi import MINIPOD, Api  # noqa: E402 - the sibling script, not a package

from minipod.network import nft, policy_rules  # noqa: E402 - after the path is set

BRIDGE, SUBNET = "mpbenchnp0", "10.252.0.0/16"


def pod(name: str, labels: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.35", "command": ["sleep", "3600"]}]},
    }


def in_isolated_set(table: str, ip: str) -> bool:
    try:
        out = nft.run(
            [{"list": {"set": {"family": "inet", "table": table, "name": policy_rules.INGRESS_ISOLATED}}}],
            "list",
        )
    except nft.NftError:
        return False
    return any(ip in (o.get("set", {}).get("elem") or []) for o in out)


def table_exists(table: str) -> bool:
    try:
        nft.run([{"list": {"table": {"family": "inet", "name": table}}}], "list")
        return True
    except nft.NftError:
        return False


def until(test, timeout: float = 5) -> float:
    deadline = time.perf_counter() + timeout
    while not test():
        if time.perf_counter() > deadline:
            raise SystemExit("the policy never took effect")
        time.sleep(0.0002)
    return time.perf_counter()


def api_to_kernel(api: Api, ip: str, runs: int) -> tuple[list[float], list[float]]:
    table = policy_rules.table_name(BRIDGE)
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny"},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}}},
    }
    on, off = [], []
    for _ in range(runs):
        began = time.perf_counter()
        api.request("POST", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", body)
        on.append(until(lambda: in_isolated_set(table, ip)) - began)
        began = time.perf_counter()
        api.request("DELETE", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/deny")
        off.append(until(lambda: not table_exists(table)) - began)
    return on, off


def table_cost(pods: int, policies: int, runs: int) -> list[float]:
    addrs = [
        policy_rules.PodAddr(
            "default",
            f"p{i}",
            f"10.251.{i // 250}.{i % 250 + 2}",
            {"app": f"a{i % policies}", "role": "client" if i % 2 else "server"},
            (policy_rules.NamedPort("http", "TCP", 8080),),
        )
        for i in range(pods)
    ]
    pols = [
        {
            "metadata": {"name": f"pol{k}", "namespace": "default"},
            "spec": {
                "podSelector": {"matchLabels": {"app": f"a{k}"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                        "ports": [{"port": 80, "protocol": "TCP"}, {"port": "http", "protocol": "TCP"}],
                    }
                ],
            },
        }
        for k in range(policies)
    ]
    table = "minipod-policy-bench"
    out = []
    try:
        for _ in range(runs):
            began = time.perf_counter()
            cmds = policy_rules.render(table, policy_rules.plan(pols, addrs, {"default": {}}))
            nft.run(cmds, "bench")
            out.append(time.perf_counter() - began)
    finally:
        nft.run(policy_rules.render(table, policy_rules.Plan()), "bench cleanup")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--policies", type=int, default=50)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="minipod-bench-netpol-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp = [MINIPOD, "--root", root]
    with open(os.path.join(root, "daemon.log"), "ab") as log:
        daemon = subprocess.Popen(
            [*mp, "daemon", "--bridge", BRIDGE, "--subnet", SUBNET, "--api-port", str(port)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        while not os.path.exists(os.path.join(root, "run", "minipod.sock")):
            time.sleep(0.05)
        time.sleep(0.3)
        subprocess.run([*mp, "image", "build-base"], check=True, capture_output=True)
        api = Api(root, port)
        for name, labels in (("server", {"app": "server"}), ("client", {})):
            api.request("POST", "/api/v1/namespaces/default/pods", pod(name, labels))
        deadline = time.time() + 30
        while not (
            ip := api.request("GET", "/api/v1/namespaces/default/pods/server").get("status", {}).get("podIP")
        ):
            if time.time() > deadline:
                raise SystemExit("the server pod got no IP")
            time.sleep(0.05)
        on, off = api_to_kernel(api, ip, args.runs)
        print(
            f"API call -> policy in the kernel: {statistics.median(on) * 1000:.1f} ms "
            f"(median of {args.runs}, max {max(on) * 1000:.1f} ms); "
            f"delete -> table gone: {statistics.median(off) * 1000:.1f} ms"
        )
        cost = table_cost(args.pods, args.policies, args.runs)
        print(
            f"whole-table replacement, {args.pods} pods in {args.policies} policies: "
            f"{statistics.median(cost) * 1000:.1f} ms (plan + render + one nft transaction, median of {args.runs})"
        )
    finally:
        subprocess.run([*mp, "delete", "pod", "server", "client", "--grace-period", "0"], capture_output=True)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
