"""NetworkPolicy as nftables rules: a pure function from the cluster (pods
with their IPs, labels and ports, namespaces with their labels, the
policies) to the whole table of one instance's network.

Steps, in order:
    1. plan(): for each policy, the IPs of the pods it selects, and for each
       of its rules an Allow: who (the peers, as collapsed CIDRs: pod IPs
       of the selected peers, ipBlock minus its except) may talk to whom on
       which ports (numbers and ranges, and named ports resolved per pod
       from its containers' ports); the pods isolated for ingress and for
       egress (selected by any policy of that type);
    2. render(): the plan as one libnftables JSON transaction that replaces
       the table `inet minipod-policy-NETWORK` as a whole: every policy's
       pods and peers become sets, every Allow one rule per port entry.

The table it renders:

    forward  filter, hook forward: traffic routed or bridged between pods
             (and between pods and other hosts)
                 ct state established,related accept
                 ip saddr @egress-isolated jump egress
                 ip daddr @ingress-isolated jump ingress
    input    filter, hook input: traffic from pods to the node itself
                 ct state established,related accept
                 ip saddr @egress-isolated jump egress
    egress   the Allows of egress rules (verdict return: on to the ingress
             check), then drop
    ingress  the Allows of ingress rules (verdict accept), then drop

Traffic the node itself sends to its pods (probes, `minipod exec`'s
friends, port-forward) goes through the output hook and is never checked,
as in most Kubernetes network plugins. Replies to allowed connections
pass by conntrack; a policy change affects new connections only.
"""

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from minipod.kube import label_selector

FAMILY = "inet"
INGRESS, EGRESS = "ingress", "egress"
INGRESS_ISOLATED, EGRESS_ISOLATED = "ingress-isolated", "egress-isolated"


def table_name(network: str) -> str:
    """The policy table of a network: `minipod-policy-NETWORK`."""
    return f"minipod-policy-{network}"


# --- the inputs --------------------------------------------------------------------


@dataclass(frozen=True)
class NamedPort:
    name: str
    protocol: str  # TCP, UDP, SCTP
    number: int


@dataclass(frozen=True)
class PodAddr:
    """What policies need of a pod: where it is, its labels, its named ports."""

    namespace: str
    name: str
    ip: str
    labels: Mapping[str, str]
    ports: tuple[NamedPort, ...] = ()


def pod_addr(pod: dict) -> PodAddr | None:
    """A pod object as policies see it; None while it has no IP of its own
    (not started, finished, or on the host's network)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ip = status.get("podIP")
    if not ip or spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    if ipaddress.ip_address(ip).version != 4:
        return None
    named = tuple(
        NamedPort(p["name"], p.get("protocol") or "TCP", int(p["containerPort"]))
        for c in spec.get("containers") or []
        for p in c.get("ports") or []
        if p.get("name") and p.get("containerPort")
    )
    meta = pod["metadata"]
    return PodAddr(
        meta.get("namespace") or "default", meta["name"], ip, dict(meta.get("labels") or {}), named
    )


# --- 1. the plan -------------------------------------------------------------------


@dataclass(frozen=True)
class PortRange:
    protocol: str  # tcp, udp, sctp (nft's names)
    first: int | None = None  # None: every port of the protocol
    last: int | None = None


@dataclass(frozen=True)
class Allow:
    """One rule of a policy: `peers` may reach (ingress) or be reached by
    (egress) the policy's pods on `ports`, or on the named ports resolved
    to `named` (ip, protocol, port) at the destination."""

    direction: str
    index: int
    peers: tuple[str, ...] | None  # CIDRs; None: any address
    ports: tuple[PortRange, ...] | None  # None: every port
    named: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class PolicyPlan:
    policy: str  # NAMESPACE/NAME
    pods: tuple[str, ...]  # the IPs of the pods it selects
    allows: tuple[Allow, ...]


@dataclass(frozen=True)
class Plan:
    ingress_isolated: tuple[str, ...] = ()
    egress_isolated: tuple[str, ...] = ()
    policies: tuple[PolicyPlan, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.policies


def plan(
    policies: Iterable[dict], pods: Iterable[PodAddr], namespaces: Mapping[str, Mapping[str, str]]
) -> Plan:
    """The table's content. `namespaces`: name -> labels. Policies are the
    stored (defaulted, valid) objects."""
    pods = sorted(pods, key=lambda p: (p.namespace, p.name))
    ordered = sorted(policies, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    ingress_iso: set[str] = set()
    egress_iso: set[str] = set()
    out = []
    # Many policies name the same peers (every namespace's "allow from my
    # frontends"): each distinct (peers, namespace) is resolved once.
    cache: dict[tuple[str, str], tuple[str, ...] | None] = {}

    def peers_of(rule_peers: list | None, ns: str) -> tuple[str, ...] | None:
        key = (json.dumps(rule_peers, sort_keys=True), ns)
        if key not in cache:
            cache[key] = _peers(rule_peers, ns, pods, namespaces)
        return cache[key]

    for pol in ordered:
        ns = pol["metadata"].get("namespace") or "default"
        spec = pol.get("spec") or {}
        chosen = spec.get("podSelector") or {}
        selected = [p for p in pods if p.namespace == ns and label_selector.matches(chosen, dict(p.labels))]
        ips = tuple(sorted({p.ip for p in selected}, key=ip_key))
        types = spec.get("policyTypes") or ["Ingress"]
        allows: list[Allow] = []
        if "Ingress" in types:
            ingress_iso.update(ips)
            for i, rule in enumerate(spec.get("ingress") or []):
                peers = peers_of(rule.get("from"), ns)
                allows.append(_allow(INGRESS, i, peers, rule.get("ports"), selected))
        if "Egress" in types:
            egress_iso.update(ips)
            for i, rule in enumerate(spec.get("egress") or []):
                peers = peers_of(rule.get("to"), ns)
                # Named ports are the destination's: the peer pods' ports.
                inside = _within(peers)
                targets = [p for p in pods if inside(p.ip)]
                allows.append(_allow(EGRESS, i, peers, rule.get("ports"), targets))
        out.append(PolicyPlan(f"{ns}/{pol['metadata']['name']}", ips, tuple(allows)))
    return Plan(tuple(sorted(ingress_iso, key=ip_key)), tuple(sorted(egress_iso, key=ip_key)), tuple(out))


def _peers(
    peers: list | None, ns: str, pods: list[PodAddr], namespaces: Mapping[str, Mapping[str, str]]
) -> tuple[str, ...] | None:
    """The addresses of a rule's peers (from/to): pod IPs as plain
    addresses (no two overlap), collapsed into prefixes only when an
    ipBlock is among them; None when the rule names no peer (it then
    matches every address)."""
    if not peers:
        return None
    blocks: list[ipaddress.IPv4Network] = []
    ips: set[str] = set()
    for peer in peers:
        if peer.get("ipBlock") is not None:
            blocks += ip_block(peer["ipBlock"])
            continue
        # A peer without podSelector means every pod of its namespaces;
        # without namespaceSelector, the policy's own namespace.
        pod_sel = peer.get("podSelector") or {}
        if peer.get("namespaceSelector") is not None:
            ns_sel = peer["namespaceSelector"]
            in_ns = {
                name for name, labels in namespaces.items() if label_selector.matches(ns_sel, dict(labels))
            }
        else:
            in_ns = {ns}
        ips.update(
            p.ip for p in pods if p.namespace in in_ns and label_selector.matches(pod_sel, dict(p.labels))
        )
    if not blocks:
        return tuple(sorted(ips, key=ip_key))
    nets = blocks + [ipaddress.IPv4Network(ip) for ip in ips]
    return tuple(str(n) for n in ipaddress.collapse_addresses(nets))


def ip_key(ip: str) -> tuple[int, ...]:
    """Sorts dotted IPv4 addresses by value, cheaply (a plan sorts thousands)."""
    return tuple(int(x) for x in ip.split("."))


def ip_block(block: Mapping) -> list[ipaddress.IPv4Network]:
    """cidr minus every except, as a list of IPv4 networks (IPv6 blocks
    give none: pods here have IPv4 addresses only)."""
    cidr = ipaddress.ip_network(block["cidr"], strict=False)
    if cidr.version != 4:
        return []
    nets = [cidr]
    for text in block.get("except") or []:
        cut = ipaddress.ip_network(text, strict=False)
        if cut.version != 4:
            continue
        kept: list[ipaddress.IPv4Network] = []
        for n in nets:
            if not n.overlaps(cut):
                kept.append(n)
            elif not n.subnet_of(cut):
                kept += list(n.address_exclude(cut))
        nets = kept
    return nets


def _within(cidrs: tuple[str, ...] | None):
    """A test of whether an IP is in `cidrs` (every IP when None)."""
    if cidrs is None:
        return lambda ip: True
    if all("/" not in c for c in cidrs):
        return set(cidrs).__contains__
    nets = [ipaddress.IPv4Network(c) for c in cidrs]
    return lambda ip: any(ipaddress.IPv4Address(ip) in n for n in nets)


def _allow(direction: str, index: int, peers, ports: list | None, targets: list[PodAddr]) -> Allow:
    """An Allow with its port entries: numbers and ranges as PortRanges,
    names resolved on each target pod that has a port of that name."""
    if not ports:
        return Allow(direction, index, peers, None)
    ranges: list[PortRange] = []
    named: set[tuple[str, str, int]] = set()
    for p in ports:
        proto = (p.get("protocol") or "TCP").lower()
        port = p.get("port")
        if port is None:
            ranges.append(PortRange(proto))
        elif isinstance(port, int):
            ranges.append(PortRange(proto, port, p.get("endPort") or port))
        else:
            named |= {
                (t.ip, proto, n.number)
                for t in targets
                for n in t.ports
                if n.name == port and n.protocol.lower() == proto
            }
    return Allow(direction, index, peers, tuple(ranges), tuple(sorted(named)))


# --- 2. the nftables transaction ------------------------------------------------------


def _match(left: dict, right, op: str = "==") -> dict:
    return {"match": {"op": op, "left": left, "right": right}}


def _ip(field: str) -> dict:
    return {"payload": {"protocol": "ip", "field": field}}


_L4PROTO = {"meta": {"key": "l4proto"}}
_DPORT = {"payload": {"protocol": "th", "field": "dport"}}
_ESTABLISHED = _match({"ct": {"key": "state"}}, ["established", "related"], "in")


def _elements(cidrs: Iterable[str]) -> list:
    out: list = []
    for c in cidrs:
        if "/" not in c:
            out.append(c)
            continue
        n = ipaddress.IPv4Network(c)
        out.append(
            str(n.network_address)
            if n.prefixlen == 32
            else {"prefix": {"addr": str(n.network_address), "len": n.prefixlen}}
        )
    return out


def render(table: str, p: Plan) -> list[dict]:
    """The transaction that makes the table exactly `p`: add (so that the
    delete cannot fail), delete, and when any policy exists, build it anew.
    One transaction: no packet ever sees half of it."""
    t = {"family": FAMILY, "name": table}
    cmds: list[dict] = [{"add": {"table": t}}, {"delete": {"table": t}}]
    if p.empty:
        return cmds
    cmds.append({"add": {"table": t}})

    def add_set(name: str, type_, elements: list, interval: bool = False, comment: str = "") -> None:
        spec: dict = {"family": FAMILY, "table": table, "name": name, "type": type_}
        if interval:
            spec["flags"] = ["interval"]
        if comment:
            spec["comment"] = comment[:120]
        if elements:
            spec["elem"] = elements
        cmds.append({"add": {"set": spec}})

    def add_chain(name: str, hook: str | None = None) -> None:
        spec: dict = {"family": FAMILY, "table": table, "name": name}
        if hook:
            spec.update(type="filter", hook=hook, prio=0, policy="accept")
        cmds.append({"add": {"chain": spec}})

    def add_rule(chain: str, expr: list, comment: str = "") -> None:
        rule: dict = {"family": FAMILY, "table": table, "chain": chain, "expr": expr}
        if comment:
            rule["comment"] = comment[:120]
        cmds.append({"add": {"rule": rule}})

    add_set(
        INGRESS_ISOLATED, "ipv4_addr", list(p.ingress_isolated), comment="pods selected by an Ingress policy"
    )
    add_set(
        EGRESS_ISOLATED, "ipv4_addr", list(p.egress_isolated), comment="pods selected by an Egress policy"
    )
    for chain in (EGRESS, INGRESS):
        add_chain(chain)
    add_chain("forward", "forward")
    add_chain("input", "input")
    add_rule("forward", [_ESTABLISHED, {"accept": None}], "replies to allowed connections")
    add_rule("forward", [_match(_ip("saddr"), "@" + EGRESS_ISOLATED), {"jump": {"target": EGRESS}}])
    add_rule("forward", [_match(_ip("daddr"), "@" + INGRESS_ISOLATED), {"jump": {"target": INGRESS}}])
    add_rule("input", [_ESTABLISHED, {"accept": None}], "replies to allowed connections")
    add_rule("input", [_match(_ip("saddr"), "@" + EGRESS_ISOLATED), {"jump": {"target": EGRESS}}])

    for i, pol in enumerate(p.policies):
        pods_set = f"p{i}"
        add_set(pods_set, "ipv4_addr", list(pol.pods), comment=f"pods of {pol.policy}")
        for a in pol.allows:
            tag = f"p{i}-{'in' if a.direction == INGRESS else 'out'}{a.index}"
            comment = f"{pol.policy} {a.direction}[{a.index}]"
            mine, theirs = ("daddr", "saddr") if a.direction == INGRESS else ("saddr", "daddr")
            base = [_match(_ip(mine), "@" + pods_set)]
            if a.peers is not None:
                add_set(tag, "ipv4_addr", _elements(a.peers), interval=True, comment=f"peers of {comment}")
                base.append(_match(_ip(theirs), "@" + tag))
            verdict = {"accept": None} if a.direction == INGRESS else {"return": None}
            if a.ports is None:
                add_rule(a.direction, [*base, verdict], comment)
                continue
            for r in a.ports:
                expr = [*base, _match(_L4PROTO, r.protocol)]
                if r.first is not None:
                    expr.append(
                        _match(_DPORT, r.first if r.last == r.first else {"range": [r.first, r.last]})
                    )
                add_rule(a.direction, [*expr, verdict], comment)
            if a.named:
                name = tag + "-named"
                elements = [{"concat": [ip, proto, port]} for ip, proto, port in a.named]
                add_set(
                    name,
                    ["ipv4_addr", "inet_proto", "inet_service"],
                    elements,
                    comment=f"named ports of {comment}",
                )
                left = {"concat": [_ip("daddr"), _L4PROTO, _DPORT]}
                add_rule(a.direction, [*base, _match(left, "@" + name), verdict], comment + " named ports")
    add_rule(EGRESS, [{"drop": None}], "no policy allows this egress")
    add_rule(INGRESS, [{"drop": None}], "no policy allows this ingress")
    return cmds
