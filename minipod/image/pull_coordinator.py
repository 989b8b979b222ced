"""Image pulls, daemon side: each pull in a process of its own.

The daemon never runs an HTTP client itself (client libraries start
resolver threads, and the daemon forks; see minipod/api/daemon.py). A pull is
`python -m minipod.image.pull REF` (pull.py), which prints its progress as JSON
lines. Steps of Pulls.pull(), in order:
    1. if the same image is being pulled already, wait for that pull
       (its progress goes to every listener): one download for everyone;
    2. else start the pull process (subprocess: fork and exec done in C,
       no thread), credentials and registry settings on its stdin;
    3. read its lines through the event loop, hand each to the listeners;
    4. await its exit through a pidfd; its last line says done or error.
"""

import asyncio
import json
import os
import subprocess

from minipod.errors import MinipodError
from minipod.linux.launch import until_exit


class PullFailed(MinipodError):
    def __init__(self, message: str, reason: str = "ErrImagePull"):
        super().__init__(message)
        self.reason = reason


class Pulls:
    def __init__(self, images_dir: str, etc_dir: str, log=print):
        self.images_dir, self.etc_dir, self.log = images_dir, etc_dir, log
        self.running: dict[str, asyncio.Future] = {}
        self.listeners: dict[str, list] = {}

    async def pull(
        self, ref: str, policy: str = "Always", secrets: list[dict] | None = None, listener=None
    ) -> dict:
        """Pull `ref`; return pull.py's "done" event or raise PullFailed."""
        if listener:
            self.listeners.setdefault(ref, []).append(listener)
        # One pull per image and credentials: a pod with imagePullSecrets
        # never joins (and fails with) another pod's pull that has none.
        key = ref + "\0" + json.dumps(secrets or [], sort_keys=True)
        try:
            if key not in self.running:
                self.running[key] = asyncio.ensure_future(self._run(ref, policy, secrets, key))
            return await asyncio.shield(self.running[key])
        finally:
            if listener:
                self.listeners.get(ref, []).remove(listener)

    async def _run(self, ref: str, policy: str, secrets: list[dict] | None, key: str) -> dict:
        from minipod.image.pull import pull_command, pull_input

        try:
            proc = subprocess.Popen(
                pull_command(ref, self.images_dir, policy),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
            assert proc.stdin is not None  # stdin=PIPE
            proc.stdin.write(pull_input(self.etc_dir, secrets))
            proc.stdin.close()
            last = await self._follow(ref, proc)
            await until_exit(proc.pid)
            proc.wait()
        finally:
            self.running.pop(key, None)
        if last.get("event") == "done" and proc.returncode == 0:
            return last
        if last.get("event") == "error":
            raise PullFailed(last.get("message", "the pull failed"), last.get("reason", "ErrImagePull"))
        raise PullFailed(f"pulling {ref}: the pull process exited {proc.returncode}")

    async def _follow(self, ref: str, proc: subprocess.Popen) -> dict:
        """Hand every progress line to the listeners; return the last event."""
        loop = asyncio.get_running_loop()
        assert proc.stdout is not None  # stdout=PIPE
        stdout = proc.stdout
        fd = stdout.fileno()
        os.set_blocking(fd, False)
        done = loop.create_future()
        buffer, last = b"", {}

        def readable() -> None:
            nonlocal buffer, last
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                if not done.done():
                    done.set_result(None)
                return
            *lines, buffer = (buffer + data).split(b"\n")
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                last = event
                for listen in list(self.listeners.get(ref, [])):
                    listen(event)

        loop.add_reader(fd, readable)
        try:
            await done
        finally:
            loop.remove_reader(fd)
            stdout.close()
        return last
