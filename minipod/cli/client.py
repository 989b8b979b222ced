"""The CLI's side of the API: HTTP/JSON over the daemon's Unix socket.

Kept light on purpose (http_unix.py rather than http.client, no daemon
modules): every `minipod` command pays its import time, and `minipod run`
and `minipod get pods` are benchmarked.

If no daemon answers, ensure_daemon() starts one in the background
(`minipod daemon`, in its own session, logging to run/daemon.log) and waits
for its socket, as podman's service or dockerd socket activation would.
"""

import json
import os
import socket
import sys
import time

from minipod.cli import http_unix
from minipod.errors import MinipodError, NotFound


class ApiError(MinipodError):
    def __init__(self, code: int, body: dict):
        self.code, self.body = code, body
        details = body.get("details") or {}
        super().__init__(body.get("message", f"HTTP {code}"), details.get("hint"))
        self.reason = body.get("reason", "")


class Client:
    def __init__(self, inst, autostart: bool = True):
        self.inst = inst
        # MINIPOD_NO_AUTOSTART=1: scripts and tests that manage the daemon
        # themselves want an error, not a new daemon, when it is down.
        self.autostart = autostart and not os.environ.get("MINIPOD_NO_AUTOSTART")
        self._started = False

    # --- the daemon -----------------------------------------------------------
    def _send(
        self, method: str, target: str, body: bytes | None, headers: dict, timeout
    ) -> http_unix.Response:
        try:
            return http_unix.request(self.inst.socket, method, target, body, headers, timeout)
        except (FileNotFoundError, ConnectionRefusedError):
            if not self.autostart or self._started:
                raise MinipodError(
                    f"cannot reach the minipod daemon at {self.inst.socket}",
                    hint="start it with: minipod daemon",
                ) from None
            self.ensure_daemon()
            return http_unix.request(self.inst.socket, method, target, body, headers, timeout)
        except PermissionError:
            raise MinipodError(
                f"{self.inst.socket}: permission denied",
                hint="minipod manages namespaces and mounts: run it as root",
            ) from None

    def ensure_daemon(self, timeout: float = 15.0) -> None:
        import subprocess  # only here: most commands never need it

        from minipod.fsutil import open_lock, try_lock

        os.makedirs(self.inst.run, mode=0o700, exist_ok=True)
        # A daemon holds run/daemon.lock for its whole life: if someone holds
        # it, a daemon is starting up right now; wait for it, start no other.
        lock = open_lock(os.path.join(self.inst.run, "daemon.lock"))
        try:
            starting = not try_lock(lock)
        finally:
            os.close(lock)
        if not starting:
            # -I: never the current directory's minipod (a source checkout,
            # say) instead of the installed one.
            cmd = [sys.executable, "-I", "-m", "minipod"]
            if self.inst.root:
                cmd += ["--root", self.inst.root]
            with open(self.inst.daemon_log, "ab") as log:
                subprocess.Popen(
                    cmd + ["daemon"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    close_fds=True,
                )
        self._started = True
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.inst.socket)
                s.close()
                return
            except OSError:
                time.sleep(0.01)
        raise MinipodError(
            f"the minipod daemon did not start within {timeout:.0f}s", hint=f"see {self.inst.daemon_log}"
        )

    # --- requests ---------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        query: dict | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        headers: dict | None = None,
    ) -> http_unix.Response:
        if query:
            path += "?" + http_unix.urlencode(
                [
                    (k, x)
                    for k, v in query.items()
                    if v is not None
                    for x in (v if isinstance(v, list) else [v])
                ]
            )
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = content_type
        resp = self._send(method, path, body, sent, timeout)
        if resp.status >= 400:
            raw = resp.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"message": raw.decode(errors="replace").strip()}
            if resp.status == 404:
                raise NotFound(data.get("message", "not found"))
            raise ApiError(resp.status, data)
        return resp

    def json(
        self,
        method: str,
        path: str,
        body=None,
        query: dict | None = None,
        content_type: str = "application/json",
        headers: dict | None = None,
    ):
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        resp = self.request(method, path, body, query, content_type, headers=headers)
        return json.loads(resp.read() or b"null")


def lost_daemon(error: BaseException) -> str | None:
    """The message for a connection the daemon dropped mid-request, or None
    when `error` is something else. The request reached the daemon, so it
    may or may not have been carried out: the user must check."""
    if isinstance(error, (ConnectionError, socket.timeout)):  # http_unix.BadResponse is one
        return (
            f"lost the connection to the minipod daemon ({type(error).__name__}): "
            "it may have stopped or crashed; the request may or may not have been carried out"
        )
    return None


def quote(part: str) -> str:
    """One path segment of a URL: a name can never add segments or a query."""
    return http_unix.quote(part)


def pod_path(namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{quote(namespace)}/pods"
    return f"{base}/{quote(name)}" if name else base
