"""The fork server (minipod/linux/fork_server.py): the daemon's small helper
that forks every container, sandbox and exec session. It is restarted when
it dies, the containers it starts outlive the daemon as before, exec
sessions do not, and what fails in a container's setup reads exactly as
when the daemon forked it."""

import os
import signal
import subprocess

from helpers.host import eventually
from helpers.instance import MINIPOD
from helpers.pods import ctr, pod, pod_yaml


def _fork_server(mp) -> int:
    """The pid of the instance's fork server: the daemon's child running it."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            ppid = _ppid(int(pid))
        except (OSError, ValueError, IndexError):
            continue
        if b"minipod.linux.fork_server" in argv and ppid == mp.daemon.pid:
            found.append(int(pid))
    assert len(found) == 1, f"fork servers of daemon {mp.daemon.pid}: {found}"
    return found[0]


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    """Exited and reaped (a zombie would still be there)."""
    return not os.path.exists(f"/proc/{pid}")


def _container(mp, name: str) -> dict:
    return mp.inspect(name)["containers"][0]


def test_the_fork_server_is_restarted_after_it_is_killed(mp, pods, pod_name):
    first = f"{pod_name[:40]}-1"
    pods.run(pod(first, ctr("main", "exec sleep 3600")))
    server = _fork_server(mp)
    os.kill(server, signal.SIGKILL)
    eventually(lambda: _gone(server), what="the killed fork server to be reaped by the daemon")
    second = f"{pod_name[:40]}-2"
    pods.run(pod(second, ctr("main", "exec sleep 3600")))
    assert mp.pod(second)["status"]["phase"] == "Running"
    assert _fork_server(mp) != server
    # The pod started before it died is not touched.
    assert mp.pod(first)["status"]["containerStatuses"][0]["restartCount"] == 0


def test_a_container_it_started_survives_the_daemon_sigkill(fresh_mp, pod_name):
    mp = fresh_mp
    mp.run_pod(pod_yaml(pod_name, "sleep 3600"))
    server = _fork_server(mp)
    c = _container(mp, pod_name)
    pid, monitor = c["process"]["pid"], c["monitor"]["pid"]
    # The server's child (L1) exits at once: the monitor is an orphan,
    # the container's parent is its monitor, neither is the server's.
    assert _ppid(monitor) not in (server, mp.daemon.pid)
    assert _ppid(pid) == monitor
    mp.kill_daemon(signal.SIGKILL)
    # The server sees its socket close and exits; the container stays.
    eventually(lambda: _gone(server), what="the fork server to exit with its daemon")
    assert os.path.exists(f"/proc/{pid}") and _ppid(pid) == monitor
    mp.start_daemon()
    after = mp.pod(pod_name)
    assert after["status"]["phase"] == "Running"
    assert _container(mp, pod_name)["process"]["pid"] == pid
    assert _fork_server(mp) != server
    mp.delete(pod_name)


def test_a_failed_exec_reads_as_before(mp, pods, pod_name):
    """execve() fails in the container process, a grandchild of the server:
    StartError with the runtime's message, as when the daemon forked it."""
    pods.run(pod(pod_name, ctr("main", command=["nosuchcmd"]), restartPolicy="Never"), check=False)
    p = mp.wait_for(
        pod_name,
        lambda p: "terminated" in ((p["status"].get("containerStatuses") or [{}])[0].get("state") or {}),
        what="the container to be terminated",
    )
    t = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert t["reason"] == "StartError", t
    assert t["exitCode"] == 128, t
    assert t["message"] == 'exec: "nosuchcmd": executable file not found in $PATH', t


def test_a_failed_setup_step_reads_as_before(mp, pods, pod_name):
    """A step of the setup fails (the working directory on a read-only
    root): CreateContainerError, the step named, no Python in it."""
    bad = ctr(
        "main", "exec sleep 3600", workingDir="/nowhere", securityContext={"readOnlyRootFilesystem": True}
    )
    pods.run(pod(pod_name, bad, restartPolicy="Never"), check=False)
    p = mp.wait_for(
        pod_name,
        lambda p: (
            ((p["status"].get("containerStatuses") or [{}])[0].get("state") or {})
            .get("waiting", {})
            .get("message")
        ),
        what="the container's waiting message",
    )
    w = p["status"]["containerStatuses"][0]["state"]["waiting"]
    assert w["reason"] == "CreateContainerError", w
    assert w["message"] == "create the working directory /nowhere: Read-only file system", w


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def _cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def test_an_exec_session_is_the_servers_child_and_dies_with_the_daemon(fresh_mp, pod_name):
    """The daemon never forks: an exec session's E1 is the fork server's
    child, the daemon learns its exit code through a pipe, and a session
    does not outlive the daemon that relays its output."""
    mp = fresh_mp
    mp.run_pod(pod_yaml(pod_name, "sleep 3600"))
    assert mp.run("exec", pod_name, "--", "sh", "-c", "exit 7", check=False).returncode == 7
    server = _fork_server(mp)
    session = subprocess.Popen(
        [MINIPOD, "--root", mp.root, "exec", pod_name, "--", "sleep", "300"],
        env=dict(os.environ, MINIPOD_NO_AUTOSTART="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        e1 = eventually(
            lambda: _children(server) or None, what="the exec session's E1, forked by the server"
        )[0]
        # E1's child is a copy of the server until it execs the command.
        command = eventually(
            lambda: next((c for c in _children(e1) if _cmdline(c) == ["sleep", "300"]), None),
            what="the exec'd command, E1's child",
        )
        assert _children(mp.daemon.pid) == [server], "the daemon forked something itself"
        mp.kill_daemon(signal.SIGKILL)
        eventually(
            lambda: _gone(server) and _gone(e1) and _gone(command), what="the session to end with its daemon"
        )
        session.wait(10)
    finally:
        session.kill()
        session.wait()
    mp.start_daemon()
    mp.delete(pod_name)
