"""A container's exit, as its monitor wrote it down.

The monitor (minipod-shim monitor, the container's parent) writes
EXITFILE atomically when the container exits: {"exitCode", "signal",
"finishedAt"}. If the monitor itself fails (it cannot write that file),
it writes what went wrong to EXITFILE.error instead, since its own stderr
is /dev/null. The daemon reads both here; it learns of an exit through a
pidfd on the monitor (PidWatch), and waiters for an exit wait on Exits.
"""

import asyncio
import json
import os
import time
from collections.abc import Callable

from minipod.kube.times import parse_rfc3339
from minipod.pod.record import ContainerRecord, ExitInfo


def read_exit_file(c: ContainerRecord) -> ExitInfo | None:
    """The exit the monitor wrote for `c`; None if there is none (yet)."""
    try:
        with open(c.exit_file or "") as f:
            info = json.load(f)
        finished = info.get("finishedAt")
        return ExitInfo(
            exit_code=int(info.get("exitCode", 0)),
            finished_epoch=parse_rfc3339(finished) if finished else time.time(),
            signal=info.get("signal"),
            reason=info.get("reason"),
            message=info.get("message"),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def monitor_failure(c: ContainerRecord) -> str | None:
    """What the container's monitor wrote of its own failure, if anything."""
    try:
        with open(f"{c.exit_file}.error", errors="replace") as f:
            return f.read(4096).strip() or None
    except OSError:
        return None


class Exits:
    """Wakes whoever waits for a watched process of the pod to exit."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until the next exit, or `timeout` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), max(timeout, 0.0))
        except asyncio.TimeoutError:
            pass


class PidWatch:
    """Calls `on_exit(pid)` when a watched process exits: a pidfd per
    process (pidfd_open(2)), read by the event loop. A pid that no longer
    exists cannot be watched (watch() says False)."""

    def __init__(self, on_exit: Callable[[int], None]) -> None:
        self.on_exit = on_exit
        self.fds: dict[int, int] = {}  # pid -> its pidfd

    def __contains__(self, pid: int) -> bool:
        return pid in self.fds

    def watch(self, pid: int | None) -> bool:
        if not pid or pid in self.fds:
            return bool(pid)
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return False
        self.fds[pid] = fd
        asyncio.get_running_loop().add_reader(fd, self._exited, pid)
        return True

    def _exited(self, pid: int) -> None:
        self.unwatch(pid)
        self.on_exit(pid)

    def unwatch(self, pid: int) -> None:
        fd = self.fds.pop(pid, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)

    def close(self) -> None:
        for pid in list(self.fds):
            self.unwatch(pid)
