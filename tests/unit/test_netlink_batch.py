"""The hand-built rtnetlink messages of netlink_batch.py (pure packing; the
kernel's side is in tests/root/test_pod_net_speed.py and the CNI tests)."""

import socket
import struct

from minipod.network import netlink_batch as nb


def _attrs(data: bytes) -> dict[int, bytes]:
    out, off = {}, 0
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        out[kind] = data[off + 4 : off + length]
        off += (length + 3) & ~3
    return out


def test_attributes_are_padded_to_four_bytes():
    a = nb.attr(nb.IFLA_IFNAME, nb.name("eth0"))
    assert struct.unpack_from("=HH", a) == (4 + 5, nb.IFLA_IFNAME)
    assert len(a) == 12 and a.endswith(b"eth0\0\0\0\0")


def test_a_batch_numbers_its_messages_and_reads_each_ack():
    msgs = [nb.message(nb.RTM_NEWADDR, nb.CREATE, seq, b"x" * 4) for seq in (1, 2)]
    assert [struct.unpack_from("=IHHII", m)[3] for m in msgs] == [1, 2]
    acks = b"".join(
        struct.pack("=IHHII", 36, nb.NLMSG_ERROR, 0, seq, 0) + struct.pack("=i", err) + b"\0" * 16
        for seq, err in ((1, 0), (2, -17))
    )
    assert nb.acks(acks) == {1: 0, 2: 17}


def test_address_has_local_address_and_broadcast():
    body = nb.address_body(7, "10.85.0.5/16")
    family, plen, _, _, index = struct.unpack_from("=BBBBI", body)
    assert (family, plen, index) == (socket.AF_INET, 16, 7)
    attrs = _attrs(body[8:])
    assert attrs[nb.IFA_LOCAL] == attrs[nb.IFA_ADDRESS] == socket.inet_aton("10.85.0.5")
    assert attrs[nb.IFA_BROADCAST] == socket.inet_aton("10.85.255.255")
    assert nb.IFA_BROADCAST not in _attrs(nb.address_body(7, "10.85.0.5/31")[8:])


def test_default_route_has_a_gateway_and_no_destination_and_a_link_route_has_scope_link():
    body = nb.route_body(3, "0.0.0.0/0", "10.85.0.1")
    fields = struct.unpack_from("=BBBBBBBBI", body)
    assert fields[1] == 0 and fields[4] == nb.RT_TABLE_MAIN and fields[6] == nb.RT_SCOPE_UNIVERSE
    attrs = _attrs(body[12:])
    assert nb.RTA_DST not in attrs and attrs[nb.RTA_GATEWAY] == socket.inet_aton("10.85.0.1")
    assert struct.unpack("=I", attrs[nb.RTA_OIF]) == (3,)
    link = nb.route_body(3, "10.96.0.0/12", None)
    assert struct.unpack_from("=BBBBBBBBI", link)[6] == nb.RT_SCOPE_LINK
    assert _attrs(link[12:])[nb.RTA_DST] == socket.inet_aton("10.96.0.0")


def test_veth_peer_goes_into_the_netns_with_its_own_name_and_mac():
    body = nb.veth_body("vethabc", "eth0", 9, "02:00:00:00:00:01", "02:00:00:00:00:02", 4, 1400)
    _, _, _, flags, change = struct.unpack_from("=BxHiII", body)
    assert flags & nb.IFF_UP and change & nb.IFF_UP
    host = _attrs(body[16:])
    assert host[nb.IFLA_IFNAME] == b"vethabc\0" and struct.unpack("=I", host[nb.IFLA_MASTER]) == (4,)
    info = _attrs(host[nb.IFLA_LINKINFO])
    assert info[nb.IFLA_INFO_KIND] == b"veth\0"
    peer = _attrs(_attrs(info[nb.IFLA_INFO_DATA])[nb.VETH_INFO_PEER][16:])
    assert peer[nb.IFLA_IFNAME] == b"eth0\0" and struct.unpack("=I", peer[nb.IFLA_NET_NS_FD]) == (9,)
    assert peer[nb.IFLA_ADDRESS] == bytes.fromhex("020000000002")
    assert struct.unpack("=I", peer[nb.IFLA_MTU]) == (1400,)
