"""Issue 17, what must hold: the cluster DNS (minipod/services/dns_server.py)
answers pods: a Service's name, a headless Service's ready pods, a short
name through the search list (ndots:5), pod records, NXDOMAIN with the
zone's SOA, and forwarding of every other name to the host's resolvers."""

import ipaddress
import json

import pytest
import yaml
from helpers.host import HTTP_PORT, eventually
from helpers.kubectl import kubectl
from helpers.pods import ctr, pod, pod_sh, sleeper_pod

READY_FILE = "/tmp/ready"


def web(name: str, labels: dict, **spec) -> dict:
    script = f"touch {READY_FILE}; mkdir -p /www && echo {name} > /www/index.html && exec httpd -f -p {HTTP_PORT} -h /www"
    probe = {"exec": {"command": ["test", "-e", READY_FILE]}, "periodSeconds": 1, "failureThreshold": 1}
    return pod(
        name,
        ctr("web", script, ports=[{"name": "http", "containerPort": HTTP_PORT}], readinessProbe=probe),
        labels=labels,
        **spec,
    )


def nslookup(mp, client: str, name: str, qtype: str = "") -> str:
    args = f"-type={qtype} " if qtype else ""
    return pod_sh(mp, client, f"nslookup {args}{name}", check=False).stdout


@pytest.fixture
def dns_world(mp, pods):
    pods.run(
        web("dns-a", {"app": "dnsweb"}, hostname="dns-a", subdomain="dnshl"),
        web("dns-b", {"app": "dnsweb"}),
        sleeper_pod("dns-client"),
    )
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "dnsweb"},
            "spec": {
                "selector": {"app": "dnsweb"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "dnshl"},
            "spec": {
                "clusterIP": "None",
                "selector": {"app": "dnsweb"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    ]
    kubectl(mp, "apply", "-f", "-", input=yaml.safe_dump_all(docs))
    yield
    kubectl(mp, "delete", "svc", "dnsweb", "dnshl", "--ignore-not-found")


def test_resolv_conf_is_the_kubelets(mp, dns_world):
    resolv = mp.run("exec", "dns-client", "--", "cat", "/etc/resolv.conf").stdout.splitlines()
    node = json.loads(kubectl(mp, "get", "svc", "kubernetes", "-o", "json").stdout)
    assert node  # the API serves: the DNS listens on the pods' gateway
    gateway = str(ipaddress.ip_network(mp.subnet)[1])
    assert resolv[0] == f"nameserver {gateway}"
    assert resolv[1].startswith("search default.svc.cluster.local svc.cluster.local cluster.local")
    assert resolv[-1] == "options ndots:5"


def test_service_names_headless_pods_and_short_names(mp, dns_world):
    ip = json.loads(kubectl(mp, "get", "svc", "dnsweb", "-o", "json").stdout)["spec"]["clusterIP"]
    out = nslookup(mp, "dns-client", "dnsweb.default.svc.cluster.local")
    assert f"Address: {ip}" in out, out
    # Headless: one address per ready pod; a pod that turns not-ready goes.
    pod_ips = {mp.pod(n)["status"]["podIP"] for n in ("dns-a", "dns-b")}

    def headless() -> set[str]:
        text = nslookup(mp, "dns-client", "dnshl.default.svc.cluster.local")
        return {line.split()[-1] for line in text.splitlines()[2:] if line.startswith("Address")}

    eventually(
        lambda: headless() == pod_ips,
        what="the headless Service's two pods",
        explain=lambda: nslookup(mp, "dns-client", "dnshl.default.svc.cluster.local"),
    )
    pod_sh(mp, "dns-b", f"rm {READY_FILE}")
    eventually(
        lambda: headless() == {mp.pod("dns-a")["status"]["podIP"]},
        what="dns-b dropped from the headless answer",
    )
    # hostname.subdomain of a pod, and the dashed pod record.
    a_ip = mp.pod("dns-a")["status"]["podIP"]
    assert f"Address: {a_ip}" in nslookup(mp, "dns-client", "dns-a.dnshl.default.svc.cluster.local")
    dashed = a_ip.replace(".", "-")
    assert f"Address: {a_ip}" in nslookup(mp, "dns-client", f"{dashed}.default.pod.cluster.local")
    # SRV for the named port.
    srv = nslookup(mp, "dns-client", "_http._tcp.dnsweb.default.svc.cluster.local", "srv")
    assert "dnsweb.default.svc.cluster.local" in srv and " 80 " in srv, srv
    # A short name through the search list (ndots:5): connect by it.
    got = pod_sh(
        mp, "dns-client", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 dnsweb 80 | tail -n 1", check=False
    ).stdout.strip()
    assert got == "dns-a", got


def test_nxdomain_has_the_soa_and_other_names_are_forwarded(mp, dns_world):
    out = nslookup(mp, "dns-client", "nothere.default.svc.cluster.local")
    assert "NXDOMAIN" in out, out
    # The answer straight from the server (dnslib on the test side): SOA in authority.
    from dnslib import QTYPE, RCODE, DNSRecord

    gateway = str(ipaddress.ip_network(mp.subnet)[1])
    reply = DNSRecord.parse(
        DNSRecord.question("nothere.default.svc.cluster.local").send(gateway, 53, timeout=3)
    )
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert reply.auth[0].rtype == QTYPE.SOA and str(reply.auth[0].rname) == "cluster.local."
    tcp = DNSRecord.parse(
        DNSRecord.question("dnsweb.default.svc.cluster.local").send(gateway, 53, tcp=True, timeout=3)
    )
    assert tcp.rr and tcp.rr[0].rtype == QTYPE.A
    # Forwarded: a name outside the zone gets the host's resolver's answer.
    with open("/etc/resolv.conf") as f:
        upstream = next(line.split()[1] for line in f if line.startswith("nameserver"))
    question = DNSRecord.question("example.org.")
    direct = DNSRecord.parse(question.send(upstream, 53, timeout=5))
    relayed = DNSRecord.parse(question.send(gateway, 53, timeout=5))
    assert relayed.header.rcode == direct.header.rcode != RCODE.SERVFAIL
    assert sorted(str(r.rdata) for r in relayed.rr) == sorted(str(r.rdata) for r in direct.rr)


def test_service_variables_for_services_that_exist_when_a_pod_starts(mp, pods, dns_world):
    ip = json.loads(kubectl(mp, "get", "svc", "dnsweb", "-o", "json").stdout)["spec"]["clusterIP"]
    pods.run(sleeper_pod("dns-env"), sleeper_pod("dns-noenv", enableServiceLinks=False))
    env = dict(
        line.split("=", 1)
        for line in mp.run("exec", "dns-env", "--", "env").stdout.splitlines()
        if "=" in line
    )
    assert env["DNSWEB_SERVICE_HOST"] == ip and env["DNSWEB_SERVICE_PORT"] == "80"
    assert env["DNSWEB_SERVICE_PORT_HTTP"] == "80"
    assert env["DNSWEB_PORT"] == f"tcp://{ip}:80" and env["DNSWEB_PORT_80_TCP_ADDR"] == ip
    assert "DNSHL_SERVICE_HOST" not in env  # headless: no address
    assert "KUBERNETES_SERVICE_HOST" in env
    plain = mp.run("exec", "dns-noenv", "--", "env").stdout
    assert "DNSWEB_" not in plain and "KUBERNETES_SERVICE_HOST" in plain
