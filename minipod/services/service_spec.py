"""A Service validated and defaulted as the API server does (pure).

Steps of prepare_service(), in order:
    1. defaults: type ClusterIP, sessionAffinity None, each port's
       protocol TCP and targetPort = port, internalTrafficPolicy Cluster,
       externalTrafficPolicy Cluster for NodePort, the ClientIP timeout
       (10800 s), ipFamilies/ipFamilyPolicy for a Service with an IP;
    2. validation: every problem as (reason, field path, message), with
       the API server's wording; the caller raises them all at once.
Allocation (the ClusterIP, the NodePorts) comes after, in allocate.py.
"""

import copy
import ipaddress

from minipod.kube.names import dns_label_problems, label_value_problems, qualified_name_problems

TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
CLIENT_IP_TIMEOUT = 10800  # seconds, the API server's default
MAX_CLIENT_IP_TIMEOUT = 86400

Cause = tuple[str, str, str]  # (reason, field, message)


def _supported(value: object, allowed: tuple[str, ...]) -> str:
    listed = ", ".join(f'"{a}"' for a in allowed)
    return f'Unsupported value: "{value}": supported values: {listed}'


def is_headless(spec: dict) -> bool:
    return spec.get("clusterIP") == "None"


def has_cluster_ip(spec: dict) -> bool:
    return spec.get("type") != "ExternalName" and not is_headless(spec)


def wants_node_ports(spec: dict) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def default_service(svc: dict) -> dict:
    """Step 1: the API server's defaults (a new dict; `svc` is unchanged)."""
    svc = copy.deepcopy(svc)
    spec = svc.setdefault("spec", {})
    if not isinstance(spec, dict):
        return svc
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if wants_node_ports(spec):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["sessionAffinity"] == "ClientIP":
        cfg = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        cfg.setdefault("timeoutSeconds", CLIENT_IP_TIMEOUT)
    if spec["type"] != "ExternalName":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    svc.setdefault("status", {"loadBalancer": {}})
    return svc


def _port_problems(spec: dict) -> list[Cause]:
    out: list[Cause] = []
    ports = spec.get("ports")
    if ports is not None and not isinstance(ports, list):
        return [("FieldValueInvalid", "spec.ports", "Invalid value: expected a list of ports")]
    ports = ports or []
    if not ports and has_cluster_ip(spec):
        out.append(("FieldValueRequired", "spec.ports", "Required value"))
    names: set[str] = set()
    seen: set[tuple[object, object]] = set()
    for i, port in enumerate(ports):
        at = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            out.append(
                ("FieldValueInvalid", at, "Invalid value: expected an object with port, protocol, ...")
            )
            continue
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(("FieldValueRequired", f"{at}.name", "Required value"))
        elif name:
            out += [
                ("FieldValueInvalid", f"{at}.name", f'Invalid value: "{name}": {p}')
                for p in dns_label_problems(name)
            ]
            if name in names:
                out.append(("FieldValueDuplicate", f"{at}.name", f'Duplicate value: "{name}"'))
            names.add(name)
        number = port.get("port")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
            out.append(
                (
                    "FieldValueInvalid",
                    f"{at}.port",
                    f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                )
            )
        proto = port.get("protocol")
        if proto not in PROTOCOLS:
            out.append(("FieldValueNotSupported", f"{at}.protocol", _supported(proto, PROTOCOLS)))
        if (number, proto) in seen:
            out.append(
                (
                    "FieldValueDuplicate",
                    at,
                    f'Duplicate value: core.ServicePort{{Name:"", Protocol:"{proto}", Port:{number}}}',
                )
            )
        seen.add((number, proto))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            if not 1 <= target <= 65535:
                out.append(
                    (
                        "FieldValueInvalid",
                        f"{at}.targetPort",
                        f"Invalid value: {target}: must be between 1 and 65535, inclusive",
                    )
                )
        elif isinstance(target, str):
            if target.isdigit():
                out.append(
                    (
                        "FieldValueInvalid",
                        f"{at}.targetPort",
                        f'Invalid value: "{target}": must contain at least one letter (a-z)',
                    )
                )
            elif len(target) > 15 or not target.replace("-", "").isalnum() or target != target.lower():
                out.append(
                    (
                        "FieldValueInvalid",
                        f"{at}.targetPort",
                        f'Invalid value: "{target}": must be an IANA_SVC_NAME (at most 15 characters, matching regex [-a-z0-9]+)',
                    )
                )
        else:
            out.append(
                (
                    "FieldValueInvalid",
                    f"{at}.targetPort",
                    f"Invalid value: {target!r}: must be a port number or a port name",
                )
            )
        node_port = port.get("nodePort")
        if node_port not in (None, 0) and not wants_node_ports(spec):
            out.append(
                (
                    "FieldValueForbidden",
                    f"{at}.nodePort",
                    "Forbidden: may not be used when `type` is 'ClusterIP'",
                )
            )
    return out


def service_problems(svc: dict, service_cidr: str) -> list[Cause]:
    """Step 2: every problem of a defaulted Service, with its field path."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return [
            ("FieldValueRequired", "spec", "Required value: a Service needs a spec (ports, selector, type)")
        ]
    out: list[Cause] = []
    kind = spec.get("type")
    if kind not in TYPES:
        out.append(("FieldValueNotSupported", "spec.type", _supported(kind, TYPES)))
    if spec.get("sessionAffinity") not in AFFINITIES:
        out.append(
            (
                "FieldValueNotSupported",
                "spec.sessionAffinity",
                _supported(spec.get("sessionAffinity"), AFFINITIES),
            )
        )
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    if spec.get("sessionAffinity") == "ClientIP" and not (
        isinstance(timeout, int) and 0 < timeout <= MAX_CLIENT_IP_TIMEOUT
    ):
        out.append(
            (
                "FieldValueInvalid",
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                f"Invalid value: {timeout}: must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}",
            )
        )
    for field in ("internalTrafficPolicy", "externalTrafficPolicy"):
        value = spec.get(field)
        if value is not None and value not in TRAFFIC_POLICIES:
            out.append(("FieldValueNotSupported", f"spec.{field}", _supported(value, TRAFFIC_POLICIES)))
    if kind == "ExternalName":
        name = spec.get("externalName") or ""
        if not name:
            out.append(("FieldValueRequired", "spec.externalName", "Required value"))
        else:
            from minipod.kube.names import dns_subdomain_problems

            out += [
                ("FieldValueInvalid", "spec.externalName", f'Invalid value: "{name}": {p}')
                for p in dns_subdomain_problems(name.rstrip("."))
            ]
        if spec.get("clusterIP") not in (None, ""):
            out.append(
                (
                    "FieldValueForbidden",
                    "spec.clusterIP",
                    "Forbidden: may not be set for ExternalName services",
                )
            )
    elif kind in ("NodePort", "LoadBalancer") and is_headless(spec):
        out.append(
            (
                "FieldValueInvalid",
                "spec.clusterIPs[0]",
                f"Invalid value: \"None\": may not be set to 'None' for {kind} services",
            )
        )
    ip = spec.get("clusterIP")
    if ip not in (None, "", "None") and kind != "ExternalName":
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            out.append(
                (
                    "FieldValueInvalid",
                    "spec.clusterIPs[0]",
                    f'Invalid value: "{ip}": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
                )
            )
        else:
            if addr not in ipaddress.ip_network(service_cidr):
                out.append(
                    (
                        "FieldValueInvalid",
                        "spec.clusterIPs[0]",
                        f'Invalid value: "{ip}": provided IP is not in the valid range. The range of valid IPs is {service_cidr}',
                    )
                )
    selector = spec.get("selector")
    if selector is not None:
        if not isinstance(selector, dict):
            out.append(
                (
                    "FieldValueInvalid",
                    "spec.selector",
                    "Invalid value: expected a map of label keys to values",
                )
            )
        else:
            for k, v in selector.items():
                out += [
                    ("FieldValueInvalid", "spec.selector", f'Invalid value: "{k}": {p}')
                    for p in qualified_name_problems(str(k))
                ]
                out += [
                    ("FieldValueInvalid", "spec.selector", f'Invalid value: "{v}": {p}')
                    for p in label_value_problems(str(v))
                ]
    return out + _port_problems(spec)


def update_problems(old: dict, new: dict) -> list[Cause]:
    """What may not change on a live Service: its ClusterIP (a headless
    Service stays headless), as the API server says."""
    before, after = old.get("spec") or {}, new.get("spec") or {}
    if before.get("type") == "ExternalName" or after.get("type") == "ExternalName":
        return []
    if before.get("clusterIP") and after.get("clusterIP") not in (None, "", before.get("clusterIP")):
        return [
            (
                "FieldValueInvalid",
                "spec.clusterIPs[0]",
                f'Invalid value: []string{{"{after.get("clusterIP")}"}}: may not change once set',
            )
        ]
    return []
