"""What `kubectl get` prints for Services, Endpoints, EndpointSlices and
NetworkPolicies (printers.go: printService, printEndpoints,
printEndpointSlice, printNetworkPolicy)."""

from minipod.kube.label_selector import format_selector
from minipod.objects.columns import AGE, NAME, Column, status_of


def _service_external_ip(s: dict, now: float) -> str:
    spec = s.get("spec") or {}
    kind, external = spec.get("type"), list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return spec.get("externalName") or "<none>"
    if kind == "LoadBalancer":
        ingress = [
            i.get("ip") or i.get("hostname")
            for i in (status_of(s).get("loadBalancer") or {}).get("ingress") or []
        ]
        return ",".join(ingress + external) or "<pending>"
    return ",".join(external) or "<none>"


def _service_ports(s: dict, now: float) -> str:
    out = []
    for p in (s.get("spec") or {}).get("ports") or []:
        proto = p.get("protocol", "TCP")
        out.append(
            f"{p.get('port')}:{p['nodePort']}/{proto}" if p.get("nodePort") else f"{p.get('port')}/{proto}"
        )
    return ",".join(out) or "<none>"


def _selector(s: dict, now: float) -> str:
    sel = (s.get("spec") or {}).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>"


SERVICE = (
    NAME,
    Column(
        "Type", "string", lambda s, now: (s.get("spec") or {}).get("type", ""), 0, "The type of the service."
    ),
    Column(
        "Cluster-IP",
        "string",
        lambda s, now: ((s.get("spec") or {}).get("clusterIPs") or ["<none>"])[0],
        0,
        "The IP address of the service.",
    ),
    Column("External-IP", "string", _service_external_ip, 0, "The external IP address of the service."),
    Column("Port(s)", "string", _service_ports, 0, "The ports that this service serves on."),
    AGE,
    Column("Selector", "string", _selector, 1, "The label selector of the service."),
)


def _at_most_three(items: list[str], empty: str) -> str:
    """kubectl's listWithMoreString: the first three, then "+ N more..."."""
    text = ",".join(items[:3])
    if len(items) > 3:
        return f"{text} + {len(items) - 3} more..."
    return text or empty


def _slice_ports(e: dict, now: float) -> str:
    return _at_most_three(
        [str(p["port"]) if p.get("port") is not None else p.get("name") or "*" for p in e.get("ports") or []],
        "<unset>",
    )


def _slice_endpoints(e: dict, now: float) -> str:
    return _at_most_three(
        [a for ep in e.get("endpoints") or [] for a in ep.get("addresses") or []], "<unset>"
    )


ENDPOINTSLICE = (
    NAME,
    Column(
        "AddressType", "string", lambda e, now: e.get("addressType", ""), 0, "The IP protocol for this slice."
    ),
    Column("Ports", "string", _slice_ports, 0, "The ports of this slice."),
    Column("Endpoints", "string", _slice_endpoints, 0, "The endpoints of this slice."),
    AGE,
)


def _endpoints(e: dict, now: float) -> str:
    subsets = e.get("subsets") or []
    if not subsets:
        return "<none>"
    out = []
    for ss in subsets:
        addresses = [a["ip"] for a in ss.get("addresses") or []]
        ports = ss.get("ports") or []
        if not ports:
            out += addresses
        for p in ports:
            out += [f"{ip}:{p['port']}" for ip in addresses]
    return _at_most_three(out, "")


ENDPOINTS = (NAME, Column("Endpoints", "string", _endpoints, 0, "Endpoints of the resource."), AGE)


NETWORKPOLICY = (
    NAME,
    Column(
        "Pod-Selector",
        "string",
        lambda o, now: format_selector((o.get("spec") or {}).get("podSelector")),
        0,
        "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.",
    ),
    AGE,
)
