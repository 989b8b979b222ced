"""Port-forward over a WebSocket, in the kubelet's channel protocol
(what the official clients speak: subprotocol v4.channel.k8s.io).

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

from aiohttp import WSMsgType, web

from minipod.api.status import StatusError
from minipod.pod.handlers import _connect

PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io", "channel.k8s.io")


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
    ports = ports_of(request)
    netns = netns_of(worker)
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
