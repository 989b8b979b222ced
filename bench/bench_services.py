"""Services' cost: from the API call to the rules in the kernel, cluster
DNS answers, and what replacing the Services' table costs as it grows.

    python bench/bench_services.py [--runs 10] [--services 200] [--endpoints 3] [--queries 200]

Steps:
    1. start a private daemon (its own --root, bridge, subnet, service
       CIDR and API port) and build the busybox image into it; run a pod
       labelled app=web;
    2. R times: POST a ClusterIP Service selecting it over HTTPS, and time
       from the start of the request until the kernel's `service-ips` map
       holds its ClusterIP (the endpoint controller wrote the slice and the
       proxy applied the table); then DELETE it and time until the table
       is gone. Medians;
    3. Q DNS queries over UDP to the cluster DNS on the bridge's gateway:
       a Service's A record (answered from the store), and a name outside
       cluster.local (forwarded to the host's resolver). Medians;
    4. the whole-table transaction alone (what every change costs), on a
       scratch table: S Services of E ready endpoints, median of R.
Everything is removed at the end: the pod, the table, the daemon, the root.
"""

import argparse
import ipaddress
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
from dnslib import DNSRecord  # noqa: E402

from minipod.network import nft  # noqa: E402 - after the path is set
from minipod.services import proxy, proxy_rules  # noqa: E402

BRIDGE, SUBNET, SERVICE_CIDR = "mpbenchsvc0", "10.253.0.0/16", "10.254.0.0/16"


def pod() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.35", "command": ["sleep", "3600"]}]},
    }


def service() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def table_text(table: str) -> str:
    p = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else ""


def until(test, timeout: float = 5) -> float:
    deadline = time.perf_counter() + timeout
    while not test():
        if time.perf_counter() > deadline:
            raise SystemExit("the Service never took effect")
        time.sleep(0.0005)
    return time.perf_counter()


def api_to_kernel(api: Api, runs: int) -> tuple[list[float], list[float]]:
    table = proxy.table_name(f"minipod-{BRIDGE}")
    on, off = [], []
    for _ in range(runs):
        began = time.perf_counter()
        ip = api.request("POST", "/api/v1/namespaces/default/services", service())["spec"]["clusterIP"]
        on.append(until(lambda want=f"{ip} . tcp . 80 : goto service-": want in table_text(table)) - began)
        began = time.perf_counter()
        api.request("DELETE", "/api/v1/namespaces/default/services/web")
        off.append(until(lambda: not table_text(table)) - began)
    return on, off


def dns_times(server: str, name: str, queries: int) -> list[float]:
    out = []
    for _ in range(queries):
        began = time.perf_counter()
        DNSRecord.question(name).send(server, 53, timeout=3)
        out.append(time.perf_counter() - began)
    return out


def table_cost(services: int, endpoints: int, runs: int) -> list[float]:
    ports = [
        proxy_rules.ServicePort(
            "default",
            f"s{i}",
            "http",
            "tcp",
            str(ipaddress.ip_address("10.254.0.10") + i),
            80,
            0,
            tuple(
                proxy_rules.Endpoint(f"10.253.{i // 50}.{(i % 50) * 5 + k + 2}", 8080)
                for k in range(endpoints)
            ),
            0,
        )
        for i in range(services)
    ]
    table = "minipod-svc-bench"
    out = []
    try:
        for _ in range(runs):
            began = time.perf_counter()
            text = proxy_rules.ruleset(table, ports, SUBNET)
            nft.run_script(f"table ip {table} {{}}\ndelete table ip {table}\n{text}", "bench")
            out.append(time.perf_counter() - began)
    finally:
        nft.delete_table(table)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--services", type=int, default=200)
    ap.add_argument("--endpoints", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="minipod-bench-services-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp = [MINIPOD, "--root", root]
    flags = ["--bridge", BRIDGE, "--subnet", SUBNET, "--service-cidr", SERVICE_CIDR, "--api-port", str(port)]
    with open(os.path.join(root, "daemon.log"), "ab") as log:
        daemon = subprocess.Popen([*mp, "daemon", *flags], stdout=log, stderr=log, start_new_session=True)
    try:
        while not os.path.exists(os.path.join(root, "run", "minipod.sock")):
            time.sleep(0.05)
        time.sleep(0.3)
        subprocess.run([*mp, "image", "build-base"], check=True, capture_output=True)
        api = Api(root, port)
        api.request("POST", "/api/v1/namespaces/default/pods", pod())
        deadline = time.time() + 30
        while not api.request("GET", "/api/v1/namespaces/default/pods/web").get("status", {}).get("podIP"):
            if time.time() > deadline:
                raise SystemExit("the pod got no IP")
            time.sleep(0.05)
        on, off = api_to_kernel(api, args.runs)
        print(
            f"API call -> Service in the kernel: {statistics.median(on) * 1000:.1f} ms "
            f"(median of {args.runs}, max {max(on) * 1000:.1f} ms); "
            f"delete -> table gone: {statistics.median(off) * 1000:.1f} ms"
        )
        gateway = str(ipaddress.ip_network(SUBNET)[1])
        local = dns_times(gateway, "kubernetes.default.svc.cluster.local", args.queries)
        forwarded = dns_times(gateway, "example.org", max(args.queries // 10, 1))
        print(
            f"cluster DNS: a Service's A record {statistics.median(local) * 1000:.2f} ms, "
            f"a forwarded name {statistics.median(forwarded) * 1000:.2f} ms (medians, UDP, from the host)"
        )
        cost = table_cost(args.services, args.endpoints, args.runs)
        print(
            f"whole-table replacement, {args.services} Services x {args.endpoints} endpoints: "
            f"{statistics.median(cost) * 1000:.1f} ms (render + one nft transaction, median of {args.runs})"
        )
    finally:
        subprocess.run([*mp, "delete", "pod", "web", "--grace-period", "0"], capture_output=True)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
