"""NetworkPolicy end to end: real pods, real packets, real nftables.

Every test makes namespaces of its own (so a policy never touches another
test's pods), applies policies with kubectl, and asks from inside the
client pods which server ports answer (helpers.netpol.reach). At the end
the namespaces go with everything in them, and the instance's policy
table must be gone from nftables.
"""

import json
import re
import signal
import time

import pytest
from helpers.host import eventually
from helpers.kubectl import kubectl
from helpers.netpol import (
    OTHER,
    WEB,
    Namespaces,
    apply,
    client,
    expect,
    host_reaches,
    policy,
    policy_table,
    reach,
    run_pods,
    server,
    tag,
    wait_table_gone,
)
from helpers.network import instance_network
from helpers.pods import ctr, pod


@pytest.fixture
def spaces(mp):
    ns = Namespaces(mp, tag())
    yield ns
    ns.cleanup()
    wait_table_gone(mp)


def _targets(ip: str) -> list[str]:
    return [f"{ip}:{WEB}", f"{ip}:{OTHER}"]


def test_open_without_policies_default_deny_ingress_closes_and_deleting_opens_again(mp, spaces):
    ns = spaces.make("deny")
    ips = run_pods(mp, ns, server("srv", {"app": "srv"}), client("c1"), client("c2", {"role": "client"}))
    srv = _targets(ips["srv"])
    assert policy_table(mp) is None, "a policy table exists with no policy"
    for c in ("c1", "c2"):
        expect(mp, ns, c, dict.fromkeys(srv, True))

    apply(mp, ns, policy("default-deny-ingress", policyTypes=["Ingress"]))
    for c in ("c1", "c2"):
        expect(mp, ns, c, dict.fromkeys(srv, False))
    # The node itself (probes) still reaches every pod.
    assert host_reaches(ips["srv"]), "the node lost its pods: probes would fail"
    table = policy_table(mp)
    assert table is not None and ips["srv"] in table and "hook forward" in table

    kubectl(mp, "delete", "networkpolicy", "default-deny-ingress", "-n", ns)
    wait_table_gone(mp, timeout=1)
    for c in ("c1", "c2"):
        expect(mp, ns, c, dict.fromkeys(srv, True), timeout=1)


def test_allow_by_pod_label_namespace_label_both_and_named_port(mp, spaces):
    a = spaces.make("a", {"team": "a"})
    b = spaces.make("b", {"team": "b"})
    srv_ip = run_pods(
        mp, a, server("srv", {"app": "srv"}), client("client", {"role": "client"}), client("other")
    )["srv"]
    run_pods(mp, b, client("client", {"role": "client"}), client("other"))
    srv = _targets(srv_ip)
    web, other = srv

    def check(allowed: set[tuple[str, str]], ports: dict[str, bool]) -> None:
        for ns in (a, b):
            for c in ("client", "other"):
                want = {t: ((ns, c) in allowed and ports[t]) for t in srv}
                expect(mp, ns, c, want)

    selected = {"matchLabels": {"app": "srv"}}
    # 1. by pod label: role=client pods of the policy's own namespace, on 8080 only.
    apply(
        mp,
        a,
        policy(
            "allow",
            selected,
            ingress=[
                {"from": [{"podSelector": {"matchLabels": {"role": "client"}}}], "ports": [{"port": WEB}]}
            ],
        ),
    )
    check({(a, "client")}, {web: True, other: False})
    # 2. by namespace label: every pod of team=b namespaces, both ports listed.
    apply(
        mp,
        a,
        policy(
            "allow",
            selected,
            ingress=[
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}],
                    "ports": [{"port": WEB, "protocol": "TCP"}, {"port": OTHER}],
                }
            ],
        ),
    )
    check({(b, "client"), (b, "other")}, {web: True, other: True})
    # 3. both in one peer: role=client pods in team=b namespaces, on the
    # port named `web` (8080 on this server) and nothing else.
    apply(
        mp,
        a,
        policy(
            "allow",
            selected,
            ingress=[
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [{"key": "team", "operator": "In", "values": ["b"]}]
                            },
                            "podSelector": {"matchLabels": {"role": "client"}},
                        }
                    ],
                    "ports": [{"port": "web"}],
                }
            ],
        ),
    )
    check({(b, "client")}, {web: True, other: False})
    # 4. a second policy adds to the first (the union of policies).
    apply(
        mp,
        a,
        policy(
            "also",
            selected,
            ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": OTHER, "endPort": OTHER + 5}]}],
        ),
    )
    for c in ("client", "other"):
        expect(mp, a, c, {web: False, other: True})
    expect(mp, b, "client", {web: True, other: False})


def test_ip_block_with_except(mp, spaces):
    ns = spaces.make("ipb")
    ips = run_pods(mp, ns, server("srv", {"app": "srv"}), client("in"), client("out"))
    # The whole pod subnet but one pod's address.
    block = {"ipBlock": {"cidr": str(instance_network(mp)["subnet"]), "except": [f"{ips['out']}/32"]}}
    apply(mp, ns, policy("ipblock", {"matchLabels": {"app": "srv"}}, ingress=[{"from": [block]}]))
    srv = _targets(ips["srv"])
    expect(mp, ns, "in", dict.fromkeys(srv, True))
    expect(mp, ns, "out", dict.fromkeys(srv, False))


def test_default_deny_egress_with_an_allow_to_one_port_of_one_pod(mp, spaces):
    ns = spaces.make("egress")
    ips = run_pods(
        mp, ns, server("srv", {"app": "srv"}), server("srv2"), client("c", {"role": "client"}), client("free")
    )
    clients = {"matchLabels": {"role": "client"}}
    apply(
        mp,
        ns,
        policy("deny-egress", clients, policyTypes=["Egress"]),
        policy(
            "allow-srv",
            clients,
            policyTypes=["Egress"],
            egress=[{"to": [{"podSelector": {"matchLabels": {"app": "srv"}}}], "ports": [{"port": "web"}]}],
        ),
    )
    want = {f"{ips['srv']}:{WEB}": True, f"{ips['srv']}:{OTHER}": False, f"{ips['srv2']}:{WEB}": False}
    expect(mp, ns, "c", want)
    expect(mp, ns, "free", dict.fromkeys(want, True))  # not selected: not isolated
    # Egress to the node is egress too: the gateway's address is not allowed.
    gateway = json.loads(mp.run("inspect", "c", "-n", ns, "-o", "json").stdout)["network"]["gateway"]
    p = mp.run("exec", "c", "-n", ns, "--", "ping", "-c", "1", "-W", "1", gateway, check=False)
    assert p.returncode != 0, "an egress-isolated pod pinged the node"
    assert host_reaches(ips["srv"])


def test_new_pod_and_relabelled_pod_get_the_policy_within_one_second(mp, spaces):
    ns = spaces.make("late")
    ips = run_pods(mp, ns, server("srv", {"app": "srv"}), client("c"))
    apply(
        mp,
        ns,
        policy(
            "allow-clients",
            {"matchLabels": {"app": "srv"}},
            ingress=[{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}],
        ),
    )
    web = f"{ips['srv']}:{WEB}"
    expect(mp, ns, "c", {web: False})
    # Relabelled: allowed within 1 s of the API call.
    kubectl(mp, "label", "pod", "c", "-n", ns, "role=client")
    labelled = time.monotonic()
    expect(mp, ns, "c", {web: True}, timeout=1)
    assert time.monotonic() - labelled < 2.5  # one exec's own cost on top of the 1 s
    # A server created after the policy is isolated from its first packet.
    late_ip = run_pods(mp, ns, server("srv-late", {"app": "srv"}), client("c-late"))
    assert reach(mp, ns, "c-late", [f"{late_ip['srv-late']}:{WEB}", web]) == {
        f"{late_ip['srv-late']}:{WEB}": False,
        web: False,
    }
    # A client created after the policy, with the label, is let in at once.
    new = run_pods(mp, ns, client("c-new", {"role": "client"}))
    assert new
    assert reach(mp, ns, "c-new", [f"{late_ip['srv-late']}:{WEB}", web]) == {
        f"{late_ip['srv-late']}:{WEB}": True,
        web: True,
    }
    # Label taken away: shut out again.
    kubectl(mp, "label", "pod", "c", "-n", ns, "role-")
    expect(mp, ns, "c", {web: False}, timeout=1)


def test_default_deny_egress_with_an_allow_to_the_cluster_dns(mp, spaces):
    ns = spaces.make("dns")
    ips = run_pods(mp, ns, server("srv", {"app": "srv"}), client("c", {"role": "client"}))
    gateway = json.loads(mp.run("inspect", "c", "-n", ns, "-o", "json").stdout)["network"]["gateway"]
    lookup = "nslookup -timeout=2 kubernetes.default.svc.cluster.local"
    clients = {"matchLabels": {"role": "client"}}
    apply(mp, ns, policy("deny-egress", clients, policyTypes=["Egress"]))
    eventually(
        lambda: mp.run("exec", "c", "-n", ns, "--", "sh", "-c", lookup, check=False).returncode != 0,
        5,
        "DNS to fail under default-deny egress",
    )
    # The cluster DNS answers on the node (the bridge's gateway), not from a
    # pod: it is allowed by its address, on port 53 over UDP and TCP.
    dns = {"ipBlock": {"cidr": f"{gateway}/32"}}
    ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    apply(
        mp, ns, policy("allow-dns", clients, policyTypes=["Egress"], egress=[{"to": [dns], "ports": ports}])
    )
    p = eventually(
        lambda: (
            (r := mp.run("exec", "c", "-n", ns, "--", "sh", "-c", lookup, check=False)).returncode == 0 and r
        ),
        5,
        "DNS to answer once allowed",
    )
    assert "kubernetes.default.svc.cluster.local" in p.stdout
    expect(mp, ns, "c", dict.fromkeys(_targets(ips["srv"]), False))  # everything else stays shut


def test_a_new_policy_keeps_established_connections_and_stops_new_ones(mp, spaces):
    ns = spaces.make("est")
    # What arrives on port 7000 goes to /tmp/got (nc -e: the socket is the
    # program's stdin; a plain `nc -l` would stop at its own stdin's end).
    sink = ctr(
        "sink", "printf '#!/bin/sh\\nexec cat > /tmp/got\\n' > /s && chmod +x /s && exec nc -l -p 7000 -e /s"
    )
    srv = server("srv", {"app": "srv"})
    srv["spec"]["containers"].append(sink)
    ips = run_pods(mp, ns, srv, client("c"))
    # One long-lived connection from a pod of its own, a line every 0.1 s.
    talk = f"while true; do echo tick; sleep 0.1; done | nc {ips['srv']} 7000"
    run_pods(mp, ns, pod("talker", ctr("main", talk), terminationGracePeriodSeconds=0))

    def received() -> int:
        out = mp.run("exec", "srv", "-n", ns, "-c", "sink", "--", "wc", "-c", "/tmp/got").stdout
        return int(out.split()[0])

    eventually(lambda: received() > 0, 5, "the long-lived connection to carry data")
    apply(mp, ns, policy("deny", {"matchLabels": {"app": "srv"}}, policyTypes=["Ingress"]))
    expect(mp, ns, "c", dict.fromkeys(_targets(ips["srv"]), False))  # new connections: dropped
    before = received()
    eventually(lambda: received() > before + 20, 5, "the established connection to go on carrying data")


def test_kubectl_get_describe_and_invalid_policies(mp, spaces):
    ns = spaces.make("kubectl")
    sel = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
    }
    apply(mp, ns, policy("web", sel, egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}]), policy("all"))
    lines = kubectl(mp, "get", "netpol", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["web"][1:3] == ["app=web,tier", "in"] and rows["web"][3] == "(a,b)"
    assert rows["all"][1] == "<none>"
    stored = json.loads(kubectl(mp, "get", "networkpolicy", "web", "-n", ns, "-o", "json").stdout)
    assert stored["spec"]["policyTypes"] == ["Ingress", "Egress"]  # defaulted by the API server
    assert mp.run("get", "netpol", "-n", ns).returncode == 0
    described = kubectl(mp, "describe", "netpol", "web", "-n", ns).stdout
    assert re.search(r"PodSelector:\s+app=web,tier in \(a,b\)", described), described
    assert re.search(r"To Port: 53/UDP", described) and "Policy Types: Ingress, Egress" in described, (
        described
    )
    bad = policy("bad", ingress=[{"from": [{}], "ports": [{"port": 70000, "protocol": "ICMP"}]}])
    p = kubectl(mp, "apply", "-n", ns, "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    for text in (
        'The NetworkPolicy "bad" is invalid',
        'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP"',
        "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
    ):
        assert text in p.stderr, p.stderr
    assert kubectl(mp, "get", "netpol", "bad", "-n", ns, check=False).returncode == 1  # nothing half-created


def test_policies_hold_while_the_daemon_is_down_and_after_its_restart(fresh_mp):
    mp, spaces = fresh_mp, Namespaces(fresh_mp, tag())
    try:
        ns = spaces.make("restart")
        ips = run_pods(mp, ns, server("srv", {"app": "srv"}), client("c"))
        srv = _targets(ips["srv"])
        apply(mp, ns, policy("deny", {"matchLabels": {"app": "srv"}}))
        expect(mp, ns, "c", dict.fromkeys(srv, False))
        mp.kill_daemon(signal.SIGKILL)
        # The kernel keeps the table: the pods stay protected without the daemon.
        assert policy_table(mp) is not None
        mp.start_daemon()
        expect(mp, ns, "c", dict.fromkeys(srv, False))
        kubectl(mp, "delete", "networkpolicy", "deny", "-n", ns)
        expect(mp, ns, "c", dict.fromkeys(srv, True))
        wait_table_gone(mp, timeout=1)
    finally:
        spaces.cleanup()
