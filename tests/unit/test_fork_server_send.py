"""The fork server's request queue (linux/fork_server.py): a burst of
requests larger than the socket's buffer all reach the server. Before
ForkServer._sending, a second request waiting for room replaced the first
one's writer callback, and the first waited forever (pods stuck in
ContainerCreating in a 50-pod file)."""

import asyncio
import os
import socket

from minipod.linux.fork_server import ForkServer, _receive


def test_a_burst_larger_than_the_socket_buffer_all_arrives():
    async def main() -> list[bytes]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        ours.setblocking(False)
        theirs.settimeout(5)  # a request that never comes fails the test, never hangs it
        server = ForkServer()
        server._sock = ours  # a server that reads only when told to
        plan = {"filler": "x" * 3000}  # a few requests fill the buffer
        pipes = [os.pipe() for _ in range(12)]
        sends = [
            asyncio.ensure_future(server.request("container", dict(plan, n=i), [w]))
            for i, (_, w) in enumerate(pipes)
        ]
        await asyncio.sleep(0.05)
        assert not all(s.done() for s in sends), "the buffer never filled: the test proves nothing"
        got = []
        loop = asyncio.get_running_loop()
        while len(got) < len(sends):
            message, fds = await asyncio.wait_for(loop.run_in_executor(None, _receive, theirs), 5)
            got.append(message)
            for fd in fds:
                os.close(fd)
        await asyncio.wait_for(asyncio.gather(*sends), 5)
        for r, _ in pipes:
            os.close(r)
        ours.close()
        theirs.close()
        return got

    assert len(asyncio.run(main())) == 12
