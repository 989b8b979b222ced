"""ClusterIPs and NodePorts, allocated as the API server does (pure).

The API server keeps bitmaps of allocated IPs and ports; here the Services
in the store are the record of what is in use, so allocation is a pure
function of (the range, what the other Services hold, a random source).

    cluster_ip()   the asked-for address if it is free, else a random free
                   one; the range's first address is the `kubernetes`
                   Service's, as in a cluster;
    node_ports()   each port's asked-for nodePort if free, else a random
                   free one in 30000-32767 (a port's TCP and UDP twins
                   share one, as the API server does).
Each returns the problems it met, with the API server's wording.
"""

import ipaddress
import random

NODE_PORT_RANGE = (30000, 32767)

Cause = tuple[str, str, str]


def kubernetes_ip(cidr: str) -> str:
    """The first address of the range: the `kubernetes` Service's."""
    return str(ipaddress.ip_network(cidr)[1])


def used_ips(services: list[dict], skip_uid: str | None = None) -> set[str]:
    return {
        str((s.get("spec") or {}).get("clusterIP"))
        for s in services
        if s["metadata"].get("uid") != skip_uid
        and (s.get("spec") or {}).get("clusterIP") not in (None, "", "None")
    }


def used_node_ports(services: list[dict], skip_uid: str | None = None) -> set[int]:
    return {
        p["nodePort"]
        for s in services
        if s["metadata"].get("uid") != skip_uid
        for p in (s.get("spec") or {}).get("ports") or []
        if p.get("nodePort")
    }


def cluster_ip(cidr: str, wanted: str | None, used: set[str], rng=random) -> tuple[str | None, list[Cause]]:
    net = ipaddress.ip_network(cidr)
    if wanted:
        if wanted in used:
            return None, [
                (
                    "FieldValueInvalid",
                    "spec.clusterIPs",
                    f'Invalid value: []string{{"{wanted}"}}: failed to allocate IP {wanted}: provided IP is already allocated',
                )
            ]
        return wanted, []
    # The first address is the `kubernetes` Service's; the last is broadcast.
    first, last = int(net.network_address) + 2, int(net.broadcast_address) - 1
    size = last - first + 1
    if size <= len(used):
        return None, [
            (
                "FieldValueInvalid",
                "spec.clusterIPs",
                f"Invalid value: []string(nil): failed to allocate IP: range is full ({cidr})",
            )
        ]
    start = rng.randrange(size)
    for i in range(size):
        ip = str(ipaddress.ip_address(first + (start + i) % size))
        if ip not in used:
            return ip, []
    return None, [
        (
            "FieldValueInvalid",
            "spec.clusterIPs",
            f"Invalid value: []string(nil): failed to allocate IP: range is full ({cidr})",
        )
    ]


def node_ports(ports: list[dict], used: set[int], rng=random) -> list[Cause]:
    """Fill in each port's nodePort (ports is changed in place)."""
    low, high = NODE_PORT_RANGE
    out: list[Cause] = []
    taken = set(used)
    by_number: dict[object, int] = {}  # port -> nodePort: TCP and UDP twins share one
    for i, p in enumerate(ports):
        want = p.get("nodePort")
        if want:
            if not low <= want <= high:
                out.append(
                    (
                        "FieldValueInvalid",
                        f"spec.ports[{i}].nodePort",
                        f"Invalid value: {want}: provided port is not in the valid range. The range of valid ports is {low}-{high}",
                    )
                )
            elif want in taken and by_number.get(p.get("port")) != want:
                out.append(
                    (
                        "FieldValueInvalid",
                        f"spec.ports[{i}].nodePort",
                        f"Invalid value: {want}: provided port is already allocated",
                    )
                )
            taken.add(want)
            by_number[p.get("port")] = want
    for i, p in enumerate(ports):
        if p.get("nodePort"):
            continue
        if p.get("port") in by_number:
            p["nodePort"] = by_number[p["port"]]
            continue
        free = high - low + 1 - len([t for t in taken if low <= t <= high])
        if free <= 0:
            out.append(
                (
                    "FieldValueInvalid",
                    f"spec.ports[{i}].nodePort",
                    f"Invalid value: 0: range is full ({low}-{high})",
                )
            )
            continue
        start = rng.randrange(high - low + 1)
        for k in range(high - low + 1):
            candidate = low + (start + k) % (high - low + 1)
            if candidate not in taken:
                p["nodePort"] = candidate
                taken.add(candidate)
                by_number[p.get("port")] = candidate
                break
    return out
