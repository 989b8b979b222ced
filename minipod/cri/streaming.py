"""The CRI's streaming server: where Exec, Attach and PortForward stream.

A CRI client (the kubelet, crictl, critest) does not stream over gRPC: the
Exec, Attach and PortForward calls answer a URL, and the client then opens
it with `Upgrade: SPDY/3.1`, as it would the kubelet's streaming server
(k8s.io/kubelet/pkg/cri/streaming), which containerd embeds. Steps:

    1. the gRPC call checks its request and stores what to serve under a
       random token: single use, for one minute (the kubelet's TTL); it
       answers http://127.0.0.1:PORT/KIND/TOKEN (containerd's default
       address: loopback, a port the kernel picks);
    2. the client connects: read its HTTP request, take the token, agree on
       a stream protocol (X-Stream-Protocol-Version: v4.channel.k8s.io for
       exec and attach, portforward.k8s.io), answer 101 Switching Protocols;
    3. SPDY/3.1 frames on the connection (kubeapi/spdy.py reads and writes
       them); the stored session serves it:
         exec, attach  the client's streams (error, stdin, stdout, stderr,
                       resize) become the channels of the Kubernetes API's
                       exec and attach (api/pod_exec.py, kubeapi/streams.py),
                       through SpdyChannels
         portforward   the Kubernetes API's SPDY port-forward
                       (kubeapi/portforward.py), over SpdyConnection
    4. the session ends: every stream is closed, then the connection.
"""

import asyncio
import secrets
import time
from dataclasses import dataclass

from aiohttp import WSMsgType

from minipod.kube.exec_protocol import RESIZE, STATUS, STDERR, STDIN, STDOUT
from minipod.kubeapi import spdy

TOKEN_TTL = 60.0  # seconds, as the kubelet's streaming server
REMOTECOMMAND = "v4.channel.k8s.io"
PORTFORWARD = "portforward.k8s.io"
MAX_HEAD = 16 * 1024


@dataclass
class Pending:
    kind: str  # exec, attach or portforward
    serve: object  # async serve(connection) -> None
    expires: float


class Message:
    """What the Kubernetes API's handlers read from a WebSocket: binary
    data, or CLOSED at the end."""

    def __init__(self, data: bytes, kind: WSMsgType = WSMsgType.BINARY):
        self.data, self.type = data, kind


class StreamServer:
    def __init__(self, log, host: str = "127.0.0.1"):
        self.log, self.host = log, host
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.pending: dict[str, Pending] = {}

    async def url(self, kind: str, serve) -> str:
        """Step 1: store SERVE (a coroutine function of one connection) and
        answer the URL that runs it; the server starts at its first use."""
        if self.server is None:
            self.server = await asyncio.start_server(self._connection, self.host, 0)
            self.port = self.server.sockets[0].getsockname()[1]
            self.log(f"CRI streaming server on http://{self.host}:{self.port}")
        now = time.monotonic()
        self.pending = {t: p for t, p in self.pending.items() if p.expires > now}
        token = secrets.token_urlsafe(12)
        self.pending[token] = Pending(kind, serve, now + TOKEN_TTL)
        return f"http://{self.host}:{self.port}/{kind}/{token}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except Exception as e:  # one client's failure must not reach the loop
            self.log(f"CRI streaming: {type(e).__name__}: {e}")
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Step 2: the request line and headers.
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            return await _refuse(writer, 431, "request headers too large")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        parts = request_line.split()
        path = parts[1] if len(parts) == 3 else ""
        headers: dict[str, list[str]] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        kind, _, token = path.lstrip("/").partition("/")
        pending = self.pending.pop(token.split("?")[0], None)
        if pending is None or pending.kind != kind or pending.expires < time.monotonic():
            return await _refuse(writer, 404, "unknown or expired streaming token")
        upgrade = ",".join(headers.get("upgrade", [])).lower()
        if "spdy/3.1" not in upgrade:
            return await _refuse(writer, 400, "this server streams over SPDY/3.1 (Upgrade: SPDY/3.1)")
        wanted = REMOTECOMMAND if kind in ("exec", "attach") else PORTFORWARD
        offered = [p.strip() for h in headers.get("x-stream-protocol-version", []) for p in h.split(",")]
        if wanted not in offered:
            return await _refuse(
                writer, 403, f"unable to upgrade: unable to negotiate protocol: want {wanted}"
            )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            + f"X-Stream-Protocol-Version: {wanted}\r\n\r\n".encode()
        )
        await writer.drain()
        # Steps 3 and 4.
        connection = SpdyConnection(reader, writer)
        await pending.serve(connection)  # type: ignore[operator]


async def _refuse(writer: asyncio.StreamWriter, code: int, message: str) -> None:
    body = message.encode()
    writer.write(
        f"HTTP/1.1 {code} {message}\r\nContent-Type: text/plain\r\n".encode()
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


class SpdyConnection:
    """A raw SPDY connection as the Kubernetes API's port-forward reads a
    WebSocket tunnel: send_bytes() writes, iterating yields what arrives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def send_bytes(self, data: bytes) -> None:
        # Written before any await: sends started in order arrive in order.
        if not self.writer.is_closing():
            self.writer.write(data)
            await self.writer.drain()

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    def __aiter__(self):
        return self

    async def __anext__(self) -> Message:
        data = await self.reader.read(65536)
        if not data:
            raise StopAsyncIteration
        return Message(data)


class SpdyChannels:
    """The client's SPDY streams as the exec channels of api/pod_exec.py
    (minipod/kube/exec_protocol.py): what the session sends on stdout,
    stderr and status goes to the stdout, stderr and error streams; what
    the client sends on stdin and resize comes back as those channels, and
    the stdin stream's end as an empty stdin message (the client's EOF)."""

    OUT = {STDOUT: "stdout", STDERR: "stderr", STATUS: "error"}

    def __init__(self, connection: SpdyConnection):
        self.connection = connection
        self.session = spdy.Session()
        self.streams: dict[str, int] = {}  # streamtype -> stream id
        self.queue: list[Message] = []  # channel messages read, not yet handed out
        self.closed = False  # the client has closed the connection, or we have

    async def open(self, expected: set[str], timeout: float = 30.0) -> None:
        """Wait until the client has opened the streams EXPECTED (by
        streamtype), as the kubelet waits before it starts the command."""

        async def wait() -> None:
            while not expected <= set(self.streams):
                if not await self._read():
                    raise ConnectionError("the client closed before opening its streams")

        await asyncio.wait_for(wait(), timeout)

    async def _read(self) -> bool:
        """Read and handle one chunk of frames; False at the end."""
        data = await self.connection.reader.read(65536)
        if not data:
            self.closed = True
            return False
        for f in self.session.feed(data):
            if f.control and f.type == spdy.SYN_STREAM:
                self.streams[f.headers.get("streamtype", "")] = f.stream
                await self.connection.send_bytes(self.session.syn_reply(f.stream, {}))
            elif f.control and f.type == spdy.PING:
                await self.connection.send_bytes(self.session.ping(int.from_bytes(f.data[:4], "big")))
            elif not f.control:
                self._data(f)
        return True

    def _data(self, f: spdy.Frame) -> None:
        if f.stream == self.streams.get("stdin"):
            if f.data:
                self.queue.append(Message(bytes([STDIN]) + f.data))
            if f.flags & spdy.FLAG_FIN:
                self.queue.append(Message(bytes([STDIN])))
        elif f.stream == self.streams.get("resize"):
            for line in f.data.splitlines():
                if line.strip():
                    self.queue.append(Message(bytes([RESIZE]) + line))

    async def send_bytes(self, data: bytes) -> None:
        stream = self.streams.get(self.OUT.get(data[0], ""))
        if stream is not None:
            await self.connection.send_bytes(self.session.data(stream, data[1:]))

    async def close(self) -> None:
        self.closed = True
        for kind in ("stdout", "stderr", "error"):
            if kind in self.streams:
                await self.connection.send_bytes(self.session.data(self.streams[kind], b"", fin=True))
        await self.connection.close()

    def __aiter__(self):
        return self

    async def __anext__(self) -> Message:
        while not self.queue:
            if not await self._read():
                raise StopAsyncIteration
        return self.queue.pop(0)

    async def receive(self) -> Message:
        """The next message, as a WebSocket's receive(); CLOSED at the end."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            return Message(b"", WSMsgType.CLOSED)


def expected_streams(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> set[str]:
    """The streams a remotecommand client opens, as the kubelet counts them:
    always error; stderr only without a tty; resize only with one."""
    found = {"error"}
    found |= {"stdin"} if stdin else set()
    found |= {"stdout"} if stdout else set()
    found |= {"stderr"} if stderr and not tty else set()
    found |= {"resize"} if tty else set()
    return found


class CriLogChannels:
    """Attach's relay reads the container's log file; a CRI container's
    is in the CRI log format ("TIME STREAM P|F TEXT" lines). This wrapper
    of SpdyChannels turns those lines back into the container's output, on
    the stream it was written to (a P line's text has no newline)."""

    def __init__(self, channels: SpdyChannels):
        self.channels = channels
        self.partial = b""

    @property
    def closed(self) -> bool:
        return self.channels.closed

    async def receive(self) -> Message:
        return await self.channels.receive()

    async def close(self) -> None:
        await self.channels.close()

    async def send_bytes(self, data: bytes) -> None:
        if data[0] != STDOUT:
            return await self.channels.send_bytes(data)
        *lines, self.partial = (self.partial + data[1:]).split(b"\n")
        for line in lines:
            fields = line.split(b" ", 3)
            if len(fields) < 4 and not (len(fields) == 3 and fields[2] in (b"P", b"F")):
                continue  # not a CRI log line
            channel = STDERR if fields[1] == b"stderr" else STDOUT
            text = fields[3] if len(fields) == 4 else b""
            await self.channels.send_bytes(bytes([channel]) + text + (b"\n" if fields[2] == b"F" else b""))
