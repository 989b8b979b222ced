"""Cluster DNS answers from the store's objects (pure), as CoreDNS's
kubernetes plugin gives them for the zone cluster.local.

Names answered, in the order answer() tries them:
    SVC.NS.svc.cluster.local            A: the ClusterIP; a headless
                                        Service: one A per ready endpoint;
                                        ExternalName: a CNAME
    HOST.SVC.NS.svc.cluster.local       A: a headless Service's endpoint by
                                        its hostname (a pod's hostname and
                                        subdomain) or its dashed IP
    _PORT._PROTO.SVC.NS.svc.cluster.local  SRV for a named port
    A-B-C-D.NS.pod.cluster.local        A: the address in the name
Any other name in the zone: NXDOMAIN with the zone's SOA, as CoreDNS
answers; a known name without records of the asked type: NOERROR, no
answer, the SOA (NODATA). Names outside the zone are forwarded
(Answer.forward).
"""

import ipaddress
from dataclasses import dataclass, field

DOMAIN = "cluster.local"
TTL = 5  # CoreDNS kubernetes plugin's default
SOA = ("ns.dns.cluster.local.", "hostmaster.cluster.local.", 7200, 1800, 86400, TTL)


@dataclass(frozen=True)
class Record:
    name: str  # fully qualified, with the trailing dot
    type: str  # A, CNAME, SRV
    value: str  # the address, or the target name
    port: int = 0  # SRV only


@dataclass
class Answer:
    forward: bool = False
    nxdomain: bool = False
    records: list[Record] = field(default_factory=list)


def _ready_addresses(svc: dict, slices: list[dict]) -> list[tuple[str, str]]:
    """(address, hostname or "") of a Service's ready endpoints
    (every endpoint with publishNotReadyAddresses)."""
    publish = (svc.get("spec") or {}).get("publishNotReadyAddresses") is True
    out = []
    for s in slices:
        if s["metadata"].get("namespace") != svc["metadata"]["namespace"]:
            continue
        if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != svc["metadata"]["name"]:
            continue
        for ep in s.get("endpoints") or []:
            if publish or (ep.get("conditions") or {}).get("ready") is not False:
                out += [(a, ep.get("hostname") or "") for a in ep.get("addresses") or []]
    return sorted(set(out))


def _service_records(name: str, qtype: str, svc: dict, slices: list[dict]) -> Answer:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return Answer(records=[Record(name, "CNAME", spec["externalName"].rstrip(".") + ".")])
    if spec.get("clusterIP") == "None":
        records = [Record(name, "A", ip) for ip, _ in _ready_addresses(svc, slices)]
    else:
        records = [Record(name, "A", spec["clusterIP"])]
    return Answer(records=[r for r in records if r.type == qtype])


def _srv(name: str, svc: dict, port_name: str, proto: str, slices: list[dict]) -> Answer:
    spec, meta = svc.get("spec") or {}, svc["metadata"]
    port = next(
        (
            p
            for p in spec.get("ports") or []
            if p.get("name") == port_name and p.get("protocol", "TCP").lower() == proto
        ),
        None,
    )
    if port is None:
        return Answer(nxdomain=True)
    base = f"{meta['name']}.{meta['namespace']}.svc.{DOMAIN}."
    if spec.get("clusterIP") != "None":
        return Answer(records=[Record(name, "SRV", base, port["port"])])
    return Answer(
        records=[
            Record(name, "SRV", f"{host or ip.replace('.', '-')}.{base}", port["port"])
            for ip, host in _ready_addresses(svc, slices)
        ]
    )


def answer(qname: str, qtype: str, services: dict[tuple[str, str], dict], slices: list[dict]) -> Answer:
    """services: {(namespace, name): Service}."""
    name = qname.rstrip(".").lower()
    fqdn = name + "."
    if name != DOMAIN and not name.endswith("." + DOMAIN):
        return Answer(forward=True)
    labels = name[: -len(DOMAIN)].rstrip(".").split(".") if name != DOMAIN else []
    if len(labels) == 3 and labels[2] == "pod":
        try:
            ip = str(ipaddress.IPv4Address(labels[0].replace("-", ".")))
        except ValueError:
            return Answer(nxdomain=True)
        return Answer(records=[Record(fqdn, "A", ip)] if qtype == "A" else [])
    if not labels or labels[-1] != "svc":
        return Answer(nxdomain=name not in (DOMAIN, f"svc.{DOMAIN}", f"pod.{DOMAIN}"))
    rest = labels[:-1]  # [..., SVC, NS]
    if len(rest) == 2:
        svc = services.get((rest[1], rest[0]))
        return _service_records(fqdn, qtype, svc, slices) if svc else Answer(nxdomain=True)
    if len(rest) == 4 and rest[0].startswith("_") and rest[1].startswith("_"):
        svc = services.get((rest[3], rest[2]))
        if svc is None:
            return Answer(nxdomain=True)
        found = _srv(fqdn, svc, rest[0][1:], rest[1][1:], slices)
        return found if qtype == "SRV" or found.nxdomain else Answer()
    if len(rest) == 3:
        svc = services.get((rest[2], rest[1]))
        if svc is None or (svc.get("spec") or {}).get("clusterIP") != "None":
            return Answer(nxdomain=True)
        for ip, host in _ready_addresses(svc, slices):
            if rest[0] in (host, ip.replace(".", "-")):
                return Answer(records=[Record(fqdn, "A", ip)] if qtype == "A" else [])
        return Answer(nxdomain=True)
    return Answer(nxdomain=True)
