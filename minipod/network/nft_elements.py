"""Set elements of nf_tables, added and deleted over netfilter netlink directly.

A pod's ADD and DEL change one element of a set (masquerade.py). Through
libnftables that is ~1 ms: it parses JSON, then reads the tables and sets
of every family from the kernel to resolve the set's type, then builds the
batch. The batch itself is small enough to pack here (nf_tables' netlink
API, include/uapi/linux/netfilter/nf_tables.h), as netlink_batch.py does
for links, and costs one sendmsg(2):

    NFNL_MSG_BATCH_BEGIN                     (res_id: the nftables subsystem)
    NFT_MSG_NEWSETELEM | NFT_MSG_DELSETELEM  per (table, set), NLM_F_ACK:
        NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET,
        NFTA_SET_ELEM_LIST_ELEMENTS: per element NFTA_LIST_ELEM {
            NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE: the IPv4 address },
            NFTA_SET_ELEM_USERDATA: the comment, in nft's own TLV format }
    NFNL_MSG_BATCH_END

The kernel runs the batch as one transaction (all or nothing) and answers
each message; ENOENT means the table, the set or (on delete) the element
is missing, EEXIST is never returned for an add without NLM_F_EXCL. Only
sets of type ipv4_addr are handled; anything else goes through nft.py.
"""

import ipaddress
import os
import socket
import struct

from minipod.network.netlink_batch import NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, acks, attr, message, name

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM = 12, 14
NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS = 1, 2, 3
NFTA_LIST_ELEM = 1
NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_USERDATA = 1, 6
NFTA_DATA_VALUE = 1
NFTNL_UDATA_SET_ELEM_COMMENT = 0
NLA_F_NESTED = 0x8000
NFPROTO_IPV4 = 2


def nfgenmsg(family: int, res_id: int = 0) -> bytes:
    """The netfilter header: family, version 0, resource id (big-endian)."""
    return struct.pack("=BB", family, 0) + struct.pack(">H", res_id)


def nested(kind: int, payload: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, payload)


def element(ip: str, comment: str | None) -> bytes:
    """One NFTA_LIST_ELEM: the key, and the comment as nft writes it
    (type, length, the text with its NUL)."""
    body = nested(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, ipaddress.IPv4Address(ip).packed))
    if comment:
        text = comment.encode()[:127] + b"\0"
        body += attr(
            NFTA_SET_ELEM_USERDATA, struct.pack("=BB", NFTNL_UDATA_SET_ELEM_COMMENT, len(text)) + text
        )
    return nested(NFTA_LIST_ELEM, body)


def setelem_body(table: str, set_name: str, elements: list[tuple[str, str | None]]) -> bytes:
    elems = b"".join(element(ip, comment) for ip, comment in elements)
    return (
        nfgenmsg(NFPROTO_IPV4)
        + attr(NFTA_SET_ELEM_LIST_TABLE, name(table))
        + attr(NFTA_SET_ELEM_LIST_SET, name(set_name))
        + nested(NFTA_SET_ELEM_LIST_ELEMENTS, elems)
    )


def batch(groups: list[tuple[str, str, str, list[tuple[str, str | None]]]]) -> bytes:
    """The datagram for [(verb "add"|"delete", table, set, [(ip, comment)])]:
    sequence numbers 1..n for the groups, 0 for the batch markers."""
    begin = message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, nfgenmsg(socket.AF_UNSPEC, NFNL_SUBSYS_NFTABLES))
    end = message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, nfgenmsg(socket.AF_UNSPEC, NFNL_SUBSYS_NFTABLES))
    body = b""
    for seq, (verb, table, set_name, elements) in enumerate(groups, 1):
        kind = NFT_MSG_NEWSETELEM if verb == "add" else NFT_MSG_DELSETELEM
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE if verb == "add" else 0)
        body += message(
            (NFNL_SUBSYS_NFTABLES << 8) | kind, flags, seq, setelem_body(table, set_name, elements)
        )
    return begin + body + end


def send(groups: list[tuple[str, str, str, list[tuple[str, str | None]]]]) -> int:
    """Run the batch; 0, or the errno of the first message that failed
    (the kernel then applied none of them)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_NETFILTER) as sock:
        sock.bind((0, 0))
        sock.settimeout(10)  # the kernel answers at once; never hang the daemon on it
        sock.send(batch(groups))
        got: dict[int, int] = {}
        while len(got) < len(groups):
            got.update(acks(sock.recv(65536)))
            # After a failed message the kernel aborts the batch: the later
            # ones may never be answered.
            if any(got.values()):
                break
    for seq in range(1, len(groups) + 1):
        if got.get(seq):
            return got[seq]
    return 0


def strerror(code: int) -> str:
    return os.strerror(code)


__all__ = ["send", "batch", "element", "setelem_body", "strerror"]
