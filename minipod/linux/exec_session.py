"""exec sessions: a command started inside a running container.

`minipod exec`, `kubectl exec`, exec probes and hooks, and the CRI's
ExecSync all start a process this way. Like a container (launch.py), an
exec session is forked by the fork server, never by the daemon: a fork of
the daemon's big process would stand its event loop still for milliseconds
per probe, and a daemon that never forks may use threads.

Steps, each in its own process:
    daemon  spawn_exec(): two pipes, the error pipe (as a container's report
            pipe: "ERR reason<TAB>message" if a step failed, EOF once the
            command exec'd) and the status pipe; hands the plan, the
            command's stdio and both write ends to the fork server.
    server  fork() -> E1, and reap it when it exits.
    E1      PR_SET_PDEATHSIG: it dies with the fork server, which exits when
            the daemon does (the daemon relays the session's output: a
            session outliving it would be a process nobody reads); writes
            "PID n" on the status pipe; joins the container's cgroups (as
            runc exec does: before the mount namespace hides
            /sys/fs/cgroup) and namespaces; forks C; waits for it; writes
            "EXIT code" on the status pipe and exits.
    C       the command: setsid(), its stdio, a controlling terminal if
            asked, then launch.prepare_and_exec() as for a container
            (user, capabilities, no_new_privs, seccomp, execve()).
The daemon learns E1's pid from the first line of the status pipe and the
command's exit code from the last (E1 is the fork server's child, not the
daemon's: the daemon cannot waitpid() it). A status pipe that ends without
"EXIT" means E1 was killed: the code is 128 + SIGKILL, as a shell says.
"""

import fcntl
import os
import signal
import termios
from dataclasses import dataclass

import prctl

from minipod.linux import cgroups
from minipod.linux.launch import CREATE_ERROR, _guard, _join, _report, prepare_and_exec
from minipod.linux.process_wait import read_line, read_to_eof

KILLED = 128 + signal.SIGKILL


@dataclass
class ExecSession:
    """The daemon's handle on one exec session."""

    pid: int  # E1's host pid; 0 if it never started (the error pipe says why)
    errors: int  # read end of the error pipe: read it to EOF after the exit
    status: int  # read end of the status pipe, past its "PID" line

    async def wait(self) -> int:
        """The command's exit code (128 + n for a signal n), once E1 exits."""
        code = KILLED
        for line in (await read_to_eof(self.status)).splitlines():  # closes it
            if line.startswith("EXIT "):
                code = int(line[5:])
        return code

    def kill(self) -> list[int]:
        """SIGKILL the session: the command's whole session, then E1. The
        command's death signal alone is not enough: the kernel clears it
        when the command drops capabilities or changes user. Returns the
        pids of the commands killed."""
        if not self.pid:
            return []
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            children = []
        for child in children:
            try:
                os.killpg(child, signal.SIGKILL)  # the command called setsid(): its group is its pid
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return children


async def spawn_exec(plan: dict, stdio: tuple[int, int, int]) -> ExecSession:
    """Start an exec session (see the steps above). `stdio` stays the
    caller's to close: the fork server gets copies."""
    from minipod.linux import fork_server

    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    status_r, status_w = os.pipe2(os.O_CLOEXEC)
    fds = [err_w, status_w, *(os.dup(fd) for fd in stdio)]
    try:
        await fork_server.server().request(fork_server.EXEC, plan, fds)  # closes fds
    except OSError as e:
        # No session: its error pipe says why, as a failed step would.
        os.close(err_r)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        _report(err_w, f"ERR {CREATE_ERROR}\tstart the exec session: the fork server: {e.strerror or e}")
        os.close(err_w)
        return ExecSession(0, err_r, status_r)
    first = await read_line(status_r)
    pid = int(first[4:]) if first.startswith("PID ") else 0
    return ExecSession(pid, err_r, status_r)


def run_e1(plan: dict, fds: list[int]) -> None:
    """E1, in a child of the fork server: fds are the error pipe, the status
    pipe and the command's stdin, stdout and stderr."""
    w, status, stdio = fds[0], fds[1], (fds[2], fds[3], fds[4])
    prctl.set_pdeathsig(signal.SIGKILL)
    os.write(status, f"PID {os.getpid()}\n".encode())
    _guard(_exec_session, plan, stdio, status, w)


def _exec_session(plan: dict, stdio: tuple[int, int, int], status: int, w: int) -> None:
    # The container's cgroups, as runc exec does: before the mount
    # namespace, where /sys/fs/cgroup is out of reach.
    cgroups.join(plan.get("cgroup_procs") or [])
    _join(plan["join"])
    child = os.fork()
    if child == 0:
        os.close(status)
        _guard(_exec_child, plan, stdio, w)
    os.close(w)
    for fd in set(stdio):
        os.close(fd)
    _, code = os.waitpid(child, 0)
    exit_code = os.waitstatus_to_exitcode(code)
    os.write(status, f"EXIT {exit_code if exit_code >= 0 else 128 - exit_code}\n".encode())
    os._exit(0)


def _exec_child(plan: dict, stdio: tuple[int, int, int], w: int) -> None:
    prctl.set_pdeathsig(signal.SIGKILL)
    os.setsid()
    if plan.get("tty"):
        fcntl.ioctl(stdio[0], termios.TIOCSCTTY, 0)
    for i, fd in enumerate(stdio):
        os.dup2(fd, i)
    prepare_and_exec(plan, w)
