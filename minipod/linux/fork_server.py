"""The fork server: a small process that forks every container, sandbox and exec session.

Why not fork the daemon? fork() copies the calling process's page tables
and marks its memory copy-on-write: the bigger the process, the longer the
call, and the daemon's event loop stands still while it runs (see FIGURES).
The daemon is a big Python process (its heap grows with every pod), so
each container used to cost three forks of it (L1, L2, C in launch.py).
The fork server is started with the daemon from a fresh interpreter that
imports only what container setup needs (launch.py and the modules it
uses); its children are copies of that small process.

Why not move container setup into the static C shim (as crun does for
conmon)? A fork of the small server costs 0.4 ms, a posix_spawn() of the
static shim 0.05-0.1 ms: the C route would save about 1 ms of three forks
per container, against a launch of ~10 ms that is mostly the setup steps
themselves (the same syscalls in either language). That is not worth
moving cgroups, rootfs, capabilities and seccomp out of Python, where a
student reads them. So the setup stays in Python, in the server's children.

FIGURES (bench/bench_launch.py on the 2-core build machine: launch() of a
container of /bin/true in a new pid namespace, default capabilities and
seccomp filter, median of 60; "stall" is the longest the event loop stood
still for one launch; 80 MiB is above the 54 MiB PSS bench/bench_probes.py
measures for a daemon with 100 pods running, 150 MiB the density goal's
ceiling at 500 pods):
                               daemon RSS 80 MiB    daemon RSS 150 MiB
    fork the daemon (before)   17.3 ms, stall 2.1   26.9 ms, stall 3.6
    ask the fork server        10.4 ms, stall 0.27  12.0 ms, stall 0.28
    fork()+_exit() alone: of the daemon 1.4 ms (80 MiB) / 2.3 ms (150 MiB),
    of the server (22 MiB RSS) 0.4 ms; posix_spawn() of the shim 0.05 ms.

Steps:
    daemon  start(): a socketpair (SOCK_SEQPACKET: one message per request,
            never merged), and `python -I -m minipod.linux.fork_server FD`
            spawned (posix_spawn: no copy of the daemon) with the other end.
    daemon  request(kind, plan, fds): one message, the plan pickled (a dict
            of the daemon's own making, between two root processes over a
            private socketpair) and the report pipe's write end (plus, for
            a sandbox, its go pipe) passed as SCM_RIGHTS; then it closes
            its copies and reads the report pipe as before.
    server  for each message: fork(); the child runs the same stage the
            daemon's child used to run (launch._l1 for a container, which
            forks L2 and exits, so containers are orphaned to the host's
            init and have their monitors as parents exactly as before;
            sandbox._sandbox_child for a pod sandbox; exec_session.run_e1
            for an exec session, whose E1 stays the server's child); the server closes the
            descriptors and reaps its children on SIGCHLD.
    server  exits when the daemon's end closes (the daemon stopped or was
            killed): running containers never depended on it.
    daemon  watches the server's pidfd; a server that died is reaped and a
            new one is started for the next request.
"""

import array
import asyncio
import os
import pickle
import signal
import socket
import subprocess
import sys

from minipod import trace

# A request is small (a plan with its seccomp program: a few KiB); a larger
# buffer would only hide a runaway plan.
MAX_REQUEST = 1 << 20
CONTAINER, SANDBOX, EXEC = "container", "sandbox", "exec"


# --- the daemon's side --------------------------------------------------------------


class ForkServer:
    """The daemon's handle on its fork server (one per daemon)."""

    def __init__(self) -> None:
        self.pid = 0
        self._sock: socket.socket | None = None
        # One request on its way at a time: see _send.
        self._sending = asyncio.Lock()

    def start(self) -> None:
        """Spawn the server if it is not running (at the daemon's start, and
        again after it died)."""
        if self._sock is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            child = subprocess.Popen(
                [sys.executable, "-I", "-m", "minipod.linux.fork_server", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                cwd="/",
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self.pid, self._sock = child.pid, ours
        self._watch(child)

    def _watch(self, child: subprocess.Popen) -> None:
        """Reap the server when it exits, and forget it: the next request
        starts a new one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started outside the event loop (a test, the bench): reaped at exit
        fd = os.pidfd_open(child.pid)

        def exited() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            child.wait()
            if self.pid == child.pid:
                self.stop()

        loop.add_reader(fd, exited)

    def stop(self) -> None:
        """Close our end: the server sees EOF and exits."""
        if self._sock is not None:
            self._sock.close()
        self._sock, self.pid = None, 0

    async def request(self, kind: str, plan: dict, fds: list[int]) -> None:
        """Hand one start to the server; `fds` are sent, then closed here.
        Raises OSError if the server cannot be reached."""
        message = pickle.dumps((kind, plan, trace.carry()))
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        try:
            async with self._sending:
                for attempt in (1, 2):  # a server that died is restarted once
                    self.start()
                    assert self._sock is not None
                    try:
                        await _send(self._sock, message, rights)
                        return
                    except (BrokenPipeError, ConnectionResetError):
                        self.stop()
                        if attempt == 2:
                            raise
        finally:
            for fd in fds:
                os.close(fd)


async def _send(sock: socket.socket, message: bytes, rights: list) -> None:
    """sendmsg() without blocking the event loop: a full socket buffer (a
    burst of starts) waits for the server to read. One caller at a time
    (ForkServer._sending): the event loop keeps one writer callback per
    descriptor, so a second caller waiting here would replace the first's
    callback, and the first would wait forever."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            sock.sendmsg([message], rights)
            return
        except BlockingIOError:
            writable = loop.create_future()
            loop.add_writer(sock.fileno(), _settle, writable)
            try:
                await writable
            finally:
                loop.remove_writer(sock.fileno())


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


_server = ForkServer()


def start() -> None:
    """Start this daemon's fork server (api/daemon.py, at its start)."""
    _server.start()


def server() -> ForkServer:
    return _server


# --- the server's side --------------------------------------------------------------


def serve(sock: socket.socket) -> None:
    """The server's loop (single-threaded: it only forks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C at the daemon's terminal: the daemon decides
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        request = _receive(sock)
        if request is None:
            return  # the daemon's end closed
        message, fds = request
        kind = CONTAINER  # until the message says otherwise
        try:
            kind, plan, carried = pickle.loads(message)
            pid = os.fork()
        except Exception as e:  # noqa: BLE001 - said on the report pipe; the server goes on
            why = f"fork: {e.strerror}" if isinstance(e, OSError) else f"internal error: {e}"
            _report_failure(kind, fds, why)
            pid = -1
        if pid == 0:
            _child(sock, kind, plan, carried, fds)
        for fd in fds:
            os.close(fd)


def _receive(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """One request: the pickled plan and the descriptors that came with it."""
    fds = array.array("i")
    # MSG_CMSG_CLOEXEC: the descriptors arrive close-on-exec, as the daemon
    # made them: a monitor that kept the report pipe would hold its EOF back
    # forever.
    message, ancillary, _, _ = sock.recvmsg(
        MAX_REQUEST, socket.CMSG_SPACE(8 * fds.itemsize), socket.MSG_CMSG_CLOEXEC
    )
    if not message:
        return None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return message, list(fds)


def _child(sock: socket.socket, kind: str, plan: dict, carried, fds: list[int]) -> None:
    """The forked child: the stage the daemon's own child used to run."""
    from minipod.linux import exec_session, launch, sandbox

    # Before anything else: only the server reaps on SIGCHLD, never a stage
    # (L2 must leave its container to the monitor).
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sock.close()
    trace.resume(carried)
    if kind == CONTAINER:
        launch._guard(launch._l1, plan, fds[0])
    elif kind == EXEC:
        exec_session.run_e1(plan, fds)
    else:
        sandbox._sandbox_child(plan, plan["shim"], fds[0], fds[1])
    os._exit(127)  # never reached: each stage exits or execs


def _report_failure(kind: str, fds: list[int], why: str) -> None:
    """The request never reached a stage: say so on its report pipe, in the
    words its reader expects (launch.LaunchResult, sandbox.create_sandbox)."""
    from minipod.linux import launch

    if kind == EXEC:
        line = f"ERR {launch.CREATE_ERROR}\tstart the exec session: {why}"
    elif kind == CONTAINER:
        line = f"ERR {launch.CREATE_ERROR}\tstart the launcher: {why}"
    else:
        line = f"ERR {why}"
    if fds:
        try:
            os.write(fds[0], f"{line}\n".encode())
        except OSError:
            pass


def _reap(signum, frame) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    from minipod.linux import exec_session, launch, sandbox  # noqa: F401 - imported once, before any fork

    serve(socket.socket(fileno=int(sys.argv[1])))
