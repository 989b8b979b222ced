"""NetworkPolicy end to end: real pods, real packets, real nftables.

Every test makes namespaces of its own (so a policy never touches another
test's pods), applies policies with kubectl, and asks from inside the
client pods which server ports answer (helpers.netpol.reach). At the end
the namespaces go with everything in them, and the instance's policy
table must be gone from nftables.
"""

import json
import time

import pytest
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
