"""The cluster DNS server: UDP and TCP on the bridge's gateway, port 53,
on the daemon's event loop (dnslib reads and writes the messages).

Steps of one query, in order:
    1. parse it (a message that does not parse is dropped, as a server
       does with garbage);
    2. a name in cluster.local: answer from the store's Services and
       EndpointSlices (dns_answers.py), authoritative, the SOA with
       NXDOMAIN and NODATA;
    3. any other name: forward the query as is to the host's resolvers
       (/etc/resolv.conf, in order, 2 s each) and relay their answer;
       none answering: SERVFAIL.
The sockets are bound with IP_FREEBIND: the gateway address exists only
once the bridge does (at the first pod).
"""

import asyncio
import socket
import struct

from dnslib import CNAME, QTYPE, RCODE, RR, SOA, SRV, A, DNSRecord

from minipod.objects.resources import builtin
from minipod.services import dns_answers

IP_FREEBIND = 15
PORT = 53
FORWARD_TIMEOUT = 2.0


def host_resolvers(path: str = "/etc/resolv.conf", skip: str = "") -> list[str]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver" and words[1] != skip:
                    out.append(words[1])
    except OSError:
        pass
    return out


def reply_for(request: DNSRecord, found: dns_answers.Answer) -> bytes:
    """Step 2: the authoritative answer as a DNS message."""
    reply = request.reply()
    reply.header.aa = 1
    for r in found.records:
        if r.type == "A":
            rdata = A(r.value)
        elif r.type == "CNAME":
            rdata = CNAME(r.value)
        else:
            rdata = SRV(priority=0, weight=100, port=r.port, target=r.value)
        reply.add_answer(RR(r.name, getattr(QTYPE, r.type), rdata=rdata, ttl=dns_answers.TTL))
    if found.nxdomain:
        reply.header.rcode = RCODE.NXDOMAIN
    if found.nxdomain or not found.records:
        mname, rname, *times = dns_answers.SOA
        soa = SOA(mname, rname, (1, *times))
        reply.add_auth(RR(dns_answers.DOMAIN + ".", QTYPE.SOA, rdata=soa, ttl=dns_answers.TTL))
    return reply.pack()


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, done: asyncio.Future):
        self.done = done

    def datagram_received(self, data: bytes, addr) -> None:
        if not self.done.done():
            self.done.set_result(data)


class DnsServer:
    def __init__(self, store, address: str, log=print):
        self.store, self.address, self.log = store, address, log
        self.upstreams = host_resolvers(skip=address)
        self.services = builtin("", "v1", "services")
        self.slices = builtin("discovery.k8s.io", "v1", "endpointslices")
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.udp, _ = await loop.create_datagram_endpoint(
            lambda: _Listener(self), sock=_bound(self.address, socket.SOCK_DGRAM)
        )
        self.tcp = await asyncio.start_server(self._serve_tcp, sock=_bound(self.address, socket.SOCK_STREAM))

    def close(self) -> None:
        if self.udp is not None:
            self.udp.close()
        if self.tcp is not None:
            self.tcp.close()

    async def handle(self, data: bytes) -> bytes | None:
        try:
            request = DNSRecord.parse(data)  # step 1
        except Exception:  # noqa: BLE001 - dnslib raises several kinds on garbage
            return None
        if not request.questions:
            return None
        q = request.questions[0]
        found = dns_answers.answer(
            str(q.qname),
            QTYPE.get(q.qtype),
            self.store.objects[self.services.key],
            list(self.store.objects[self.slices.key].values()),
        )
        if not found.forward:
            return reply_for(request, found)  # step 2
        for upstream in self.upstreams:  # step 3
            answer = await self._forward(data, upstream)
            if answer is not None:
                return answer
        reply = request.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return reply.pack()

    async def _forward(self, data: bytes, upstream: str) -> bytes | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Upstream(done), remote_addr=(upstream, PORT)
            )
        except OSError:
            return None
        try:
            transport.sendto(data)
            return await asyncio.wait_for(done, FORWARD_TIMEOUT)
        except (asyncio.TimeoutError, OSError):
            return None
        finally:
            transport.close()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                answer = await self.handle(await reader.readexactly(size))
                if answer is None:
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        asyncio.ensure_future(self._answer(data, addr))

    async def _answer(self, data: bytes, addr) -> None:
        answer = await self.server.handle(data)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


def _bound(address: str, kind: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    try:
        sock.bind((address, PORT))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
