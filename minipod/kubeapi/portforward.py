"""Port-forward over a WebSocket, in the two protocols clients speak:

SPDY tunneled in the WebSocket (subprotocol SPDY/3.1+portforward.k8s.io),
    what kubectl 1.31+ sends (spdy.py reads and writes the frames): for
    each connection kubectl opens two SPDY streams, "error" and "data",
    naming the port and a request id in their headers; serve_spdy()
    answers both, connects, and relays the data stream both ways;
the kubelet's channel protocol (subprotocol v4.channel.k8s.io), what the
    official Python client speaks, described here:

`?ports=8080&ports=9090`: each port i gets two channels, data (2i) and
error (2i+1). Steps of serve(), in order:
    1. for each port, connect to 127.0.0.1:PORT from inside the pod's
       network namespace (handlers._connect: a socket made there), as the
       kubelet does, so a port the pod listens on only on localhost works;
    2. send on every channel its port (2 bytes, little-endian), which is
       how the client learns that the stream is open;
    3. relay: a message on a data channel goes to that port's socket, what
       the socket sends comes back on the data channel; an error (the
       connection refused) goes on the error channel as text.
"""

import asyncio
import socket
import struct

from aiohttp import WSMsgType, web

from minipod.api.status import StatusError
from minipod.kubeapi import spdy
from minipod.pod.handlers import _connect

SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"
PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io", "channel.k8s.io")
CHUNK = 32 * 1024


def ports_of(request) -> list[int]:
    ports = []
    for raw in request.query.getall("ports", []):
        for p in raw.split(","):
            if not p.strip().isdigit() or not 0 < int(p) < 65536:
                raise StatusError(400, f'invalid port "{p}": ports must be between 1 and 65535')
            ports.append(int(p))
    if not ports:
        raise StatusError(400, "query parameter ports is required: at least one port to forward")
    return ports


def netns_of(worker) -> str | None:
    if worker.record.spec.get("hostNetwork"):
        return None
    net = worker.rt.network
    if net.state != "ready" or not net.netns:
        raise StatusError(
            400, f'pod "{worker.record.metadata["name"]}" has no network yet: it is not running'
        )
    return net.netns


async def serve(request):
    manager = request.app["manager"]
    worker = manager.worker(request.match_info["ns"], request.match_info["name"])
    netns = netns_of(worker)
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if SPDY_TUNNEL in offered:
        ws = web.WebSocketResponse(protocols=(SPDY_TUNNEL,))
        await ws.prepare(request)
        await serve_spdy(ws, worker.record.metadata["name"], netns)
        return ws
    ports = ports_of(request)
    ws = web.WebSocketResponse(protocols=PROTOCOLS)
    await ws.prepare(request)
    socks: dict[int, object] = {}
    loop = asyncio.get_running_loop()
    pumps = []
    for i, port in enumerate(ports):
        header = port.to_bytes(2, "little")
        await ws.send_bytes(bytes([2 * i]) + header)
        await ws.send_bytes(bytes([2 * i + 1]) + header)
        try:
            sock = await _connect(netns, "127.0.0.1", port, 5.0)
        except (OSError, asyncio.TimeoutError) as e:
            text = f"error forwarding port {port} to pod {worker.record.metadata['name']}: {e}"
            await ws.send_bytes(bytes([2 * i + 1]) + text.encode())
            continue
        socks[i] = sock
        pumps.append(loop.create_task(_pump(loop, sock, ws, 2 * i)))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], msg.data[1:]
            sock = socks.get(channel // 2)
            if channel % 2 == 0 and sock is not None and data:
                await loop.sock_sendall(sock, data)
    finally:
        for p in pumps:
            p.cancel()
        for sock in socks.values():
            sock.close()
    return ws


async def _pump(loop, sock, ws, channel: int) -> None:
    try:
        while True:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                break
            await ws.send_bytes(bytes([channel]) + data)
    except (OSError, ConnectionResetError):
        pass
    await ws.close()


class Forward:
    """One forwarded connection: its two SPDY streams and its socket."""

    def __init__(self, port: int):
        self.port = port
        self.data = self.error = 0
        self.sock: socket.socket | None = None
        self.pump: asyncio.Task | None = None


async def serve_spdy(ws, name: str, netns: str | None) -> None:
    """Port-forward for the pod NAME (its network namespace NETNS, None for
    the host's) over a SPDY session: in a WebSocket here, on a raw
    connection in the CRI's streaming server (minipod/cri/streaming.py)."""
    session = spdy.Session()
    loop = asyncio.get_running_loop()
    forwards: dict[str, Forward] = {}
    by_stream: dict[int, Forward] = {}

    async def open_forward(fw: Forward) -> None:
        try:
            fw.sock = await _connect(netns, "127.0.0.1", fw.port, 5.0)
        except (OSError, asyncio.TimeoutError) as e:
            text = f"error forwarding port {fw.port} to pod {name}: {e}"
            await ws.send_bytes(session.data(fw.error, text.encode(), fin=True))
            await ws.send_bytes(session.data(fw.data, b"", fin=True))
            return
        fw.pump = loop.create_task(pump(fw))

    async def pump(fw: Forward) -> None:
        sock = fw.sock
        if sock is None:  # cannot be: a pump starts once the socket is open
            return
        try:
            while True:
                chunk = await loop.sock_recv(sock, CHUNK)
                if not chunk:
                    break
                await ws.send_bytes(session.data(fw.data, chunk))
            await ws.send_bytes(session.data(fw.data, b"", fin=True))
        except (OSError, ConnectionResetError, RuntimeError):
            pass

    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            for f in session.feed(msg.data):
                if f.control and f.type == spdy.SYN_STREAM:
                    kind, rid = f.headers.get("streamtype"), f.headers.get("requestid", "")
                    port = int(f.headers.get("port", "0") or 0)
                    await ws.send_bytes(session.syn_reply(f.stream, {}))
                    fw = forwards.setdefault(rid, Forward(port))
                    if kind == "data":
                        fw.data = f.stream
                    elif kind == "error":
                        fw.error = f.stream
                    by_stream[f.stream] = fw
                    if fw.data and fw.error and fw.sock is None:
                        await open_forward(fw)
                elif f.control and f.type == spdy.PING:
                    await ws.send_bytes(session.ping(struct.unpack("!I", f.data[:4])[0]))
                elif f.control and f.type == spdy.RST_STREAM:
                    reset = by_stream.get(f.stream)
                    if reset and reset.sock:
                        reset.sock.close()
                elif not f.control:
                    to = by_stream.get(f.stream)
                    if to is None or to.sock is None or f.stream != to.data:
                        continue
                    if f.data:
                        await loop.sock_sendall(to.sock, f.data)
                    if f.flags & spdy.FLAG_FIN:
                        to.sock.shutdown(socket.SHUT_WR)
    finally:
        for fw in forwards.values():
            if fw.pump:
                fw.pump.cancel()
            if fw.sock:
                fw.sock.close()
