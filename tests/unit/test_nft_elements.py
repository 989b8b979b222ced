"""The netfilter netlink batch of nft_elements.py (pure packing; the kernel's
side is in tests/root/test_pod_net_batching.py and the CNI tests)."""

import struct

from minipod.network import nft_elements as ne


def _messages(data: bytes) -> list[tuple[int, int, int, bytes]]:
    out, off = [], 0
    while off < len(data):
        length, kind, flags, seq, _ = struct.unpack_from("=IHHII", data, off)
        out.append((kind, flags, seq, data[off + 16 : off + length]))
        off += (length + 3) & ~3
    return out


def test_a_batch_is_framed_by_begin_and_end_for_the_nftables_subsystem():
    msgs = _messages(
        ne.batch(
            [("add", "t", "s", [("10.0.0.5", "masq a eth0")]), ("delete", "t", "s", [("10.0.0.6", None)])]
        )
    )
    assert [m[0] for m in msgs] == [
        ne.NFNL_MSG_BATCH_BEGIN,
        (ne.NFNL_SUBSYS_NFTABLES << 8) | ne.NFT_MSG_NEWSETELEM,
        (ne.NFNL_SUBSYS_NFTABLES << 8) | ne.NFT_MSG_DELSETELEM,
        ne.NFNL_MSG_BATCH_END,
    ]
    assert [m[2] for m in msgs] == [0, 1, 2, 0]
    assert struct.unpack(">H", msgs[0][3][2:4]) == (ne.NFNL_SUBSYS_NFTABLES,)
    assert msgs[1][1] & ne.NLM_F_CREATE and not msgs[2][1] & ne.NLM_F_CREATE


def test_an_element_carries_its_address_and_nfts_comment_format():
    raw = ne.element("10.0.0.5", "masq a eth0")
    assert b"\x0a\x00\x00\x05" in raw
    text = b"masq a eth0\0"
    assert struct.pack("=BB", ne.NFTNL_UDATA_SET_ELEM_COMMENT, len(text)) + text in raw
    assert b"masq" not in ne.element("10.0.0.5", None)
