"""minipod-portmap: a pod's hostPorts, as nftables DNAT rules.

Type `minipod-portmap`, a chained plugin like the reference `portmap`: it
comes after minipod-bridge in a network configuration list, declares the
capability `portMappings`, and so receives from the runtime
    "runtimeConfig": {"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp",
         "hostIP": "192.168.1.10"}]}     (hostIP optional)
plus the bridge's result as prevResult, which gives the pod's address.
Options: `snat` (default true): masquerade what must come back through
the host (below).

ADD, in order:
    1. validate the mappings (ports 1-65535, tcp/udp/sctp, hostIP)
    2. no mappings: pass prevResult through, touch nothing
    3. route_localnet = 1 on the host-side interfaces of prevResult (the
       bridge): the kernel drops a packet routed out of a non-loopback
       interface with a 127.0.0.0/8 source unless this is set; it is what
       lets the host reach a hostPort on 127.0.0.1
    4. one nft transaction in table ip minipod-NETWORK (see nft.py): the
       jump rules `fib daddr type local jump hostports` in prerouting
       (traffic from other hosts and from pods) and output (the host's own
       connections, 127.0.0.1 included); one DNAT rule per mapping; with
       snat, one masquerade rule per mapping for connections from
       127.0.0.0/8 or from the pod subnet (a pod reaching itself, hairpin,
       or a neighbour through the hostPort, whose replies would otherwise
       skip the host's conntrack)
    5. return prevResult unchanged (spec section 3: a chained plugin passes
       the previous result on)
A hostPort already mapped for another attachment is refused (error 101).

DEL, given no mappings (the runtime passes the ADD's), touches nothing;
else it lists the two chains that hold the attachment's rules (hostports,
postrouting; never the whole table), deletes them by handle (found by
their comment; none is success), and the table with the last of them. CHECK verifies the rules.
GC removes the rules of attachments not in cni.dev/valid-attachments.
"""

import ipaddress
import os

from minipod.network import nft
from minipod.network.cni import (
    E_CHECK,
    E_EXISTS,
    E_INVALID_CONFIG,
    E_NFT,
    E_NOT_AVAILABLE,
    CniError,
    skel,
    sysctl,
)

TYPE = "minipod-portmap"
PROTOCOLS = ("tcp", "udp", "sctp")


def mappings(conf: dict) -> list[dict]:
    """runtimeConfig.portMappings, validated and normalised; IPv6 hostIPs
    are skipped (the pod network is IPv4), as the reference plugin skips
    a hostIP of the other family."""
    raw = (conf.get("runtimeConfig") or {}).get("portMappings") or []
    if not isinstance(raw, list):
        raise CniError(E_INVALID_CONFIG, "runtimeConfig.portMappings must be a list")
    out = []
    for i, m in enumerate(raw):
        where = f"runtimeConfig.portMappings[{i}]"
        if not isinstance(m, dict):
            raise CniError(E_INVALID_CONFIG, f"{where} must be an object")
        for key in ("hostPort", "containerPort"):
            v = m.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 65535:
                raise CniError(E_INVALID_CONFIG, f"{where}.{key}: invalid port {v!r}")
        proto = str(m.get("protocol") or "tcp").lower()
        if proto not in PROTOCOLS:
            raise CniError(E_INVALID_CONFIG, f"{where}.protocol: unknown protocol {proto!r}")
        host_ip = m.get("hostIP") or ""
        if host_ip:
            try:
                if ipaddress.ip_address(host_ip).version != 4:
                    continue
            except ValueError:
                raise CniError(E_INVALID_CONFIG, f"{where}.hostIP: invalid address {host_ip!r}") from None
        out.append(
            {
                "hostPort": m["hostPort"],
                "containerPort": m["containerPort"],
                "protocol": proto,
                "hostIP": host_ip,
            }
        )
    return out


def _snat(conf: dict) -> bool:
    snat = conf.get("snat", True)
    if not isinstance(snat, bool):
        raise CniError(E_INVALID_CONFIG, "snat must be true or false")
    return snat


def pod_address(prev: dict) -> ipaddress.IPv4Interface:
    """The pod's IPv4 address in prevResult: the first one on an interface
    inside the sandbox (or with no interface index at all)."""
    ifaces = prev.get("interfaces") or []
    for ip in prev.get("ips") or []:
        addr = ipaddress.ip_interface(ip["address"])
        idx = ip.get("interface")
        in_sandbox = idx is None or (0 <= idx < len(ifaces) and ifaces[idx].get("sandbox"))
        if addr.version == 4 and in_sandbox:
            return addr
    raise CniError(
        E_INVALID_CONFIG,
        "prevResult has no IPv4 address of the container",
        "minipod-portmap must come after a plugin that assigns one",
    )


def add(conf: dict, env: dict) -> dict:
    version = skel.prepare("ADD", conf, env)
    prev = skel.required_prev_result(conf, "ADD")
    maps, snat = mappings(conf), _snat(conf)
    if not maps:
        return skel.format_result(prev, version)
    pod = pod_address(prev)
    if snat:
        for itf in prev.get("interfaces") or []:
            name = itf.get("name") or ""
            if (
                not itf.get("sandbox")
                and name
                and "/" not in name
                and os.path.isdir(f"/proc/sys/net/ipv4/conf/{name}")
            ):
                sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")
    who = nft.owner(env["CNI_CONTAINERID"], env["CNI_IFNAME"])
    try:
        nft.add_port_mappings(nft.table_name(conf["name"]), who, str(pod.ip), str(pod.network), maps, snat)
    except nft.PortInUse as e:
        raise CniError(E_EXISTS, str(e)) from None
    except nft.NftError as e:
        raise CniError(E_NFT, str(e)) from None
    return skel.format_result(prev, version)


def delete(conf: dict, env: dict) -> None:
    skel.prepare("DEL", conf, env)
    if not mappings(conf):
        return  # ADD made no rule for a pod without hostPorts: nothing to list
    try:
        nft.remove_from_chains(
            nft.table_name(conf["name"]),
            nft.HOSTPORT,
            nft.owner(env["CNI_CONTAINERID"], env["CNI_IFNAME"]),
            ("hostports", "postrouting"),
        )
    except nft.NftError as e:
        raise CniError(E_NFT, str(e)) from None


def check(conf: dict, env: dict) -> None:
    skel.prepare("CHECK", conf, env)
    prev = skel.required_prev_result(conf, "CHECK")
    maps = mappings(conf)
    if not maps:
        return
    pod_address(prev)
    table = nft.table_name(conf["name"])
    rules = nft.rules_of(table, nft.HOSTPORT, nft.owner(env["CNI_CONTAINERID"], env["CNI_IFNAME"]))
    want = len(maps) * (2 if _snat(conf) else 1)
    if len(rules) < want:
        raise CniError(
            E_CHECK,
            f"hostPort rules of {env['CNI_CONTAINERID']}/"
            f"{env['CNI_IFNAME']} are missing in table {nft.FAMILY} {table}",
            f"found {len(rules)} of {want}",
        )


def gc(conf: dict, env: dict) -> None:
    skel.prepare("GC", conf, env)
    keep = {nft.owner(c, i) for c, i in skel.valid_attachments(conf)}
    try:
        nft.remove(nft.table_name(conf["name"]), nft.HOSTPORT, keep=keep)
    except nft.NftError as e:
        raise CniError(E_NFT, str(e)) from None


def status(conf: dict, env: dict) -> None:
    skel.prepare("STATUS", conf, env)
    try:
        nft.run([{"list": {"tables": {}}}], "list tables")
    except nft.NftError as e:
        raise CniError(E_NOT_AVAILABLE, "nftables is not usable", str(e)) from None


__all__ = ["add", "delete", "check", "gc", "status", "mappings", "pod_address", "TYPE"]
