"""The Services' data path as nftables rules, the way kube-proxy's nftables
mode lays them out (pure: from Services and EndpointSlices to text).

Steps of ruleset(), in order:
    1. service_ports(): one typed ServicePort per (Service, port) with a
       ClusterIP, each with its ready endpoints (from the EndpointSlices
       labelled with its name, the port matched by name);
    2. the table: base chains hooked where kube-proxy hooks them
       (nat-prerouting and nat-output jump `services`, nat-postrouting
       jumps `masquerading`; filter-input/forward/output reject new
       connections to a Service with no endpoint);
    3. the verdict maps: `service-ips` (ClusterIP . protocol . port) and
       `service-nodeports` (protocol . port, for the node's own addresses),
       `no-endpoint-services` for the rejects;
    4. per Service port a chain `service-HASH-NS/NAME/PROTO/PORTNAME` that
       marks traffic from outside the pod network for masquerade and
       picks an endpoint with `numgen random mod N vmap`; with
       sessionAffinity ClientIP an `affinity-...` set first sends a
       client back to the endpoint it had; NodePorts go through
       `external-HASH-...`, which always masquerades;
    5. per endpoint a chain `endpoint-HASH-...__IP/PORT`: a pod reaching
       itself (hairpin) is marked for masquerade, then DNAT.
The text replaces the whole table in one transaction (proxy.py).
"""

import base64
import hashlib
from dataclasses import dataclass

MASQ_MARK = "0x4000"  # kube-proxy's masquerade bit


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # tcp, udp, sctp
    cluster_ip: str
    port: int
    node_port: int  # 0: none
    endpoints: tuple[Endpoint, ...]
    affinity_timeout: int  # seconds; 0: no sessionAffinity

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name}"


def _hash(text: str) -> str:
    """8 characters of base32(sha256), as kube-proxy names its chains."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def service_chain(sp: ServicePort) -> str:
    return f"service-{_hash(sp.id)}-{sp.id}"


def external_chain(sp: ServicePort) -> str:
    return f"external-{_hash(sp.id)}-{sp.id}"


def endpoint_chain(sp: ServicePort, ep: Endpoint) -> str:
    text = f"{sp.id}__{ep.ip}/{ep.port}"
    return f"endpoint-{_hash(text)}-{text}"


def affinity_set(sp: ServicePort, ep: Endpoint) -> str:
    text = f"{sp.id}__{ep.ip}/{ep.port}"
    return f"affinity-{_hash(text)}-{text}"


def ready_endpoints(svc: dict, port: dict, slices: list[dict]) -> tuple[Endpoint, ...]:
    """A Service port's ready endpoints from its slices (ports matched by
    name, as kube-proxy does)."""
    out: set[Endpoint] = set()
    name, proto = port.get("name") or "", port.get("protocol", "TCP")
    for s in slices:
        if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != svc["metadata"]["name"]:
            continue
        if s["metadata"].get("namespace") != svc["metadata"]["namespace"] or s.get("addressType") != "IPv4":
            continue
        number = next(
            (
                p.get("port")
                for p in s.get("ports") or []
                if (p.get("name") or "") == name and p.get("protocol", "TCP") == proto
            ),
            None,
        )
        if not number:
            continue
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is not False:  # unset means ready
                out.update(Endpoint(a, number) for a in ep.get("addresses") or [])
    return tuple(sorted(out, key=lambda e: (tuple(int(x) for x in e.ip.split(".")), e.port)))


def service_ports(services: list[dict], slices: list[dict]) -> list[ServicePort]:
    """Step 1."""
    out = []
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if spec.get("type") == "ExternalName" or ip in (None, "", "None"):
            continue
        timeout = 0
        if spec.get("sessionAffinity") == "ClientIP":
            timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
                "timeoutSeconds"
            ) or 10800
        for p in spec.get("ports") or []:
            out.append(
                ServicePort(
                    svc["metadata"]["namespace"],
                    svc["metadata"]["name"],
                    p.get("name") or "",
                    p.get("protocol", "TCP").lower(),
                    ip,
                    p["port"],
                    p.get("nodePort") or 0,
                    ready_endpoints(svc, p, slices),
                    timeout,
                )
            )
    return sorted(out, key=lambda sp: sp.id)


def _base(table: str, pod_subnet: str) -> list[str]:
    """Step 2."""
    return [
        f"table ip {table} {{",
        '  comment "minipod Services (kube-proxy\'s nftables layout)"',
        "  chain nat-prerouting {",
        "    type nat hook prerouting priority -100; policy accept;",
        "    jump services",
        "  }",
        "  chain nat-output {",
        "    type nat hook output priority -100; policy accept;",
        "    jump services",
        "  }",
        "  chain nat-postrouting {",
        "    type nat hook postrouting priority 100; policy accept;",
        "    jump masquerading",
        "  }",
        "  chain masquerading {",
        f"    meta mark & {MASQ_MARK} == 0 return",
        f"    meta mark set meta mark ^ {MASQ_MARK}",
        "    masquerade fully-random",
        "  }",
        "  chain mark-for-masquerade {",
        f"    meta mark set meta mark | {MASQ_MARK}",
        "  }",
        "  chain filter-input {",
        "    type filter hook input priority -110; policy accept;",
        "    ct state new jump service-endpoints-check",
        "  }",
        "  chain filter-forward {",
        "    type filter hook forward priority -110; policy accept;",
        "    ct state new jump service-endpoints-check",
        "  }",
        "  chain filter-output {",
        "    type filter hook output priority -110; policy accept;",
        "    ct state new jump service-endpoints-check",
        "  }",
        "  chain service-endpoints-check {",
        "    ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
        "  }",
        "  chain reject-chain {",
        "    reject",
        "  }",
        "  chain services {",
        "    ip daddr . meta l4proto . th dport vmap @service-ips",
        "    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
        "  }",
    ]


def _map(name: str, key: str, elements: list[str]) -> list[str]:
    lines = [f"  map {name} {{", f"    type {key} : verdict"]
    if elements:
        lines.append("    elements = { " + ", ".join(elements) + " }")
    return lines + ["  }"]


def ruleset(table: str, ports: list[ServicePort], pod_subnet: str, masquerade_all: bool = False) -> str:
    """The whole table as nft text. masquerade_all: masquerade pod-to-Service
    traffic too (when bridged traffic skips the host's conntrack, a reply
    from a pod on the same bridge would otherwise bypass the un-DNAT)."""
    lines = _base(table, pod_subnet)
    ips, nodeports, no_endpoints = [], [], []
    for sp in ports:  # step 3
        key = f"{sp.cluster_ip} . {sp.protocol} . {sp.port}"
        if sp.endpoints:
            ips.append(f"{key} : goto {service_chain(sp)}")
            if sp.node_port:
                nodeports.append(f"{sp.protocol} . {sp.node_port} : goto {external_chain(sp)}")
        else:
            no_endpoints.append(f"{key} : goto reject-chain")
    lines += _map("service-ips", "ipv4_addr . inet_proto . inet_service", ips)
    lines += _map("service-nodeports", "inet_proto . inet_service", nodeports)
    lines += _map("no-endpoint-services", "ipv4_addr . inet_proto . inet_service", no_endpoints)
    for sp in ports:
        if not sp.endpoints:
            continue
        lines += _service_chains(sp, pod_subnet, masquerade_all)
    return "\n".join(lines + ["}"]) + "\n"


def _service_chains(sp: ServicePort, pod_subnet: str, masquerade_all: bool) -> list[str]:
    """Steps 4 and 5 for one Service port."""
    lines = [f"  chain {service_chain(sp)} {{"]
    source = "" if masquerade_all else f"ip saddr != {pod_subnet} "
    lines.append(
        f"    ip daddr {sp.cluster_ip} {sp.protocol} dport {sp.port} {source}jump mark-for-masquerade"
    )
    if sp.affinity_timeout:
        for ep in sp.endpoints:
            lines.append(f"    ip saddr @{affinity_set(sp, ep)} goto {endpoint_chain(sp, ep)}")
    choices = ", ".join(f"{i} : goto {endpoint_chain(sp, ep)}" for i, ep in enumerate(sp.endpoints))
    lines += [f"    numgen random mod {len(sp.endpoints)} vmap {{ {choices} }}", "  }"]
    if sp.node_port:
        lines += [
            f"  chain {external_chain(sp)} {{",
            "    jump mark-for-masquerade",
            f"    goto {service_chain(sp)}",
            "  }",
        ]
    for ep in sp.endpoints:
        if sp.affinity_timeout:
            lines += [
                f"  set {affinity_set(sp, ep)} {{",
                "    type ipv4_addr; flags dynamic,timeout;",
                f"    timeout {sp.affinity_timeout}s;",
                "  }",
            ]
        lines += [f"  chain {endpoint_chain(sp, ep)} {{", f"    ip saddr {ep.ip} jump mark-for-masquerade"]
        if sp.affinity_timeout:
            lines.append(f"    update @{affinity_set(sp, ep)} {{ ip saddr }}")
        lines += [f"    meta l4proto {sp.protocol} dnat to {ep.ip}:{ep.port}", "  }"]
    return lines
