"""rtnetlink requests of a pod's ADD and DEL: built by hand, sent in one batch,
from a short-lived thread.

A pod's network is a few fixed requests (rtnetlink(7)): create the veth
pair, then inside the pod's netns add the address, bring the link up, add
the routes; on DEL, delete the veth. Each is a netlink header, a fixed
struct and a few attributes (type-length-value, 4-byte aligned), small
enough to pack with struct here. Sent in one sendmsg(2), the kernel
handles them in order (netlink_rcv_skb walks the messages of one
datagram) and acknowledges each (NLM_F_ACK): one round trip for the lot,
where pyroute2 costs ~0.3 ms of Python per request.

Each batch runs in a thread of its own, started for the call and finished
before it returns (in_thread()):
    - the sandbox side setns(2)s that thread into the pod's netns, so the
      daemon's own thread never leaves the host's namespace;
    - RTM_DELLINK blocks in the kernel for 10-25 ms (unregistering a device
      waits for RCU grace periods), which on the event loop stalled the
      whole daemon for every veth deleted; in a thread the loop goes on
      and concurrent DELs wait out their grace periods together. (Letting
      the kernel delete the veth with the netns would also take it off the
      loop, but only after the pod's last process and the pin are gone,
      which a CNI DEL, run with the netns still there, cannot count on.)
Threads are safe here: the daemon never forks (the fork server does), and
these threads touch no Python state but their own socket and result.

Steps of configure_sandbox() in one batch: RTM_NEWADDR per address
(with its broadcast, as `ip addr add ... brd +`), RTM_NEWLINK IFF_UP,
RTM_NEWROUTE per route (scope link without a gateway). EEXIST of an
address or route is success (CNI: a route another network set stays).
"""

import asyncio
import errno as _errno
import ipaddress
import os
import socket
import struct
import threading

from minipod.errors import SyscallError
from minipod.linux import syscalls as sc

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 20, 24
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RTN_UNICAST = 254, 3, 0, 253, 1
IFF_UP = 0x1
CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL


# --- packing (pure) ----------------------------------------------------------------


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr: length, type, payload, padded to 4 bytes."""
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def u32(v: int) -> bytes:
    return struct.pack("=I", v)


def name(text: str) -> bytes:
    return text.encode() + b"\0"


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """A netlink message: nlmsghdr (length, type, flags, seq, pid 0) + body."""
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def veth_body(host: str, peer: str, netns_fd: int, host_mac: str, peer_mac: str, master, mtu) -> bytes:
    """RTM_NEWLINK of a veth pair: the host end up (on bridge `master`), the
    peer created inside the netns of `netns_fd`."""
    peer_attrs = attr(IFLA_IFNAME, name(peer)) + attr(IFLA_ADDRESS, mac(peer_mac))
    peer_attrs += attr(IFLA_NET_NS_FD, u32(netns_fd))
    host_attrs = attr(IFLA_IFNAME, name(host)) + attr(IFLA_ADDRESS, mac(host_mac))
    if mtu:
        peer_attrs += attr(IFLA_MTU, u32(mtu))
        host_attrs += attr(IFLA_MTU, u32(mtu))
    if master:
        host_attrs += attr(IFLA_MASTER, u32(master))
    data = attr(VETH_INFO_PEER, ifinfomsg() + peer_attrs)
    info = attr(IFLA_INFO_KIND, name("veth")) + attr(IFLA_INFO_DATA, data)
    return ifinfomsg(0, IFF_UP, IFF_UP) + host_attrs + attr(IFLA_LINKINFO, info)


def address_body(index: int, cidr: str) -> bytes:
    iface = ipaddress.IPv4Interface(cidr)
    ip = iface.ip.packed
    head = struct.pack("=BBBBI", socket.AF_INET, iface.network.prefixlen, 0, 0, index)
    body = head + attr(IFA_LOCAL, ip) + attr(IFA_ADDRESS, ip)
    if iface.network.prefixlen < 31:
        body += attr(IFA_BROADCAST, iface.network.broadcast_address.packed)
    return body


def route_body(index: int, dst: str, gateway: str | None) -> bytes:
    net = ipaddress.IPv4Network(dst)
    scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
    head = struct.pack(
        "=BBBBBBBBI", socket.AF_INET, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST, 0
    )
    body = head + attr(RTA_OIF, u32(index))
    if net.prefixlen:
        body += attr(RTA_DST, net.network_address.packed)
    if gateway:
        body += attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed)
    return body


def acks(data: bytes) -> dict[int, int]:
    """{seq: errno (0 = success)} of the NLMSG_ERROR messages in `data`."""
    out, off = {}, 0
    while off + 16 <= len(data):
        length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, off)
        if length < 16:
            break
        if kind == NLMSG_ERROR:
            out[seq] = -struct.unpack_from("=i", data, off + 16)[0]
        off += (length + 3) & ~3
    return out


# --- sending ------------------------------------------------------------------------


def send_batch(sock: socket.socket, requests: list[tuple[int, int, bytes]]) -> list[int]:
    """Send [(type, flags, body)] in one datagram; the errno of each (0 ok)."""
    sock.send(b"".join(message(k, f, seq + 1, b) for seq, (k, f, b) in enumerate(requests)))
    got: dict[int, int] = {}
    while len(got) < len(requests):
        got.update(acks(sock.recv(65536)))
    return [got[seq + 1] for seq in range(len(requests))]


def route_socket() -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's network namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    sock.bind((0, 0))
    return sock


async def in_thread(fn, *args):
    """fn(*args) in a thread of its own, awaited without blocking the loop;
    the thread has finished when this returns."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def deliver(ok: bool, value) -> None:
        if not fut.done():
            (fut.set_result if ok else fut.set_exception)(value)

    def run() -> None:
        try:
            value, ok = fn(*args), True
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting caller
            value, ok = e, False
        loop.call_soon_threadsafe(deliver, ok, value)

    t = threading.Thread(target=run, name="minipod-netlink", daemon=True)
    t.start()
    try:
        return await fut
    finally:
        t.join()


# --- what netlink.py asks for -------------------------------------------------------


def _error(code: int, what: str, cls=SyscallError) -> SyscallError:
    return cls(f"{what}: {os.strerror(code)}", code)


def create_veth(host: str, peer: str, netns: str, host_mac: str, peer_mac: str, master, mtu, exists_cls):
    """Blocking: the veth pair (see veth_body); `exists_cls` for EEXIST."""
    what = f"RTM_NEWLINK veth {host} (peer {peer} in {netns})"
    try:
        fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SyscallError(f"open({netns}): {e.strerror}", e.errno) from None
    try:
        with route_socket() as sock:
            body = veth_body(host, peer, fd, host_mac, peer_mac, master, mtu)
            (code,) = send_batch(sock, [(RTM_NEWLINK, CREATE, body)])
    finally:
        os.close(fd)
    if code:
        raise _error(code, what, exists_cls if code == _errno.EEXIST else SyscallError)


def configure_sandbox(netns: str, ifname: str, addresses: list[str], routes: list) -> int:
    """Blocking, in a thread of its own: setns into `netns`, then the batch of
    the module docstring. Returns the link's index."""
    sc.setns(netns, sc.CLONE_NEWNET)  # this thread only; it ends after the call
    try:
        index = socket.if_nametoindex(ifname)
    except OSError:
        raise SyscallError(f"if_nametoindex({ifname}) in {netns}: No such device", _errno.ENODEV) from None
    requests = [(RTM_NEWADDR, CREATE, address_body(index, a)) for a in addresses]
    requests.append((RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg(index, IFF_UP, IFF_UP)))
    requests += [(RTM_NEWROUTE, CREATE, route_body(index, dst, gw)) for dst, gw in routes]
    with route_socket() as sock:
        codes = send_batch(sock, requests)
    whats = [f"RTM_NEWADDR {a} on {ifname} in {netns}" for a in addresses]
    whats.append(f"RTM_NEWLINK up {ifname} in {netns}")
    whats += [f"RTM_NEWROUTE {dst} via {gw or 'link'} dev {ifname} in {netns}" for dst, gw in routes]
    for (kind, _, _), code, what in zip(requests, codes, whats, strict=True):
        if code and not (code == _errno.EEXIST and kind != RTM_NEWLINK):
            raise _error(code, what)
    return index


def delete_link(ifname: str) -> bool:
    """Blocking: RTM_DELLINK of `ifname` in this thread's netns (by name);
    False if there is no such link."""
    with route_socket() as sock:
        (code,) = send_batch(
            sock, [(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg() + attr(IFLA_IFNAME, name(ifname)))]
        )
    if code == _errno.ENODEV:
        return False
    if code:
        raise _error(code, f"RTM_DELLINK {ifname}")
    return True


__all__ = ["in_thread", "create_veth", "configure_sandbox", "delete_link", "send_batch", "acks"]
