"""The CRI's streaming server (minipod/cri/streaming.py) on loopback: the
upgrade handshake as the kubelet's, single-use tokens, and SPDY streams
turned into the exec channels (a client built from kubeapi/spdy.py)."""

import asyncio
import struct

from minipod.cri import streaming
from minipod.kube.exec_protocol import STATUS, STDERR, STDIN, STDOUT
from minipod.kubeapi import spdy


def upgrade_request(url: str, protocol: str) -> bytes:
    path = "/" + url.split("/", 3)[3]
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        f"X-Stream-Protocol-Version: {protocol}\r\nX-Stream-Protocol-Version: channel.k8s.io\r\n\r\n"
    ).encode()


def syn_stream(session: spdy.Session, stream: int, headers: dict[str, str]) -> bytes:
    body = struct.pack("!IIH", stream, 0, 0) + session._block(headers)
    return session._frame(spdy.SYN_STREAM, 0, body)


async def connect(url: str, protocol: str):
    host, port = url.split("/")[2].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(upgrade_request(url, protocol))
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head.decode()


def test_handshake_and_single_use_tokens():
    async def main():
        server = streaming.StreamServer(log=lambda m: None)
        served = []

        async def serve(connection):
            served.append(connection)

        url = await server.url("exec", serve)
        assert url.startswith("http://127.0.0.1:") and "/exec/" in url
        _, writer, head = await connect(url, "v4.channel.k8s.io")
        assert head.startswith("HTTP/1.1 101 Switching Protocols")
        assert "Upgrade: SPDY/3.1" in head and "X-Stream-Protocol-Version: v4.channel.k8s.io" in head
        writer.close()
        # The token is spent: a second use is refused.
        _, writer, head = await connect(url, "v4.channel.k8s.io")
        assert head.startswith("HTTP/1.1 404")
        writer.close()
        # A protocol the server does not speak is refused as the kubelet does.
        url = await server.url("portforward", serve)
        _, writer, head = await connect(url, "v4.channel.k8s.io")
        assert head.startswith("HTTP/1.1 403") and "unable to negotiate protocol" in head
        writer.close()
        await server.stop()
        assert len(served) == 1

    asyncio.run(main())


def test_spdy_streams_become_exec_channels():
    async def main():
        server = streaming.StreamServer(log=lambda m: None)

        async def serve(connection):
            channels = streaming.SpdyChannels(connection)
            await channels.open(streaming.expected_streams(True, True, False, False))
            got = b""
            async for msg in channels:
                assert msg.data[0] == STDIN
                if len(msg.data) == 1:  # the client's EOF
                    break
                got += msg.data[1:]
            await channels.send_bytes(bytes([STDOUT]) + got.upper())
            await channels.send_bytes(bytes([STATUS]) + b'{"status":"Success"}')
            await channels.close()

        url = await server.url("exec", serve)
        reader, writer, head = await connect(url, "v4.channel.k8s.io")
        client = spdy.Session()
        for stream, kind in ((1, "error"), (3, "stdin"), (5, "stdout")):
            writer.write(syn_stream(client, stream, {"streamtype": kind}))
        writer.write(client.data(3, b"hello ") + client.data(3, b"there", fin=True))
        frames, data = [], b""
        while chunk := await reader.read(65536):
            data += chunk
        frames = client.feed(data)
        replies = [f.stream for f in frames if f.control and f.type == spdy.SYN_REPLY]
        assert replies == [1, 3, 5]
        out = b"".join(f.data for f in frames if not f.control and f.stream == 5)
        error = b"".join(f.data for f in frames if not f.control and f.stream == 1)
        assert out == b"HELLO THERE" and error == b'{"status":"Success"}'
        assert all(f.flags & spdy.FLAG_FIN for f in frames if not f.control and not f.data)
        writer.close()
        await server.stop()

    asyncio.run(main())


def test_expected_streams_as_the_kubelet_counts_them():
    assert streaming.expected_streams(False, True, True, False) == {"error", "stdout", "stderr"}
    assert streaming.expected_streams(True, True, False, True) == {"error", "stdin", "stdout", "resize"}


def test_cri_log_lines_become_the_containers_output():
    class Sink:
        closed = False

        def __init__(self):
            self.sent: list[bytes] = []

        async def send_bytes(self, data: bytes) -> None:
            self.sent.append(data)

    async def main():
        sink = Sink()
        decode = streaming.CriLogChannels(sink)  # type: ignore[arg-type]
        await decode.send_bytes(bytes([STDOUT]) + b"2026-11-26T18:00:00.1Z stdout F hello\n2026-11-26T18:")
        await decode.send_bytes(
            bytes([STDOUT]) + b"00:00.2Z stderr P part\n2026-11-26T18:00:00.3Z stdout F \n"
        )
        await decode.send_bytes(bytes([STATUS]) + b"{}")
        return sink.sent

    assert asyncio.run(main()) == [
        bytes([STDOUT]) + b"hello\n",
        bytes([STDERR]) + b"part",
        bytes([STDOUT]) + b"\n",
        bytes([STATUS]) + b"{}",
    ]
