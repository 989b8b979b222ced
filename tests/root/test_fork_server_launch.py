"""The fork server without a daemon: launch() through it reports exactly
what forking this process reports, it is started again after it dies, and
it exits when its socket closes."""

import asyncio
import os
import signal

import pytest

from minipod.linux import fork_server, launch, sandbox
from minipod.linux.launch_security import security


def _plan(tmp, name: str, **changes) -> dict:
    sec = security({"metadata": {"name": "t"}, "spec": {}}, {"name": "c", "image": "none"})
    plan = {
        "join": {},
        "new_pid_ns": True,
        "rootfs": None,
        "argv": ["/bin/true"],
        "env": {"PATH": "/usr/bin:/bin"},
        "cwd": "/",
        "user": "",
        "run_as_user": None,
        "run_as_group": None,
        "supplemental_groups": [],
        "caps": sec["caps"],
        "no_new_privs": False,
        "seccomp": sec["seccomp"],
        "log_path": str(tmp / f"{name}.log"),
        "exit_file": str(tmp / f"{name}.exit"),
        "log_max_size": 0,
        "log_max_files": 0,
        "shim": sandbox.shim_path(),
    }
    plan.update(changes)
    return plan


@pytest.fixture
def server():
    s = fork_server.server()
    yield s
    pid = s.pid
    s.stop()
    if pid:
        os.waitpid(pid, 0)  # it exits when its socket closes: this returns


def _run(coro):
    return asyncio.run(coro)


def test_a_container_runs_and_its_monitor_is_not_the_servers(server, tmp_path):
    async def go():
        r = await launch.launch(_plan(tmp_path, "ok", argv=["sh", "-c", "echo hi; sleep 0.2"]))
        assert r.ok, (r.reason, r.message)
        with open(f"/proc/{r.monitor}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[1]) != server.pid  # L1 exited: orphaned
        await launch.until_exit(r.monitor)

    _run(go())
    assert (tmp_path / "ok.log").read_text() == "hi\n"


@pytest.mark.parametrize(
    "changes",
    [
        {"argv": ["nosuchcmd"]},  # execve: StartError
        {"argv": ["/no/such/file"]},
        {"cwd": "/proc/nosuchdir"},  # a setup step: CreateContainerError
        {"log_path": "/nonexistent-dir/x.log"},  # a step of L2
    ],
)
def test_a_failure_reads_as_when_the_daemon_forked(server, tmp_path, changes):
    async def both():
        here = await launch.launch(_plan(tmp_path, "a", **changes), fork_here=True)
        there = await launch.launch(_plan(tmp_path, "b", **changes))
        return here, there

    here, there = _run(both())
    assert not here.ok and here.reason and here.message
    assert (there.reason, there.message) == (here.reason, here.message)


def test_it_is_started_again_after_it_dies(server, tmp_path):
    async def go():
        first = await launch.launch(_plan(tmp_path, "1"))
        assert first.ok
        old = server.pid
        os.kill(old, signal.SIGKILL)
        await asyncio.sleep(0.2)  # its pidfd tells the loop; it is reaped and forgotten
        assert server.pid == 0 and not os.path.exists(f"/proc/{old}")
        second = await launch.launch(_plan(tmp_path, "2"))
        assert second.ok, (second.reason, second.message)
        assert server.pid not in (0, old)

    _run(go())
