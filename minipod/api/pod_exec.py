"""`minipod exec`: run a command in a running container, over a WebSocket.

The wire protocol is Kubernetes' own (v4.channel.k8s.io): one byte naming
the channel, then the data (minipod.kube.exec_protocol).

Steps:
    1. find the container and its running process; the command joins that
       process's namespaces (net, ipc, uts, pid and its own mnt), with its
       user, environment and working directory and the container's
       capabilities (minipod.linux.exec_session, forked by the fork server);
    2. with tty, a pseudo-terminal: the command gets the slave as its
       controlling terminal, the daemon relays the master; without, pipes;
    3. relay until the command exits and its output is drained, then send
       the exit status on channel 3 and close.
"""

import asyncio
import fcntl
import json
import os
import struct
import termios

from aiohttp import WSMsgType, web

from minipod.errors import MinipodError
from minipod.kube.exec_protocol import CLOSE, PROTOCOLS, RESIZE, STATUS, STDERR, STDIN, STDOUT
from minipod.linux import exec_session
from minipod.linux import launch as process
from minipod.linux import sandbox as namespaces
from minipod.pod import handlers
from minipod.pod.manager import pick_container


async def pod_exec(request):
    manager = request.app["manager"]
    q = request.query
    worker = manager.worker(request.match_info["ns"], request.match_info["name"])
    c = pick_container(worker, q.get("container"))
    argv = q.getall("command", [])
    if not argv:
        raise MinipodError("you must specify at least one command for the container")
    if c.state != "running" or not namespaces.alive(c.process.pid, c.process.start):
        raise MinipodError(
            f"cannot exec into container {c.name!r}: it is not running ({c.state.value})",
            hint=f"see: minipod describe pod {worker.record.metadata['name']}",
        )
    tty = q.get("tty") in ("true", "1")
    want_stdin = q.get("stdin") in ("true", "1")
    plan = handlers.exec_plan(worker.record, c, argv, tty, manager.node)

    ws = web.WebSocketResponse(protocols=PROTOCOLS)
    await ws.prepare(request)
    session = ExecSession(plan, tty, want_stdin)
    try:
        await session.run(ws)
    finally:
        session.close()
    return ws


TIOCSPTLCK = 0x40045431  # unlock a pty's slave (pty(7))
TIOCGPTPEER = 0x5441  # open the slave of this master, whatever its mount


def container_pty(pid: int) -> tuple[int, int]:
    """A pseudo-terminal from the container's own devpts, so that `tty` in
    the container names a /dev/pts/N that exists there (a host pty would
    not)."""
    master = os.open(f"/proc/{pid}/root/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    return master, slave


class ExecSession:
    def __init__(self, plan: dict, tty: bool, want_stdin: bool):
        self.plan, self.tty, self.want_stdin = plan, tty, want_stdin
        self.fds: list[int] = []

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []

    async def run(self, ws: web.WebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        if self.tty:
            master, slave = container_pty(self.plan["pid"])
            child_stdio, self.stdin_w, outputs = (slave, slave, slave), master, {master: STDOUT}
            self.fds.append(master)
        else:
            in_r, in_w = os.pipe() if self.want_stdin else (os.open("/dev/null", os.O_RDONLY), -1)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            child_stdio, self.stdin_w = (in_r, out_w, err_w), in_w
            outputs = {out_r: STDOUT, err_r: STDERR}
            self.fds += [fd for fd in (in_w, out_r, err_r) if fd >= 0]
        session = await exec_session.spawn_exec(self.plan, child_stdio)
        for fd in set(child_stdio):
            os.close(fd)
        for fd in outputs:
            os.set_blocking(fd, False)
        drained = {fd: asyncio.Event() for fd in outputs}

        def readable(fd: int) -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""  # EIO: the pty's last slave fd closed
            if data:
                loop.create_task(ws.send_bytes(bytes([outputs[fd]]) + data))
            else:
                loop.remove_reader(fd)
                drained[fd].set()

        for fd in outputs:
            loop.add_reader(fd, readable, fd)
        reader = loop.create_task(self.client_input(ws))
        code = await session.wait()
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in drained.values())), 2.0)
        except asyncio.TimeoutError:
            pass
        for fd in outputs:
            loop.remove_reader(fd)
        report = process.LaunchResult(await process.read_to_eof(session.errors))
        if report.reason:
            await ws.send_bytes(bytes([STDERR]) + f"minipod: {report.message}\n".encode())
            code = (
                127
                if "not found" in (report.message or "") or "no such file" in (report.message or "")
                else 126
            )
        reader.cancel()
        await ws.send_bytes(bytes([STATUS]) + json.dumps(exit_status(code)).encode())
        await ws.close()

    async def client_input(self, ws: web.WebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], msg.data[1:]
            if channel == CLOSE and data[:1] == bytes([STDIN]):
                channel, data = STDIN, b""  # the same as v4's empty stdin message
            if channel == STDIN and self.stdin_w >= 0:
                if data:
                    # A blocking write: it stalls the loop only when the
                    # pipe's 64 KiB buffer is full (the command reads none).
                    os.write(self.stdin_w, data)
                elif not self.tty:  # an empty stdin message: the client's EOF
                    os.close(self.stdin_w)
                    self.fds.remove(self.stdin_w)
                    self.stdin_w = -1
            elif channel == RESIZE and self.tty:
                size = json.loads(data)
                fcntl.ioctl(
                    self.stdin_w,
                    termios.TIOCSWINSZ,
                    struct.pack("HHHH", size.get("Height", 24), size.get("Width", 80), 0, 0),
                )


def exit_status(code: int) -> dict:
    """The v1 Status kubectl expects on channel 3."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": f"command terminated with non-zero exit code: {code}",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }
