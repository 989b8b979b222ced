"""NetworkPolicy without root: the API server's defaults and validation
(through the object store, on files in a temporary directory), and the
pure plan of the nftables table (who may reach whom, on which ports)."""

import pytest

from minipod.network import policy_rules as pr
from minipod.network.policy_rules import Allow, NamedPort, PodAddr, PortRange
from minipod.objects import resources
from minipod.objects.errors import ApiError
from minipod.objects.networkpolicy_spec import admit
from minipod.objects.store import ObjectStore

NETPOL = resources.find("networking.k8s.io", "v1", "networkpolicies")


@pytest.fixture
def store(tmp_path):
    s = ObjectStore(str(tmp_path))
    s.admission[NETPOL.key] = admit  # as open_cluster() registers it
    s.ensure_defaults()
    return s


def policy(name: str = "p", namespace: str = "default", **spec) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


# --- defaults and validation, as the API server does them ------------------------------


def test_defaults_policy_types_protocol_and_pod_selector(store):
    obj = store.create(NETPOL, policy(ingress=[{"ports": [{"port": 80}]}]), "default")
    assert obj["spec"]["podSelector"] == {}
    assert obj["spec"]["policyTypes"] == ["Ingress"]
    assert obj["spec"]["ingress"][0]["ports"][0]["protocol"] == "TCP"
    obj = store.create(NETPOL, policy("e", egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}]), "default")
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert obj["spec"]["egress"][0]["ports"][0]["protocol"] == "UDP"
    obj = store.create(NETPOL, policy("x", policyTypes=["Egress"], ingress=[{}]), "default")
    assert obj["spec"]["policyTypes"] == ["Egress"]  # given: kept


def test_update_keeps_generation_when_only_defaults_differ(store):
    store.create(NETPOL, policy(ingress=[{"ports": [{"port": 80}]}]), "default")
    again = store.update(NETPOL, policy(ingress=[{"ports": [{"port": 80}]}]), "default", "p")
    assert again["metadata"]["generation"] == 1


def _causes(store, **spec) -> list[tuple[str, str]]:
    with pytest.raises(ApiError) as e:
        store.create(NETPOL, policy(**spec), "default")
    assert e.value.code == 422 and e.value.reason == "Invalid"
    assert e.value.message.startswith('NetworkPolicy.networking.k8s.io "p" is invalid: ')
    assert e.value.details["group"] == "networking.k8s.io" and e.value.details["kind"] == "NetworkPolicy"
    return [(c["field"], c["message"]) for c in e.value.details["causes"]]


@pytest.mark.parametrize(
    "spec, field, message",
    [
        (
            {"ingress": [{"ports": [{"protocol": "ICMP"}]}]},
            "spec.ingress[0].ports[0].protocol",
            'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
        ),
        (
            {"ingress": [{"ports": [{"port": 0}]}]},
            "spec.ingress[0].ports[0].port",
            "Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            {"egress": [{"ports": [{"port": 90, "endPort": 80}]}]},
            "spec.egress[0].ports[0].endPort",
            "Invalid value: 90: must be greater than or equal to `port`",
        ),
        (
            {"egress": [{"ports": [{"port": "web", "endPort": 80}]}]},
            "spec.egress[0].ports[0].endPort",
            "Invalid value: 80: may not be specified when `port` is non-numeric",
        ),
        (
            {"egress": [{"ports": [{"endPort": 80}]}]},
            "spec.egress[0].ports[0].endPort",
            "Invalid value: 80: may not be specified when `port` is not specified",
        ),
        (
            {"ingress": [{"ports": [{"port": "Web_1"}]}]},
            "spec.ingress[0].ports[0].port",
            'Invalid value: "Web_1": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        ),
        ({"ingress": [{"from": [{}]}]}, "spec.ingress[0].from[0]", "Required value: must specify a peer"),
        (
            {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]},
            "spec.ingress[0].from[0]",
            "Forbidden: may not specify both ipBlock and another peer",
        ),
        (
            {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}]},
            "spec.egress[0].to[0].ipBlock.except[0]",
            'Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
        ),
        (
            {"egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.300/8"}}]}]},
            "spec.egress[0].to[0].ipBlock.cidr",
            'Invalid value: "10.0.0.300/8": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        ),
        ({"egress": [{"to": [{"ipBlock": {}}]}]}, "spec.egress[0].to[0].ipBlock.cidr", "Required value"),
        (
            {"policyTypes": ["Ingress", "Sideways"]},
            "spec.policyTypes[1]",
            'Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
        ),
        (
            {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
            "spec.podSelector.matchExpressions[0].values",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]}},
            "spec.podSelector.matchExpressions[0].values",
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        ),
        (
            {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Near"}]}},
            "spec.podSelector.matchExpressions[0].operator",
            'Invalid value: "Near": not a valid selector operator',
        ),
    ],
)
def test_invalid_policies_name_the_field(store, spec, field, message):
    assert (field, message) in _causes(store, **spec)
    assert not store.exists(NETPOL, "default", "p")  # nothing half-created


def test_more_than_two_policy_types(store):
    causes = _causes(store, policyTypes=["Ingress", "Egress", "Ingress"])
    assert causes == [
        (
            "spec.policyTypes",
            "Invalid value: ['Ingress', 'Egress', 'Ingress']: may not specify more than two policyTypes",
        )
    ]


def test_kubectl_columns():
    names = [c.name for c in NETPOL.columns]
    assert names == ["Name", "Pod-Selector", "Age"]
    cell = NETPOL.columns[1].cell
    assert cell({"spec": {"podSelector": {}}}, 0) == "<none>"
    sel = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
    }
    assert cell({"spec": {"podSelector": sel}}, 0) == "app=web,tier in (a,b)"
    assert NETPOL.short_names == ("netpol",)


# --- the plan --------------------------------------------------------------------------

A = PodAddr("default", "a", "10.1.0.2", {"app": "web"}, (NamedPort("http", "TCP", 8080),))
B = PodAddr("default", "b", "10.1.0.3", {"role": "client"})
C = PodAddr("team", "c", "10.1.0.4", {"role": "client"}, (NamedPort("http", "TCP", 9000),))
D = PodAddr("team", "d", "10.1.0.5", {})
PODS = [A, B, C, D]
NAMESPACES = {"default": {"kubernetes.io/metadata.name": "default"}, "team": {"team": "x"}}


def _plan(*policies: dict) -> pr.Plan:
    return pr.plan([admit(p) for p in policies], PODS, NAMESPACES)


def test_no_policy_no_isolation():
    p = _plan()
    assert p.empty and p.ingress_isolated == () and p.egress_isolated == ()
    cmds = pr.render("minipod-policy-x", p)
    assert [list(c)[0] for c in cmds] == ["add", "delete"]  # the table goes, if it was there


def test_a_policy_selects_only_its_namespace_and_isolates_by_type():
    p = _plan(policy(podSelector={}))  # default deny ingress in default
    assert p.ingress_isolated == ("10.1.0.2", "10.1.0.3") and p.egress_isolated == ()
    assert p.policies[0].allows == ()
    p = _plan(policy(podSelector={"matchLabels": {"role": "client"}}, policyTypes=["Egress"], ingress=[{}]))
    assert p.egress_isolated == ("10.1.0.3",) and p.ingress_isolated == ()
    assert p.policies[0].allows == ()  # ingress rules of an Egress-only policy count for nothing


def test_peers_by_pod_label_namespace_label_and_both():
    client = {"matchLabels": {"role": "client"}}
    team = {"matchLabels": {"team": "x"}}

    def peers(peer: dict):
        return _plan(policy(ingress=[{"from": [peer]}])).policies[0].allows[0].peers

    assert peers({"podSelector": client}) == ("10.1.0.3",)  # own namespace only
    assert peers({"namespaceSelector": team}) == ("10.1.0.4", "10.1.0.5")  # c and d
    assert peers({"namespaceSelector": team, "podSelector": client}) == ("10.1.0.4",)
    assert peers({"namespaceSelector": {}}) == ("10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5")  # every pod
    # With an ipBlock, one set of prefixes that never overlap (nft refuses overlaps).
    block = {"ipBlock": {"cidr": "10.1.0.0/30", "except": ["10.1.0.1/32"]}}
    assert _plan(policy(ingress=[{"from": [block, {"podSelector": client}]}])).policies[0].allows[
        0
    ].peers == (
        "10.1.0.0/32",
        "10.1.0.2/31",
    )
    assert _plan(policy(ingress=[{}])).policies[0].allows[0].peers is None  # from anywhere


def test_ip_block_minus_except():
    nets = pr.ip_block({"cidr": "10.1.0.0/24", "except": ["10.1.0.0/25", "10.1.0.200/32"]})
    covered = {str(ip) for n in nets for ip in n}
    assert "10.1.0.128" in covered and "10.1.0.199" in covered and "10.1.0.201" in covered
    assert "10.1.0.200" not in covered and "10.1.0.1" not in covered
    assert pr.ip_block({"cidr": "fd00::/64"}) == []


def test_ports_numbers_ranges_protocols_and_named_ports_per_pod():
    rule = {
        "from": [{"namespaceSelector": {}}],
        "ports": [
            {"port": 80},
            {"port": 7000, "endPort": 7010, "protocol": "UDP"},
            {"protocol": "SCTP"},
            {"port": "http"},
        ],
    }
    allow = _plan(policy(podSelector={}, ingress=[rule])).policies[0].allows[0]
    assert allow.ports == (PortRange("tcp", 80, 80), PortRange("udp", 7000, 7010), PortRange("sctp"))
    # Ingress: the name is resolved on the selected pods (a has http=8080; c is in another namespace).
    assert allow.named == (("10.1.0.2", "tcp", 8080),)
    # Egress: on the destination pods (a: 8080, c: 9000).
    egress = {"to": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}
    allow = _plan(policy(policyTypes=["Egress"], egress=[egress])).policies[0].allows[0]
    assert allow.named == (("10.1.0.2", "tcp", 8080), ("10.1.0.4", "tcp", 9000))
    assert allow.ports == ()  # no numbered port: only the named ones


def test_union_of_policies_and_pods_without_an_ip():
    p = _plan(
        policy("one", podSelector={"matchLabels": {"app": "web"}}, ingress=[{"ports": [{"port": 1}]}]),
        policy("two", podSelector={}, ingress=[{"ports": [{"port": 2}]}]),
    )
    assert [x.policy for x in p.policies] == ["default/one", "default/two"]
    assert p.policies[0].pods == ("10.1.0.2",) and p.policies[1].pods == ("10.1.0.2", "10.1.0.3")
    assert p.policies[0].allows == (Allow("ingress", 0, None, (PortRange("tcp", 1, 1),)),)
    pod = {"metadata": {"name": "x", "namespace": "default"}, "spec": {}, "status": {"phase": "Pending"}}
    assert pr.pod_addr(pod) is None
    pod["status"].update(podIP="10.1.0.9", phase="Running")
    assert pr.pod_addr(pod) == PodAddr("default", "x", "10.1.0.9", {})
    pod["spec"]["hostNetwork"] = True
    assert pr.pod_addr(pod) is None  # the host's own address: policies do not apply


def test_render_one_rule_per_port_entry_and_sets_per_peer():
    rule = {
        "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
        "ports": [{"port": 80}, {"port": "http"}],
    }
    cmds = pr.render("t", _plan(policy(podSelector={"matchLabels": {"app": "web"}}, ingress=[rule])))
    sets = {c["add"]["set"]["name"]: c["add"]["set"] for c in cmds if "set" in c.get("add", {})}
    assert sets["p0"]["elem"] == ["10.1.0.2"]
    assert sets["p0-in0"]["elem"] == ["10.1.0.3"] and sets["p0-in0"]["flags"] == ["interval"]
    assert sets["p0-in0-named"]["elem"] == [{"concat": ["10.1.0.2", "tcp", 8080]}]
    rules = [c["add"]["rule"] for c in cmds if "rule" in c.get("add", {})]
    ingress = [r for r in rules if r["chain"] == "ingress"]
    assert len(ingress) == 3  # port 80, the named port, then the drop
    assert ingress[-1]["expr"] == [{"drop": None}]
    assert all(list(r["expr"][-1]) == ["accept"] for r in ingress[:-1])


def test_policy_sync_lists_no_pod_while_no_policy_exists(monkeypatch):
    """A pod start wakes the policy sync several times: with no
    NetworkPolicy it must not list every pod (that made each start cost
    more as more pods ran), and its plan is still the empty one."""
    from types import SimpleNamespace

    from minipod.network.policy_rules import Plan
    from minipod.network.policy_sync import WATCHED, PolicySync

    def pod(name: str, ip: str) -> dict:
        return {
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c"}]},
            "status": {"podIP": ip, "hostIP": "10.0.0.1"},
        }

    pods = {f"default/p{i}": pod(f"p{i}", f"10.1.0.{i + 2}") for i in range(3)}
    namespaces = {"default": {"metadata": {"name": "default"}}}
    objects = {"/pods": pods, "/namespaces": namespaces, WATCHED[2]: {}}
    sync = PolicySync(SimpleNamespace(objects=objects), "mpx0")
    calls = []
    real_pod_addr = pr.pod_addr
    monkeypatch.setattr(pr, "pod_addr", lambda obj: calls.append(obj) or real_pod_addr(obj))
    assert sync.desired() == Plan()
    assert calls == []
    # With a policy, every pod is looked at and the selected ones isolated.
    objects[WATCHED[2]] = {"default/deny": policy("deny", podSelector={}, policyTypes=["Ingress"])}
    want = sync.desired()
    assert len(calls) == 3
    assert want.ingress_isolated and want != Plan()
