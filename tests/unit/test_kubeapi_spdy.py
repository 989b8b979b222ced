"""SPDY/3.1 framing for port-forward: frames read back as written, header
blocks through the shared zlib streams with the spec's dictionary."""

import struct
import zlib

from minipod.kubeapi import spdy


def test_the_dictionary_is_the_specs():
    # 1423 bytes; zlib names a preset dictionary by its Adler-32 in the stream.
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")


def _syn_stream(client, stream: int, headers: dict) -> bytes:
    raw = struct.pack("!I", len(headers))
    for k, v in headers.items():
        raw += struct.pack("!I", len(k)) + k.encode() + struct.pack("!I", len(v)) + v.encode()
    block = client.compress(raw) + client.flush(zlib.Z_SYNC_FLUSH)
    body = struct.pack("!IIBB", stream, 0, 0, 0) + block
    return struct.pack("!HHI", 0x8003, spdy.SYN_STREAM, len(body)) + body


def test_a_client_stream_and_the_servers_answers():
    client = zlib.compressobj(zdict=spdy.DICTIONARY)
    server = spdy.Session()
    wire = _syn_stream(client, 1, {"streamtype": "error", "port": "8080", "requestid": "0"})
    wire += _syn_stream(client, 3, {"streamtype": "data", "port": "8080", "requestid": "0"})
    wire += spdy.Session.data(3, b"GET / HTTP/1.0\r\n\r\n", fin=True)
    frames = server.feed(wire[:20]) + server.feed(wire[20:])  # bytes may come in any pieces
    assert [(f.control, f.type, f.stream) for f in frames] == [(True, 1, 1), (True, 1, 3), (False, 0, 3)]
    assert frames[1].headers == {"streamtype": "data", "port": "8080", "requestid": "0"}
    assert frames[2].data == b"GET / HTTP/1.0\r\n\r\n" and frames[2].flags & spdy.FLAG_FIN
    reply = server.syn_reply(3, {"a": "b"})
    client_side = spdy.Session()
    client_side.inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
    [f] = client_side.feed(reply)
    assert (f.type, f.stream, f.headers) == (spdy.SYN_REPLY, 3, {"a": "b"})
