"""Links, addresses and routes, over rtnetlink: the only pyroute2 user in minipod.

A pod's network interface is made of these kernel objects (ip-link(8),
ip-address(8), ip-route(8)), created in this order by the bridge plugin:

    1. ensure_bridge()       a bridge on the host (RTM_NEWLINK kind bridge),
                             up, with its MTU and maybe IFF_PROMISC
    2. create_veth()         a veth pair in one RTM_NEWLINK: the host end,
                             already enslaved to the bridge and up, and its
                             peer created directly inside the pod's network
                             namespace under its final name (IFLA_NET_NS_FD
                             in the peer's attributes), so the name never
                             clashes with a host interface; both MACs set;
                             then hairpin mode on the bridge port
                             (IFLA_BRPORT_MODE, through its sysfs file)
    3. ensure_address()      the gateway address on the bridge (RTM_NEWADDR),
                             skipped when an ioctl shows it is there
    4. configure_sandbox_link()  inside the pod's netns: the addresses, the
                             link up, then the routes (RTM_NEWADDR,
                             RTM_NEWLINK, RTM_NEWROUTE) in one batch
and read back with read_link() / read_sandbox_link() for CNI CHECK, removed
with teardown_link() (deleting one end of a veth deletes both).

Speed. A pod's own requests (2, 4 and its DEL) are packed by hand and sent
in one batch each, from a short-lived thread of their own
(netlink_batch.py): no pyroute2 Python per request, no event loop stalled
by the kernel (deleting a veth waits 10-25 ms for RCU grace periods).
pyroute2 serves the rest: the bridge when it is missing, CHECK's reads.
It reaches another netns by forking a helper per socket (~15 ms); rtnl()
instead makes the socket in a short-lived thread that first setns(2)s
itself into the namespace: a socket stays bound to the namespace it was
created in, whoever uses it later (socket(7), network_namespaces(7)), and
is handed to pyroute2 with `use_socket=`. The daemon never forks (the
fork server does), so these threads are safe; none outlives its call.

Sync or async. pyroute2's synchronous IPRoute runs its own event loop with
run_until_complete(), which fails inside the daemon's running asyncio loop,
so everything here is async (AsyncIPRoute, on the caller's loop). The CNI
executables, which have no loop, wrap a whole plugin call in asyncio.run()
(run_sync() below).

Errors are SyscallError naming the netlink request, the object and the
namespace: "RTM_NEWLINK veth veth0a1b2c3d4e5 (peer eth0 in /run/netns/x):
File exists". LinkExists is raised when a link to be created already exists.
"""

import asyncio
import contextlib
import errno as _errno
import os
import socket

from pyroute2 import AsyncIPRoute
from pyroute2.netlink import NETLINK_ROUTE
from pyroute2.netlink.exceptions import NetlinkError

from minipod import trace
from minipod.errors import SyscallError
from minipod.linux import sandbox as namespaces
from minipod.linux import syscalls as sc
from minipod.network import netlink_batch

IFF_UP = 0x1
IFF_PROMISC = 0x100
AF_INET = socket.AF_INET
RT_TABLE_MAIN = 254


class LinkExists(SyscallError):
    """The link to be created exists already (EEXIST)."""


def _fail(e: BaseException, what: str) -> SyscallError:
    code = getattr(e, "code", None) or getattr(e, "errno", None) or 0
    text = os.strerror(code) if code else str(e)
    cls = LinkExists if code == _errno.EEXIST and what.startswith("RTM_NEWLINK") else SyscallError
    return cls(f"{what}: {text}", code)


# --- sockets --------------------------------------------------------------------


def link_indexes(names: tuple[str, ...]) -> dict[str, int | None]:
    """The index of each link in `names` in the calling thread's netns (None
    if missing), with if_nametoindex(3): an ioctl, far cheaper than a
    netlink round trip through pyroute2."""
    idx: dict[str, int | None] = {}
    for n in names:
        try:
            idx[n] = socket.if_nametoindex(n)
        except OSError:
            idx[n] = None
    return idx


@contextlib.asynccontextmanager
async def rtnl(netns: str | None = None, names: tuple[str, ...] = ()):
    """An AsyncIPRoute on the running loop: in the host's (the caller's)
    network namespace, or in the one at path `netns`. With `names`, it
    yields (ipr, {name: index or None}) instead, looked up in that netns."""
    if netns:
        # A NETLINK_ROUTE socket made inside the netns keeps it for good.
        sock, idx = namespaces.socket_in_netns(
            netns, socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE, inside=lambda: link_indexes(names)
        )
        sock.setblocking(True)
    else:
        sock, idx = None, link_indexes(names)
    ipr = None
    try:
        ipr = AsyncIPRoute(use_socket=sock) if sock is not None else AsyncIPRoute()
        await ipr.setup_endpoint()
        yield (ipr, idx) if names else ipr
    finally:
        if ipr is not None:
            ipr.close()
        if sock is not None:
            sock.close()  # pyroute2 does not own a socket passed with use_socket


# --- reading ----------------------------------------------------------------------


def _link_info(msg) -> dict:
    return {
        "index": msg["index"],
        "name": msg.get("ifname"),
        "mac": msg.get("address"),
        "mtu": msg.get("mtu"),
        "up": bool(msg["flags"] & IFF_UP),
        "promisc": bool(msg["flags"] & IFF_PROMISC),
        "master": msg.get("master"),
        "kind": msg.get(("linkinfo", "kind")),
    }


async def read_link(ipr, name: str, where: str = "the host") -> dict | None:
    """The link called `name` (index, name, mac, mtu, up, master, kind), or None."""
    try:
        msgs = await ipr.link("get", ifname=name)
    except NetlinkError as e:
        if e.code == _errno.ENODEV:
            return None
        raise _fail(e, f"RTM_GETLINK {name} in {where}") from None
    return _link_info(msgs[0])


async def read_addresses(ipr, index: int) -> list[str]:
    """IPv4 addresses of a link as CIDR strings ("10.85.0.5/16")."""
    out = []
    async for m in await ipr.addr("dump", index=index, family=AF_INET):
        out.append(f"{m.get('address')}/{m['prefixlen']}")
    return out


async def read_routes(ipr) -> list[dict]:
    """IPv4 routes of the main table: [{"dst": "0.0.0.0/0", "gw": ..., "oif": ...}]."""
    out = []
    async for m in await ipr.route("dump", family=AF_INET, table=RT_TABLE_MAIN):
        dst = m.get("dst") or "0.0.0.0"
        out.append({"dst": f"{dst}/{m['dst_len']}", "gw": m.get("gateway"), "oif": m.get("oif")})
    return out


async def read_sandbox_link(netns: str, ifname: str) -> dict | None:
    """The link `ifname` inside the netns at `netns`, with its addresses and
    the routes through it (for CNI CHECK), or None when it does not exist."""
    async with rtnl(netns) as ipr:
        link = await read_link(ipr, ifname, netns)
        if link is None:
            return None
        link["addresses"] = await read_addresses(ipr, link["index"])
        link["routes"] = [r for r in await read_routes(ipr) if r["oif"] == link["index"]]
        return link


# --- creating -----------------------------------------------------------------------


def random_mac() -> str:
    """A random unicast, locally administered MAC address (IEEE 802)."""
    b = bytearray(os.urandom(6))
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)


async def ensure_bridge(
    name: str, mtu: int | None = None, promisc: bool = False, fixed_mac: bool = False
) -> dict:
    """The bridge `name`, created if missing, up (and promiscuous if asked).

    fixed_mac: create it with a random MAC set explicitly. A bridge whose
    MAC was never set takes the lowest MAC of its ports, so it changes as
    pods come and go, under the ARP caches of the pods that use it as
    their gateway; an explicitly set MAC never changes.

    Idempotent and safe against a concurrent creator: EEXIST means another
    plugin process made it first, which is fine. An existing non-bridge
    link of that name is an error: it is not ours to touch."""
    link = _bridge_from_sysfs(name)
    if link and link["up"] and (link["promisc"] or not promisc):
        return link  # the common case, without a netlink socket
    async with rtnl() as ipr:
        return await _make_bridge(ipr, name, mtu, promisc, fixed_mac)


async def _make_bridge(ipr, name: str, mtu: int | None, promisc: bool, fixed_mac: bool) -> dict:
    link = await read_link(ipr, name)
    if link is None:
        spec: dict[str, object] = {"ifname": name, "kind": "bridge", "state": "up"}
        if mtu:
            spec["mtu"] = mtu
        if fixed_mac:
            spec["address"] = random_mac()
        try:
            await ipr.link("add", **spec)
        except NetlinkError as e:
            if e.code != _errno.EEXIST:
                raise _fail(e, f"RTM_NEWLINK bridge {name}") from None
        link = await read_link(ipr, name)
        if link is None:
            raise SyscallError(f"RTM_NEWLINK bridge {name}: created but then gone", _errno.ENODEV)
    if link["kind"] != "bridge":
        raise SyscallError(
            f"link {name} exists and is a {link['kind'] or 'non-bridge'} link, not a bridge", _errno.EEXIST
        )
    flags = change = 0
    if not link["up"]:
        flags, change = flags | IFF_UP, change | IFF_UP
    if promisc and not link["promisc"]:
        flags, change = flags | IFF_PROMISC, change | IFF_PROMISC
    if change:
        try:
            await ipr.link("set", index=link["index"], flags=flags, change=change)
        except NetlinkError as e:
            raise _fail(e, f"RTM_NEWLINK set flags of bridge {name}") from None
        link = await read_link(ipr, name)
        if link is None:
            raise SyscallError(f"RTM_NEWLINK set flags of bridge {name}: then gone", _errno.ENODEV)
    return link


def _bridge_from_sysfs(name: str) -> dict | None:
    """The bridge `name` as /sys/class/net shows it (index, mac, up,
    promisc), or None if that is not an existing bridge. Four small reads:
    several times cheaper than an RTM_GETLINK parsed by pyroute2."""
    base = f"/sys/class/net/{name}"
    try:
        if "/" in name or not os.path.isdir(f"{base}/bridge"):
            return None
        with open(f"{base}/ifindex") as f:
            index = int(f.read())
        with open(f"{base}/flags") as f:
            flags = int(f.read(), 16)
        with open(f"{base}/address") as f:
            mac = f.read().strip()
    except (OSError, ValueError):
        return None
    return {
        "index": index,
        "name": name,
        "mac": mac,
        "up": bool(flags & IFF_UP),
        "promisc": bool(flags & IFF_PROMISC),
        "kind": "bridge",
    }


async def ensure_address(ipr, index: int, cidr: str, what: str) -> bool:
    """Add `cidr` ("10.85.0.1/16") to link `index`; False if it was there."""
    addr, plen = cidr.split("/")
    try:
        await ipr.addr("add", index=index, address=addr, prefixlen=int(plen))
        return True
    except NetlinkError as e:
        if e.code == _errno.EEXIST:
            return False
        raise _fail(e, f"RTM_NEWADDR {cidr} on {what}") from None


async def create_veth(
    host_name: str,
    peer_name: str,
    netns: str,
    *,
    master: int | None,
    mtu: int | None = None,
    hairpin: bool = False,
) -> dict:
    """A veth pair: `host_name` on the host (enslaved to bridge index `master`,
    up), `peer_name` created directly inside the netns at `netns` (down; see
    configure_sandbox_link). Raises LinkExists if either name is taken.

    Both MACs are chosen here and set explicitly, which saves reading the
    links back, and keeps udev's MACAddressPolicy from changing them after
    the result reported them. One hand-built RTM_NEWLINK, from a thread
    (netlink_batch.py). Returns {"mac", "peer_mac"}."""
    out = {"mac": random_mac(), "peer_mac": random_mac()}
    with trace.span("ip link add veth", f"{host_name} peer {peer_name} in the pod, bridge port of #{master}"):
        await netlink_batch.in_thread(
            netlink_batch.create_veth,
            host_name,
            peer_name,
            netns,
            out["mac"],
            out["peer_mac"],
            master,
            mtu,
            LinkExists,
        )
    if hairpin and master:
        # Hairpin lets a frame leave by the port it came in on: a pod that
        # reaches itself through a hostPort DNAT (portmap) needs it. This is
        # IFLA_BRPORT_MODE; its sysfs file sets it by name in one write,
        # where netlink would need the index (a lookup) and a second request.
        path = f"/sys/class/net/{host_name}/brport/hairpin_mode"
        try:
            with trace.span("bridge port hairpin", path), open(path, "w") as f:
                f.write("1")
        except OSError as e:
            raise SyscallError(f"write({path}): {e.strerror}", e.errno) from None
    return out


async def configure_sandbox_link(
    netns: str, ifname: str, addresses: list[str], routes: list[tuple[str, str | None]]
) -> int:
    """Inside the netns at `netns`: add `addresses` to `ifname`, bring it up,
    add `routes` [(dst CIDR, gateway or None)], in one batch over one socket
    (netlink_batch.py). An existing address or route is left alone (the CNI
    spec asks plugins to skip a default route that another network already
    set). Returns the link's index."""
    # One span for the batch, named as `ip` would be for its first request.
    detail = f"in the pod's netns; with link up and {len(routes)} route(s), one batch"
    with trace.span(f"ip addr add {', '.join(addresses)} dev {ifname}", detail):
        return await netlink_batch.in_thread(
            netlink_batch.configure_sandbox, netns, ifname, addresses, routes
        )


def gateway_present(bridge: str, cidr: str) -> bool:
    """The bridge's (primary) address is `cidr`'s: an ioctl instead of an
    RTM_NEWADDR that would only answer EEXIST."""
    return sc.interface_address(bridge) == cidr.split("/")[0]


# --- removing -----------------------------------------------------------------------


async def teardown_link(name: str) -> bool:
    """Delete link `name` if it exists; True if it did. Deleting a veth's
    host end deletes its peer in the pod's netns as well. From a thread of
    its own: the kernel holds the caller 10-25 ms (netlink_batch.py)."""
    with trace.span(f"ip link del {name}"):
        return await netlink_batch.in_thread(netlink_batch.delete_link, name)


def teardown_bridge(name: str) -> bool:
    """Delete the bridge (or any link) `name`, best effort, from code with no
    running event loop (tests, the CLI). The plugins never delete a bridge:
    other pods may still be plugged into it."""

    return run_sync(teardown_link(name))


def run_sync(coro):
    """asyncio.run() for callers without an event loop (the CNI executables).
    Inside a running loop use the async functions directly."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("called from a running event loop: await the *_async function instead")


__all__ = [
    "LinkExists",
    "random_mac",
    "link_indexes",
    "rtnl",
    "read_link",
    "read_addresses",
    "read_routes",
    "read_sandbox_link",
    "ensure_bridge",
    "ensure_address",
    "create_veth",
    "configure_sandbox_link",
    "gateway_present",
    "teardown_link",
    "teardown_bridge",
    "run_sync",
]
