"""minipod-bridge: a pod on a Linux bridge, through a veth pair.

Type `minipod-bridge`, with the reference `bridge` plugin's options:
    bridge            the bridge's name (default "minipod0")
    isGateway         put the gateway address on the bridge
    isDefaultGateway  ... and a default route via it in the pod
    ipMasq            masquerade the pod's traffic leaving its subnet
    hairpinMode       let a frame leave by the port it came in on
    mtu               MTU of the bridge (at creation) and of both veth ends
    promiscMode       the bridge in promiscuous mode
    ipam              {"type": "minipod-ipam", ...} (run in-process) or any
                      IPAM executable found in CNI_PATH

ADD, in order, and the kernel objects each step makes:
    1. the bridge, if missing: RTM_NEWLINK kind bridge, up, with a fixed
       random MAC (a bridge otherwise takes the lowest MAC of its ports,
       and the gateway's MAC would change under the pods' ARP caches)
    2. the veth pair: host end veth<hash of container id + ifname> on the
       bridge, up, hairpin; pod end CNI_IFNAME created inside CNI_NETNS.
       The name is deterministic so DEL finds it without the netns; if it
       exists, the attachment exists: error 101, nothing else is touched
    3. IPAM ADD: the pod's address(es) and routes (a lease on disk)
    4. the gateway address on the bridge (RTM_NEWADDR), if isGateway
    5. inside the netns: the address, the link up, the routes (one
       batch, in a thread of its own: netlink_batch.py)
    6. net.ipv4.ip_forward = 1 (the host routes the pods' traffic)
    7. ipMasq: the pod's address in the masquerade set of table ip
       minipod-NETWORK (masquerade.py)
A failure at any step undoes the steps before it that belong to this
attachment, in reverse: the lease, the veth pair, the rule. The bridge
and its gateway address stay, like DEL leaves them: they are shared with
the network's other pods, and maybe with a concurrent ADD.

DEL undoes 7, 3 and 2, and drops the table when no pod is left on the
bridge (not with `"keepTable": true`, minipod's own option: the runtime
then drops it with the bridge), and never fails for something already gone (CNI
spec, section 2, DEL: "Plugins should generally complete a DEL action
without error even if some resources are missing"): the netns may be gone
(the kernel then deleted the veth pair with it), the lease may be gone (a
DEL that ran before), the element, set and table may be gone. The bridge and its
gateway address stay: other pods use them.

CHECK (needs prevResult): the bridge, the host veth on it, the pod's
interface, each address and route of prevResult inside the netns, the
lease and the masquerade element. GC: the IPAM's GC, then the masquerade
rules and the host veths on the bridge of attachments not in
cni.dev/valid-attachments. STATUS: the IPAM's.
"""

import hashlib
import ipaddress
import os
import re

from minipod import trace
from minipod.errors import SyscallError
from minipod.network import masquerade, netlink, nft
from minipod.network.cni import (
    E_CHECK,
    E_EXISTS,
    E_INVALID_CONFIG,
    E_LINK,
    E_NFT,
    E_UNKNOWN_CONTAINER,
    E_UNSUPPORTED_FIELD,
    CniError,
    exec_plugin,
    skel,
    sysctl,
)
from minipod.network.cni import ipam as local_ipam

TYPE = "minipod-bridge"
DEFAULT_BRIDGE = "minipod0"
# Options of the reference plugin that minipod-bridge does not implement:
# refused (error 2) rather than silently ignored, when set.
_UNSUPPORTED = (
    "vlan",
    "vlanTrunk",
    "preserveDefaultVlan",
    "macspoofchk",
    "enabledad",
    "disableContainerInterface",
    "portIsolation",
    "forceAddress",
)


_VETH_RE = re.compile(r"^veth[0-9a-f]{11}$")


def host_veth_name(cid: str, ifname: str) -> str:
    """veth + 11 hex digits of sha256(containerid/ifname): 15 bytes, the
    most an interface name holds, and the same on every call."""
    return "veth" + hashlib.sha256(f"{cid}/{ifname}".encode()).hexdigest()[:11]


class Options:
    def __init__(self, conf: dict):
        bad = [k for k in _UNSUPPORTED if conf.get(k)]
        if bad:
            raise CniError(
                E_UNSUPPORTED_FIELD,
                f"unsupported field {bad[0]}",
                f"minipod-bridge does not implement {', '.join(bad)}",
            )
        self.bridge = conf.get("bridge") or DEFAULT_BRIDGE
        if (
            not isinstance(self.bridge, str)
            or len(self.bridge.encode()) > 15
            or any(c in self.bridge for c in "/: \t\n")
        ):
            raise CniError(E_INVALID_CONFIG, f"invalid bridge name {self.bridge!r}")
        for key in ("isGateway", "isDefaultGateway", "ipMasq", "hairpinMode", "promiscMode", "keepTable"):
            if not isinstance(conf.get(key, False), bool):
                raise CniError(E_INVALID_CONFIG, f"{key} must be true or false")
        self.is_default_gw = conf.get("isDefaultGateway", False)
        self.is_gw = conf.get("isGateway", False) or self.is_default_gw
        self.ip_masq = conf.get("ipMasq", False)
        self.hairpin = conf.get("hairpinMode", False)
        self.promisc = conf.get("promiscMode", False)
        # minipod's own option: the table stays when the last pod leaves,
        # as the bridge does, and the runtime drops both together.
        self.keep_table = conf.get("keepTable", False)
        self.mtu = conf.get("mtu") or None
        if self.mtu is not None and (not isinstance(self.mtu, int) or not 68 <= self.mtu <= 65535):
            raise CniError(E_INVALID_CONFIG, f"invalid mtu {self.mtu!r}")
        ipam = conf.get("ipam")
        if not isinstance(ipam, dict) or not ipam.get("type"):
            raise CniError(E_INVALID_CONFIG, "minipod-bridge needs an ipam section with a type")
        self.ipam_type = ipam["type"]
        self.table = nft.table_name(conf["name"])


def _ipam(command: str, conf: dict, env: dict) -> dict | None:
    """The IPAM plugin: in-process for minipod-ipam, else exec'd from
    CNI_PATH with the same environment and configuration (spec section 4)."""
    if conf["ipam"]["type"] == local_ipam.TYPE:
        if command == "ADD":  # the veth just made proves the attachment is new
            version = skel.prepare("ADD", conf, env)
            return skel.format_result(local_ipam.allocate(conf, env, check_duplicate=False), version)
        fn = {
            "ADD": local_ipam.add,
            "DEL": local_ipam.delete,
            "CHECK": local_ipam.check,
            "GC": local_ipam.gc,
            "STATUS": local_ipam.status,
        }[command]
        return fn(conf, env)
    return exec_plugin(command, conf, env, conf["ipam"]["type"])


def _link_error(e: SyscallError) -> CniError:
    return CniError(E_LINK, str(e))


def _need_netns(netns: str) -> None:
    if not os.path.exists(netns):
        raise CniError(E_UNKNOWN_CONTAINER, f"CNI_NETNS={netns}: no such network namespace")


async def add_async(conf: dict, env: dict) -> dict:
    # A prevResult (were this plugin not first in its list) is suppressed:
    # the result below describes the attachment this plugin made.
    version = skel.prepare("ADD", conf, env)
    opts = Options(conf)
    cid, netns, ifname = env["CNI_CONTAINERID"], env["CNI_NETNS"], env["CNI_IFNAME"]
    _need_netns(netns)
    host = host_veth_name(cid, ifname)
    who = nft.owner(cid, ifname)
    undo: list[tuple[str, str | None]] = []  # (what, arg) in the order done; undone in reverse
    try:
        try:
            br = await netlink.ensure_bridge(opts.bridge, opts.mtu, opts.promisc, fixed_mac=True)
            veth = await netlink.create_veth(
                host, ifname, netns, master=br["index"], mtu=opts.mtu, hairpin=opts.hairpin
            )
        except netlink.LinkExists as e:
            # Either name may be the taken one; the host end's tells which.
            what = (
                f"{cid}/{ifname} is attached already"
                if os.path.exists(f"/sys/class/net/{host}")
                else f"interface {ifname} exists already in {netns}"
            )
            raise CniError(E_EXISTS, what, str(e)) from None
        undo.append(("veth", host))
        ipres = _ipam("ADD", conf, env) or {}
        undo.append(("ipam", None))
        ips = [ip for ip in ipres.get("ips", []) if ipaddress.ip_interface(ip["address"]).version == 4]
        if not ips:
            raise CniError(E_INVALID_CONFIG, f"IPAM {opts.ipam_type} returned no IPv4 address")
        if opts.is_gw:
            for ip in ips:
                if ip.get("gateway"):
                    plen = ipaddress.ip_interface(ip["address"]).network.prefixlen
                    cidr = f"{ip['gateway']}/{plen}"
                    if not netlink.gateway_present(opts.bridge, cidr):
                        async with netlink.rtnl() as ipr:
                            await netlink.ensure_address(ipr, br["index"], cidr, f"bridge {opts.bridge}")
        gw = next((ip.get("gateway") for ip in ips if ip.get("gateway")), None)
        routes = [dict(r) for r in ipres.get("routes", [])]
        if (
            opts.is_default_gw
            and gw
            and not any(ipaddress.ip_network(r["dst"], strict=False).prefixlen == 0 for r in routes)
        ):
            routes.append({"dst": "0.0.0.0/0", "gw": gw})
        plan = [(str(ipaddress.ip_network(r["dst"], strict=False)), r.get("gw") or gw) for r in routes]
        await netlink.configure_sandbox_link(netns, ifname, [ip["address"] for ip in ips], plan)
        sysctl("net/ipv4/ip_forward", "1")
        if opts.ip_masq:
            undo.append(("masq", None))
            with trace.span("nft add element", "the pod's address to the masquerade set"):
                for ip in ips:
                    iface = ipaddress.ip_interface(ip["address"])
                    await masquerade.add(opts.table, str(iface.network), str(iface.ip), who)
    except BaseException as e:
        await _undo(undo, conf, env, opts, who)
        if isinstance(e, SyscallError):
            raise _link_error(e) from None
        if isinstance(e, nft.NftError):
            raise CniError(E_NFT, str(e)) from None
        raise
    result = {
        "interfaces": [
            {"name": opts.bridge, "mac": br["mac"]},
            {"name": host, "mac": veth["mac"]},
            {"name": ifname, "mac": veth["peer_mac"], "sandbox": netns},
        ],
        "ips": [{**ip, "interface": 2} for ip in ips],
        "routes": routes,
        "dns": conf.get("dns") or ipres.get("dns") or {},
    }
    return skel.format_result(result, version)


async def _undo(undo: list, conf: dict, env: dict, opts: Options, who: str) -> None:
    """Best effort, in reverse: the original error is the one to report."""
    for what, arg in reversed(undo):
        try:
            if what == "masq":
                masquerade.slow_remove(opts.table, who=who)
            elif what == "ipam":
                _ipam("DEL", conf, env)
            elif what == "veth":
                await netlink.teardown_link(arg)
        except Exception:
            pass


def _masq_targets(conf: dict, cid: str, ifname: str) -> list[ipaddress.IPv4Interface] | None:
    """The addresses of prevResult whose lease this attachment still holds
    (minipod-ipam's lease files), whose masquerade elements a DEL may
    delete by address; None when that cannot be told (no prevResult, a
    lease gone or another IPAM): then DEL looks them up by comment."""
    prev = conf.get("prevResult")
    if conf["ipam"].get("type") != local_ipam.TYPE or not isinstance(prev, dict):
        return None
    try:
        ifaces = [ipaddress.IPv4Interface(ip["address"]) for ip in prev.get("ips") or []]
    except (ValueError, TypeError, KeyError):
        return None
    if not ifaces or len(local_ipam.held_by(conf, [str(i.ip) for i in ifaces], cid, ifname)) < len(ifaces):
        return None
    return ifaces


def _bridge_unused(bridge: str):
    """A check for nft.drop_table_if: no port is left on the bridge."""
    path = f"/sys/class/net/{bridge}/brif"
    return lambda: not (os.path.isdir(path) and os.listdir(path))


async def delete_async(conf: dict, env: dict) -> None:
    skel.prepare("DEL", conf, env)
    opts = Options(conf)
    cid, ifname = env["CNI_CONTAINERID"], env["CNI_IFNAME"]
    who = nft.owner(cid, ifname)
    try:
        # 1. The masquerade elements, while the lease is still held: once it
        #    is released another pod may get the address and its element.
        #    Done whatever ipMasq says now: it may have changed.
        targets = _masq_targets(conf, cid, ifname)
        fast = targets is not None
        for iface in targets or []:
            fast = await masquerade.delete(opts.table, str(iface.network), str(iface.ip)) and fast
        if not fast:  # by comment: no result, a lease gone, or an older minipod's rule
            masquerade.slow_remove(opts.table, who=who)
        # 2. The lease: the IPAM's DEL succeeds when there is none left.
        _ipam("DEL", conf, env)
        # 3. The veth by its deterministic name: no netns needed. Gone already
        #    is fine: the kernel deletes a veth pair with the netns of either end.
        await netlink.teardown_link(host_veth_name(cid, ifname))
        # 4. The table, once no pod is on the bridge any more (unless the
        #    runtime keeps it with the bridge: making it again costs an ADD
        #    ~1.5 ms more).
        if not opts.keep_table:
            nft.drop_table_if(opts.table, _bridge_unused(opts.bridge))
    except SyscallError as e:
        raise _link_error(e) from None
    except nft.NftError as e:
        raise CniError(E_NFT, str(e)) from None


async def check_async(conf: dict, env: dict) -> None:
    skel.prepare("CHECK", conf, env)
    opts = Options(conf)
    prev = skel.required_prev_result(conf, "CHECK")
    cid, netns, ifname = env["CNI_CONTAINERID"], env["CNI_NETNS"], env["CNI_IFNAME"]
    _need_netns(netns)
    _ipam("CHECK", conf, env)
    host = host_veth_name(cid, ifname)
    try:
        async with netlink.rtnl() as ipr:
            br = await netlink.read_link(ipr, opts.bridge)
            veth = await netlink.read_link(ipr, host)
        pod = await netlink.read_sandbox_link(netns, ifname)
    except SyscallError as e:
        raise _link_error(e) from None
    if br is None or br["kind"] != "bridge":
        raise CniError(E_CHECK, f"bridge {opts.bridge} is missing")
    if veth is None or veth["master"] != br["index"]:
        raise CniError(E_CHECK, f"host veth {host} is missing or not on bridge {opts.bridge}")
    if pod is None:
        raise CniError(E_CHECK, f"interface {ifname} is missing in {netns}")
    ifaces = prev.get("interfaces") or []
    mine = [i for i, itf in enumerate(ifaces) if itf.get("name") == ifname and itf.get("sandbox")]
    for i in mine:
        mac = ifaces[i].get("mac")
        if mac and mac.lower() != (pod["mac"] or "").lower():
            raise CniError(E_CHECK, f"{ifname} in {netns} has MAC {pod['mac']}, prevResult says {mac}")
    for ip in prev.get("ips", []):
        if "interface" in ip and mine and ip["interface"] not in mine:
            continue
        addr = str(ipaddress.ip_interface(ip["address"]))
        if addr not in pod["addresses"]:
            raise CniError(
                E_CHECK,
                f"address {addr} is missing on {ifname} in {netns}",
                f"it has {', '.join(pod['addresses']) or 'no IPv4 address'}",
            )
    have = {(r["dst"], r["gw"]) for r in pod["routes"]}
    for r in prev.get("routes", []):
        dst = str(ipaddress.ip_network(r["dst"], strict=False))
        if not any(d == dst and (not r.get("gw") or g == r["gw"]) for d, g in have):
            raise CniError(E_CHECK, f"route {dst} via {r.get('gw') or 'gateway'} is missing in {netns}")
    masqueraded = [str(ipaddress.ip_interface(ip["address"]).ip) for ip in prev.get("ips", [])]
    if opts.ip_masq and not all(masquerade.has(opts.table, ip, nft.owner(cid, ifname)) for ip in masqueraded):
        raise CniError(
            E_CHECK, f"masquerade element of {cid}/{ifname} is missing in table {nft.FAMILY} {opts.table}"
        )


async def gc_async(conf: dict, env: dict) -> None:
    skel.prepare("GC", conf, env)
    opts = Options(conf)
    valid = skel.valid_attachments(conf)
    _ipam("GC", conf, env)
    try:
        masquerade.slow_remove(opts.table, keep={nft.owner(c, i) for c, i in valid})
    except nft.NftError as e:
        raise CniError(E_NFT, str(e)) from None
    # Host veths on the bridge named like ours but of no valid attachment
    # (their pod's netns is still alive, or they would be gone already).
    ours = {host_veth_name(c, i) for c, i in valid}
    ports = f"/sys/class/net/{opts.bridge}/brif"
    stale = [
        p for p in (os.listdir(ports) if os.path.isdir(ports) else []) if _VETH_RE.match(p) and p not in ours
    ]
    if stale:
        try:
            for name in stale:
                await netlink.teardown_link(name)
        except SyscallError as e:
            raise _link_error(e) from None
    try:
        nft.drop_table_if(opts.table, _bridge_unused(opts.bridge))
    except nft.NftError as e:
        raise CniError(E_NFT, str(e)) from None


def status(conf: dict, env: dict) -> None:
    skel.prepare("STATUS", conf, env)
    Options(conf)
    _ipam("STATUS", conf, env)


def add(conf: dict, env: dict) -> dict:
    return netlink.run_sync(add_async(conf, env))


def delete(conf: dict, env: dict) -> None:
    netlink.run_sync(delete_async(conf, env))


def check(conf: dict, env: dict) -> None:
    netlink.run_sync(check_async(conf, env))


def gc(conf: dict, env: dict) -> None:
    netlink.run_sync(gc_async(conf, env))


__all__ = [
    "add",
    "delete",
    "check",
    "gc",
    "status",
    "add_async",
    "delete_async",
    "check_async",
    "gc_async",
    "host_veth_name",
    "Options",
    "TYPE",
]
