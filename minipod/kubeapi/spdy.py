"""SPDY/3.1 framing, the server side, as much as port-forward needs.

kubectl 1.31+ port-forwards over a WebSocket whose messages carry a SPDY
session (subprotocol "SPDY/3.1+portforward.k8s.io"), as the kubelet's
streaming server speaks it. A frame is 8 bytes of header, then its data:
    control: 1 | version 3 (15 bits) | type (16) | flags (8) | length (24)
    data:    0 | stream id (31 bits)            | flags (8) | length (24)
Header blocks (in SYN_STREAM, SYN_REPLY) are name/value pairs with 32-bit
lengths, zlib-compressed in one stream per direction whose preset
dictionary is DICTIONARY, from the SPDY draft 3 specification.

Session turns bytes into frames (feed()) and builds the frames the server
sends (syn_reply(), data(), rst(), ping()); it does no I/O itself.
"""

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
CANCEL, INTERNAL_ERROR = 5, 6

# The SPDY/3 header dictionary: the spec lists it as these words, each with
# a 32-bit length, then one run of common values (1423 bytes in all).
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date "
    "etag expect expires from host if-match if-modified-since if-none-match if-range "
    "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
    "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_RUN = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(len(w).to_bytes(4, "big") + w.encode() for w in _WORDS) + _RUN.encode()


@dataclass
class Frame:
    control: bool
    type: int = 0  # control frames
    stream: int = 0
    flags: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""  # data frames; the body of other control frames


class Session:
    def __init__(self):
        self.buf = b""
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=DICTIONARY)

    # --- reading --------------------------------------------------------------
    def feed(self, data: bytes) -> list[Frame]:
        """The whole frames that `data` completes."""
        self.buf += data
        frames = []
        while len(self.buf) >= 8:
            first, second = struct.unpack("!II", self.buf[:8])
            length = second & 0xFFFFFF
            if len(self.buf) < 8 + length:
                break
            body, self.buf = self.buf[8 : 8 + length], self.buf[8 + length :]
            flags = second >> 24
            if first & 0x80000000:
                frames.append(self._control(first & 0xFFFF, flags, body))
            else:
                frames.append(Frame(False, stream=first & 0x7FFFFFFF, flags=flags, data=body))
        return frames

    def _control(self, kind: int, flags: int, body: bytes) -> Frame:
        f = Frame(True, type=kind, flags=flags, data=body)
        if kind in (SYN_STREAM, SYN_REPLY, HEADERS, RST_STREAM, WINDOW_UPDATE):
            f.stream = struct.unpack("!I", body[:4])[0] & 0x7FFFFFFF
        if kind == SYN_STREAM:
            f.headers = self._headers(body[10:])
        elif kind in (SYN_REPLY, HEADERS):
            f.headers = self._headers(body[4:])
        return f

    def _headers(self, block: bytes) -> dict[str, str]:
        raw = self.inflate.decompress(block)
        (count,) = struct.unpack("!I", raw[:4])
        pos, out = 4, {}
        for _ in range(count):
            (n,) = struct.unpack("!I", raw[pos : pos + 4])
            name = raw[pos + 4 : pos + 4 + n].decode()
            pos += 4 + n
            (v,) = struct.unpack("!I", raw[pos : pos + 4])
            out[name] = raw[pos + 4 : pos + 4 + v].decode()
            pos += 4 + v
        return out

    # --- writing --------------------------------------------------------------
    @staticmethod
    def _frame(kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack("!HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body

    def _block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack("!I", len(headers))
        for k, v in headers.items():
            raw += struct.pack("!I", len(k)) + k.encode() + struct.pack("!I", len(v)) + v.encode()
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream: int, headers: dict[str, str], fin: bool = False) -> bytes:
        return self._frame(
            SYN_REPLY, FLAG_FIN if fin else 0, struct.pack("!I", stream) + self._block(headers)
        )

    @staticmethod
    def data(stream: int, payload: bytes, fin: bool = False) -> bytes:
        return (
            struct.pack("!II", stream & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload
        )

    def rst(self, stream: int, status: int = CANCEL) -> bytes:
        return self._frame(RST_STREAM, 0, struct.pack("!II", stream, status))

    def ping(self, ping_id: int) -> bytes:
        return self._frame(PING, 0, struct.pack("!I", ping_id))
