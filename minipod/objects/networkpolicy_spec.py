"""A NetworkPolicy as the API server stores it: defaults, then validation.

Steps of admit(), in order (pure; the store's admission calls it on
create and update):
    1. defaults (SetDefaults_NetworkPolicy of networking/v1): `spec` and
       `spec.podSelector` present ({} selects every pod of the namespace),
       every port's `protocol` TCP, and `policyTypes`, when empty,
       [Ingress] plus Egress if the policy has egress rules;
    2. validation (ValidateNetworkPolicySpec): the pod selector, each
       rule's ports (protocol, number or name, endPort) and peers (exactly
       one kind of peer, or podSelector and namespaceSelector together;
       ipBlock's cidr and its except as strict subsets), the policyTypes.
Problems come back as one 422 Invalid naming every field path, with the
API server's own messages.
"""

import ipaddress
from typing import Any

from minipod.kube import label_selector
from minipod.kube.names import port_name_problems
from minipod.objects.errors import invalid

Cause = tuple[str, str, str]  # (reason, field path, message)
PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")


def admit(obj: dict, old: dict | None = None) -> dict:
    """The policy with its defaults; raises ApiError 422 if it is invalid.
    (The store's admission hook: `old` is the stored object on update.)"""
    set_defaults(obj)
    causes = spec_problems(obj["spec"])
    if causes:
        raise invalid("NetworkPolicy", obj["metadata"].get("name", ""), causes, "networking.k8s.io")
    return obj


# --- 1. defaults --------------------------------------------------------------------


def set_defaults(obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if spec.get("podSelector") is None:
        spec["podSelector"] = {}
    for direction in ("ingress", "egress"):
        for rule in _list(spec.get(direction)):
            for port in _list(rule.get("ports") if isinstance(rule, dict) else None):
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        # "Any policy that does not specify policyTypes implies at least Ingress."
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


# --- 2. validation ----------------------------------------------------------------


def _required(path: str, why: str = "") -> Cause:
    return ("FieldValueRequired", path, "Required value" + (f": {why}" if why else ""))


def _invalid(path: str, value: Any, why: str) -> Cause:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return ("FieldValueInvalid", path, f"Invalid value: {shown}: {why}")


def _forbidden(path: str, why: str) -> Cause:
    return ("FieldValueForbidden", path, f"Forbidden: {why}")


def _not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    listed = ", ".join(f'"{s}"' for s in supported)
    return ("FieldValueNotSupported", path, f'Unsupported value: "{value}": supported values: {listed}')


def spec_problems(spec: dict) -> list[Cause]:
    causes = label_selector_problems(spec.get("podSelector"), "spec.podSelector")
    for direction, peers_field in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_list(spec.get(direction))):
            path = f"spec.{direction}[{i}]"
            if not isinstance(rule, dict):
                causes.append(_invalid(path, rule, "must be an object"))
                continue
            for j, port in enumerate(_list(rule.get("ports"))):
                causes += port_problems(port, f"{path}.ports[{j}]")
            for j, peer in enumerate(_list(rule.get(peers_field))):
                causes += peer_problems(peer, f"{path}.{peers_field}[{j}]")
    types = _list(spec.get("policyTypes"))
    if len(types) > len(POLICY_TYPES):
        causes.append(_invalid("spec.policyTypes", types, "may not specify more than two policyTypes"))
        return causes
    for i, t in enumerate(types):
        if t not in POLICY_TYPES:
            causes.append(_not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES))
    return causes


def port_problems(port: Any, path: str) -> list[Cause]:
    if not isinstance(port, dict):
        return [_invalid(path, port, "must be an object with protocol, port and endPort")]
    causes = []
    protocol = port.get("protocol")
    if protocol not in PROTOCOLS:
        causes.append(_not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            causes.append(
                _invalid(f"{path}.endPort", end, "may not be specified when `port` is not specified")
            )
    elif isinstance(number, int) and not isinstance(number, bool):
        if not 1 <= number <= 65535:
            causes.append(_invalid(f"{path}.port", number, "must be between 1 and 65535, inclusive"))
        if end is not None:
            if not isinstance(end, int) or end < number:
                causes.append(_invalid(f"{path}.endPort", number, "must be greater than or equal to `port`"))
            elif end > 65535:
                causes.append(_invalid(f"{path}.endPort", end, "must be between 1 and 65535, inclusive"))
    elif isinstance(number, str):
        if end is not None:
            causes.append(_invalid(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        causes += [_invalid(f"{path}.port", number, p) for p in port_name_problems(number)]
    else:
        causes.append(_invalid(f"{path}.port", number, "must be a port number or an IANA service name"))
    return causes


def peer_problems(peer: Any, path: str) -> list[Cause]:
    if not isinstance(peer, dict):
        return [_invalid(path, peer, "must be an object with podSelector, namespaceSelector or ipBlock")]
    causes: list[Cause] = []
    kinds = 0
    for field in ("podSelector", "namespaceSelector"):
        if peer.get(field) is not None:
            kinds += 1
            causes += label_selector_problems(peer[field], f"{path}.{field}")
    if peer.get("ipBlock") is not None:
        kinds += 1
        causes += ip_block_problems(peer["ipBlock"], f"{path}.ipBlock")
    if kinds == 0:
        causes.append(_required(path, "must specify a peer"))
    elif kinds > 1 and peer.get("ipBlock") is not None:
        causes.append(_forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def ip_block_problems(block: Any, path: str) -> list[Cause]:
    if not isinstance(block, dict) or not block.get("cidr"):
        return [_required(f"{path}.cidr")]
    cidr = _network(block["cidr"])
    if cidr is None:
        return [
            _invalid(
                f"{path}.cidr",
                block["cidr"],
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            )
        ]
    causes = []
    for i, text in enumerate(_list(block.get("except"))):
        sub = _network(text)
        if sub is None:
            causes.append(
                _invalid(
                    f"{path}.except[{i}]",
                    text,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                )
            )
        elif sub.version != cidr.version or not sub.subnet_of(cidr) or sub.prefixlen <= cidr.prefixlen:  # type: ignore[arg-type]
            causes.append(_invalid(f"{path}.except[{i}]", text, "must be a strict subset of `cidr`"))
    return causes


def _network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(text, str) or "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


_REASONS = {
    "Required value": "FieldValueRequired",
    "Forbidden": "FieldValueForbidden",
    "Unsupported value": "FieldValueNotSupported",
}


def label_selector_problems(sel: Any, path: str) -> list[Cause]:
    """ValidateLabelSelector (minipod.kube.label_selector), as causes."""
    if sel is None:
        return []
    if not isinstance(sel, dict):
        return [_invalid(path, sel, "must be a label selector (matchLabels, matchExpressions)")]
    causes = []
    for line in label_selector.problems(sel, path):
        field, _, message = line.partition(": ")
        reason = next(
            (r for prefix, r in _REASONS.items() if message.startswith(prefix)), "FieldValueInvalid"
        )
        causes.append((reason, field, message))
    return causes
