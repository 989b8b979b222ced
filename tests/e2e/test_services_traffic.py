"""Issue 17, what must hold: real traffic between real pods through
Services (kube-proxy's nftables layout, minipod/services/proxy_rules.py).

Three busybox httpd pods each serve a page naming the pod; a readiness
probe reads /tmp/ready, so removing that file turns a pod not-ready."""

import collections
import json
import subprocess

import pytest
import yaml
from helpers.host import HTTP_PORT, eventually, http_get
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod, pod_sh, sleeper_pod

READY_FILE = "/tmp/ready"


def ready_web_pod(name: str, labels: dict) -> dict:
    script = (
        f"touch {READY_FILE}; mkdir -p /www && echo {name} > /www/index.html "
        f"&& exec httpd -f -p {HTTP_PORT} -h /www"
    )
    probe = {"exec": {"command": ["test", "-e", READY_FILE]}, "periodSeconds": 1, "failureThreshold": 1}
    c = ctr("web", script, ports=[{"name": "http", "containerPort": HTTP_PORT}], readinessProbe=probe)
    return pod(name, c, labels=labels)


def service(name: str, selector: dict, **spec) -> dict:
    spec.setdefault("ports", [{"port": 80, "targetPort": "http"}])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": dict(spec, selector=selector),
    }


def apply(mp, *docs: dict) -> None:
    kubectl(mp, "apply", "-f", "-", input=yaml.safe_dump_all(docs))


def cluster_ip(mp, name: str) -> str:
    return json.loads(kubectl(mp, "get", "svc", name, "-o", "json").stdout)["spec"]["clusterIP"]


def slice_addresses(mp, name: str, ready_only: bool = True) -> set[str]:
    out = json.loads(
        kubectl(mp, "get", "endpointslices", "-l", f"kubernetes.io/service-name={name}", "-o", "json").stdout
    )
    return {
        a
        for s in out["items"]
        for ep in s.get("endpoints") or []
        if ep["conditions"].get("ready") or not ready_only
        for a in ep["addresses"]
    }


def fetch_many(mp, client: str, address: str, n: int) -> collections.Counter:
    """n GETs of / from inside the client pod (busybox nc), one connection
    each: the bodies (pod names) counted."""
    get = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {address} 80 | tail -n 1"
    script = f'for i in $(seq {n}); do r=$({get}); echo "${{r:-FAILED}}"; done'
    out = pod_sh(mp, client, script).stdout.split()
    return collections.Counter(out)


def table_name(mp) -> str:
    return f"minipod-svc-minipod-{mp.bridge}"


def table_exists(mp) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table_name(mp)], capture_output=True).returncode == 0


def rules_of(mp, *services: str) -> list[str]:
    """The lines of the Services' table that name one of `services` (other
    tests' Services may share the session's instance and its table)."""
    p = subprocess.run(["nft", "list", "table", "ip", table_name(mp)], capture_output=True, text=True)
    return [line for line in p.stdout.splitlines() if any(f"default/{s}/" in line for s in services)]


@pytest.fixture
def three_webs(mp, pods):
    names = [f"spread-{i}" for i in range(3)]
    pods.run(*(ready_web_pod(n, {"app": "spread", "me": n}) for n in names), sleeper_pod("spread-client"))
    yield names
    kubectl(mp, "delete", "svc", "spread", "spread-self", "spread-np", "spread-manual", "--ignore-not-found")


def test_cluster_ip_spreads_drops_not_ready_hairpins_and_leaves_nothing(mp, three_webs):
    apply(mp, service("spread", {"app": "spread"}))
    ip = cluster_ip(mp, "spread")
    ips = {mp.pod(n)["status"]["podIP"] for n in three_webs}
    eventually(lambda: slice_addresses(mp, "spread") == ips, what="3 ready endpoints in the slice")
    # Spread: every one of the 3 pods answers some of 60 connections.
    counts = fetch_many(mp, "spread-client", ip, 60)
    if set(counts) != set(three_webs):
        print(
            subprocess.run(
                ["nft", "list", "table", "ip", table_name(mp)], capture_output=True, text=True
            ).stdout
        )
    assert set(counts) == set(three_webs), counts
    # A pod that turns not-ready is dropped from the slice and the rules.
    pod_sh(mp, "spread-0", f"rm {READY_FILE}")
    eventually(
        lambda: slice_addresses(mp, "spread") == ips - {mp.pod("spread-0")["status"]["podIP"]},
        what="spread-0 dropped",
    )
    eventually(lambda: "spread-0" not in fetch_many(mp, "spread-client", ip, 1), what="rules follow")
    counts = fetch_many(mp, "spread-client", ip, 30)
    assert set(counts) == {"spread-1", "spread-2"}, counts
    # Hairpin: a pod reaches itself through its own Service.
    apply(mp, service("spread-self", {"me": "spread-1"}))
    self_ip = cluster_ip(mp, "spread-self")
    eventually(lambda: slice_addresses(mp, "spread-self"), what="spread-self's endpoint")
    assert eventually(lambda: fetch_many(mp, "spread-1", self_ip, 3) == {"spread-1": 3}, what="hairpin")
    # Nothing of the Services is left in nftables once they are gone
    # (the table itself goes with an instance's last Service: test_services_leaks.py).
    assert rules_of(mp, "spread", "spread-self")
    kubectl(mp, "delete", "svc", "spread", "spread-self")
    eventually(lambda: not rules_of(mp, "spread", "spread-self"), what="the Services' rules removed")


def test_node_port_from_the_host(mp, three_webs):
    apply(mp, service("spread-np", {"app": "spread"}, type="NodePort"))
    svc = json.loads(kubectl(mp, "get", "svc", "spread-np", "-o", "json").stdout)
    node_port = svc["spec"]["ports"][0]["nodePort"]
    node = json.loads(kubectl(mp, "get", "nodes", "-o", "json").stdout)["items"][0]
    host_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    eventually(lambda: len(slice_addresses(mp, "spread-np")) == 3, what="3 endpoints")
    seen = eventually(lambda: http_get(host_ip, node_port), what=f"an answer on {host_ip}:{node_port}")
    assert seen in three_webs
    kubectl(mp, "delete", "svc", "spread-np")
    eventually(lambda: not rules_of(mp, "spread-np"), what="the Service's rules removed")


def test_client_ip_affinity_and_a_selectorless_service_with_its_own_slice(mp, three_webs):
    # sessionAffinity ClientIP: one client keeps reaching the same pod.
    apply(mp, service("spread", {"app": "spread"}, sessionAffinity="ClientIP"))
    ip = cluster_ip(mp, "spread")
    eventually(lambda: len(slice_addresses(mp, "spread")) == 3, what="3 endpoints")
    counts = fetch_many(mp, "spread-client", ip, 20)
    assert len(counts) == 1 and "FAILED" not in counts, counts
    # No selector: the EndpointSlice the user writes is the one used.
    manual = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "spread-manual"},
        "spec": {"ports": [{"name": "web", "port": 80}]},
    }
    target = mp.pod("spread-2")["status"]["podIP"]
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "spread-manual-1", "labels": {"kubernetes.io/service-name": "spread-manual"}},
        "addressType": "IPv4",
        "ports": [{"name": "web", "port": HTTP_PORT, "protocol": "TCP"}],
        "endpoints": [{"addresses": [target]}],
    }
    apply(mp, manual, eps)
    manual_ip = cluster_ip(mp, "spread-manual")
    eventually(
        lambda: fetch_many(mp, "spread-client", manual_ip, 1) == {"spread-2": 1},
        what="the manual slice's pod",
    )
    assert json.loads(kubectl(mp, "get", "endpointslices", "spread-manual-1", "-o", "json").stdout)[
        "endpoints"
    ][0]["addresses"] == [target]
    kubectl(mp, "delete", "endpointslice", "spread-manual-1")
    kubectl(mp, "delete", "svc", "spread", "spread-manual")
    eventually(lambda: not rules_of(mp, "spread", "spread-manual"), what="the Services' rules removed")
