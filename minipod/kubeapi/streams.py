"""The pod streams on the HTTPS API: log, exec, attach, port-forward.

Each checks who asks (auth.authorize: a ServiceAccount may read logs but
not exec) and then uses the daemon's own handlers:
    log          api/pod_logs.py (follow, previous, tailLines, sinceSeconds,
                 timestamps, limitBytes, container)
    exec         api/pod_exec.py, WebSocket v5.channel.k8s.io or v4
    attach       the container's output as it is written (its log file),
                 over the same channel protocol, until the container ends;
                 stdin into the FIFO its monitor passes on to the container
    portforward  portforward.py
"""

import asyncio
import json
import os

from aiohttp import web

from minipod.api import pod_exec
from minipod.kubeapi import auth
from minipod.kubeapi.rest import Target
from minipod.objects.resources import builtin
from minipod.paths import stdin_fifo_path

PODS = builtin("", "v1", "pods")


def _authorize(request, sub: str) -> None:
    auth.authorize(request, Target(PODS, request.match_info["ns"], request.match_info["name"], sub))


def guarded(handler):
    async def checked(request):
        _authorize(request, "log")
        return await handler(request)

    return checked


async def exec_(request):
    _authorize(request, "exec")
    return await pod_exec.pod_exec(request)


async def attach(request):
    """kubectl attach: what the container writes from now on, on channel 1
    (stdout and stderr go to one log file), until the container stops; with
    stdin=true and a `stdin: true` container, channel 0 goes to its stdin
    (through the FIFO its monitor reads: linux/launch.py)."""
    _authorize(request, "attach")
    manager = request.app["manager"]
    ns, name = request.match_info["ns"], request.match_info["name"]
    path, c = manager.log_path(ns, name, request.query.get("container"), False)
    ws = web.WebSocketResponse(protocols=pod_exec.PROTOCOLS)
    await ws.prepare(request)
    worker = manager.worker(ns, name)
    await relay_attach(ws, path, c, worker, request.query.get("stdin") in ("true", "1"))
    return ws


async def relay_attach(ws, path: str, c, worker, want_stdin: bool) -> None:
    """Attach's relay over WS (a WebSocket here, the CRI's SPDY streams in
    minipod/cri/streaming.py): the log file PATH from its end on, stdin
    into the container's FIFO, until the container stops; then a Success
    status, and close."""
    stdin = _open_stdin(path) if want_stdin else -1
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            while not ws.closed:
                data = f.read(65536)
                if data:
                    await ws.send_bytes(bytes([pod_exec.STDOUT]) + data)
                    continue
                if c.state != "running" or worker.finished.is_set():
                    break
                try:
                    msg = await asyncio.wait_for(ws.receive(), 0.1)
                except asyncio.TimeoutError:
                    continue
                if (
                    msg.type == web.WSMsgType.BINARY
                    and msg.data[:1] == bytes([pod_exec.STDIN])
                    and stdin >= 0
                ):
                    if len(msg.data) > 1:
                        await _write_fifo(stdin, msg.data[1:])
                    else:  # the client's EOF: with stdinOnce, the container's too
                        os.close(stdin)
                        stdin = -1
                # resize: the terminal's size stays.
        # Success, whatever the container's exit code: the kubelet's attach
        # reports only whether attaching worked (kubectl run --rm -i then
        # reads the code from the pod's status, "terminated (Error)").
        await ws.send_bytes(bytes([pod_exec.STATUS]) + json.dumps(pod_exec.exit_status(0)).encode())
    except (ConnectionResetError, RuntimeError):
        pass
    finally:
        if stdin >= 0:
            os.close(stdin)
    await ws.close()


def _open_stdin(log_path: str) -> int:
    """The container's stdin FIFO for writing, or -1 (a container without
    `stdin: true` has none: attach -i then only shows its output)."""
    try:
        return os.open(stdin_fifo_path(log_path), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return -1


async def _write_fifo(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:  # the monitor has not read the last piece yet
            await asyncio.sleep(0.01)


async def portforward(request):
    _authorize(request, "portforward")
    from minipod.kubeapi import portforward as pf

    return await pf.serve(request)
