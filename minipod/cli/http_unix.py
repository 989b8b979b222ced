"""HTTP/1.1 over the daemon's Unix socket, in a few dozen lines.

Why not the standard library's http.client? Importing it costs about 40 ms
(it pulls in the email package to parse headers), more than everything
else `minipod get pods` does. One request per connection, with
`Connection: close`, needs only this:

    1. connect the socket, send the request line, the headers and the body
       (Content-Length always set, so the daemon never waits for more);
    2. read the status line and the headers, up to the empty line;
    3. read the body as the headers say: Content-Length bytes, or chunks
       (Transfer-Encoding: chunked, how the daemon streams logs, watches,
       pulls and traces), or everything up to EOF.
A Response reads the body lazily: read(), read1() and line iteration work
on a stream that never ends (`logs -f`) as on a short answer. quote() and
urlencode() do what urllib.parse's do for a path segment and a query
(urllib.parse imports re and ipaddress: more start-up for every command).
"""

import socket

# RFC 3986's unreserved characters: everything else is percent-encoded.
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def quote(text: str) -> str:
    """One path segment or query value: "/", "?", "&", "=" and the rest encoded."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode())


def urlencode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)


class BadResponse(ConnectionError):
    """The daemon's answer is not HTTP/1.1 as this module reads it."""


class IncompleteRead(ConnectionError):
    """The daemon closed the connection in the middle of a body: a short
    answer must never pass for a whole one (lost_daemon() reports it)."""


class Response:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.file = sock.makefile("rb")
        status = self.file.readline().decode("latin-1").split(None, 2)  # step 2
        if len(status) < 2 or not status[0].startswith("HTTP/") or not status[1].isdigit():
            raise BadResponse(f"bad status line from the daemon: {' '.join(status)!r}")
        self.status = int(status[1])
        self.reason = status[2].strip() if len(status) > 2 else ""
        self.headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()  # step 3
        length = self.headers.get("content-length")
        self.left = int(length) if length is not None and not self.chunked else None  # None: to EOF
        self.chunk_left = 0
        self.done = False

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def read1(self, n: int = 65536) -> bytes:
        """Up to n bytes of the body, as soon as some are there; b"" at its end."""
        if self.done:
            return b""
        if self.chunked:
            if self.chunk_left == 0:
                size_line = self.file.readline()
                if not size_line:
                    raise IncompleteRead("the daemon's answer ended before its last chunk")
                self.chunk_left = int(size_line.split(b";")[0].strip() or b"0", 16)
                if self.chunk_left == 0:  # the last chunk (and no trailers from the daemon)
                    self.file.readline()
                    return self._end()
            data = self.file.read1(min(n, self.chunk_left))
            if not data:
                raise IncompleteRead(f"the daemon's answer ended {self.chunk_left} bytes into a chunk")
            self.chunk_left -= len(data)
            if self.chunk_left == 0:
                self.file.readline()  # the CRLF after each chunk
            return data
        want = n if self.left is None else min(n, self.left)
        data = self.file.read1(want) if want else b""
        if self.left is not None:
            if want and not data:
                raise IncompleteRead(f"the daemon's answer ended {self.left} bytes short")
            self.left -= len(data)
        if not data or self.left == 0:
            self.done = self.left == 0 or not data
        return data

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            data = self.read1(65536 if n < 0 else n - len(out))
            if not data:
                break
            out += data
        return bytes(out)

    def __iter__(self):
        """The body's lines (with their newlines), as they come."""
        pending = b""
        while True:
            data = self.read1()
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending

    def _end(self) -> bytes:
        self.done = True
        return b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def request(path: str, method: str, target: str, body: bytes | None, headers: dict, timeout) -> Response:
    """One request on a new connection to the socket at PATH (step 1)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if timeout:
            sock.settimeout(timeout)
        sock.connect(path)
        head = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body or b'')}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
        return Response(sock)
    except BaseException:
        sock.close()
        raise
