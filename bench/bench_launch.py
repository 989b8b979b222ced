"""What one container launch costs the daemon: forking its own big Python
process (the old path) against asking the fork server (linux/fork_server.py),
and what the lower bound of the C-shim route would be (posix_spawn of the
static minipod-shim, no Python at all).

Run as root: python3 bench/bench_launch.py [--pods-rss MIB] [--n N]

Steps:
    1. grow this process to the daemon's size with 100 pods running
       (--pods-rss: 80 MiB by default, above the 54 MiB PSS of
       bench_probes.py's daemon with 100 pods), touching every page, and
       start a few idle threads as the daemon has;
    2. for each way, N times: launch() a container of /bin/true in a new
       pid namespace (the host's rootfs, the default capabilities and
       seccomp filter), timing
         stall   how long the event loop stood still in the call (fork()
                 of this process, or sendmsg() to the server);
         launch  until the report pipe's EOF (the container has exec'd);
    3. fork()+_exit() of this process against of the fork server's size,
       and posix_spawn() of the static shim (the C route's floor);
    4. print medians and p90s in milliseconds, and both processes' RSS.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from minipod.linux import fork_server, launch, sandbox
from minipod.linux.launch_security import security


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def plan_for(tmp: str, i: int) -> dict:
    pod = {"metadata": {"name": "bench"}, "spec": {}}
    ctr = {"name": "true", "image": "none"}
    sec = security(pod, ctr)
    return {
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
        "log_path": os.path.join(tmp, f"{i}.log"),
        "exit_file": os.path.join(tmp, f"{i}.exit"),
        "log_max_size": 0,
        "log_max_files": 0,
        "shim": sandbox.shim_path(),
    }


_callbacks: list[float] = []  # how long each event-loop callback ran


def _timed_callbacks() -> None:
    """Time every callback the event loop runs (a task's step is one): the
    longest during a launch is how long the loop stood still for it."""
    run = asyncio.events.Handle._run

    def timed(handle) -> None:
        t0 = time.perf_counter()
        run(handle)
        _callbacks.append(time.perf_counter() - t0)

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]


async def one(plan: dict, fork_here: bool) -> tuple[float, float]:
    _callbacks.clear()
    t0 = time.perf_counter()
    result = await launch.launch(plan, fork_here=fork_here)
    took = time.perf_counter() - t0
    stall = max(_callbacks, default=0.0)
    if not result.ok:
        sys.exit(f"launch failed: {result.reason}: {result.message}")
    await launch.until_exit(result.monitor)  # the monitor exits with /bin/true
    return stall, took


def fork_exit(n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        out.append(time.perf_counter() - t0)  # the parent's side: what the loop waits for
        os.waitpid(pid, 0)
    return out


_QUIET = [(os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]  # its usage line


def fork_exit_small(n: int) -> str:
    """fork()+_exit of a process the fork server's size: a fresh
    interpreter with only what it imports."""
    code = (
        "import minipod.linux.fork_server, minipod.linux.launch, minipod.linux.sandbox, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import bench_launch\n"
        f"print(bench_launch.ms(bench_launch.fork_exit({n})))"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    return subprocess.run([sys.executable, "-c", code, here], capture_output=True, text=True).stdout.strip()


def spawn_shim(n: int) -> list[float]:
    shim = sandbox.shim_path()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        pid = os.posix_spawn(shim, ["minipod-shim"], {}, file_actions=_QUIET)
        out.append(time.perf_counter() - t0)
        os.waitpid(pid, 0)
    return out


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1e3:6.2f} ms  p90 {xs[int(len(xs) * 0.9)] * 1e3:6.2f} ms"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods-rss", type=int, default=80, help="the daemon's RSS to emulate, MiB")
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    import minipod.api.daemon  # noqa: F401 - the daemon's modules, as its heap has them

    ballast = bytearray(max(0, args.pods_rss - int(rss_mib(os.getpid()))) << 20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    for _ in range(4):  # the daemon has a few threads (its executor, DNS)
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
    _timed_callbacks()
    fork_server.start()
    await asyncio.sleep(1)  # the server's imports
    print(
        f"daemon-sized process: RSS {rss_mib(os.getpid()):.0f} MiB; fork server: RSS {rss_mib(fork_server.server().pid):.0f} MiB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, here in (("fork the daemon (old)", True), ("fork server (new)", False)):
            stall, took = [], []
            for i in range(args.n):
                s, t = await one(plan_for(tmp, i), here)
                stall.append(s)
                took.append(t)
            print(f"{label:24s} launch {ms(took)}   loop stalled {ms(stall)}")
    print(f"{'fork()+_exit, daemon':24s} {ms(fork_exit(args.n))}")
    print(f"{'fork()+_exit, server':24s} {fork_exit_small(args.n)}")
    print(f"{'posix_spawn(shim)':24s} {ms(spawn_shim(args.n))}   (the C route's floor)")
    fork_server.server().stop()


if __name__ == "__main__":
    asyncio.run(main())
