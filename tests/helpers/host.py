"""Host helpers with no minipod in them: run a command, poll until
something holds, find a free port, speak one line of HTTP."""

import random
import socket
import subprocess
import time

GET = "GET / HTTP/1.0\r\n\r\n"
HTTP_PORT = 8080  # where the tests' web pods listen


def sh(
    *args: str, check: bool = True, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run a command on the host; fail with its output when check and it
    exits non-zero. (In a pod: helpers.pods.pod_sh.)"""
    p = subprocess.run(args, capture_output=True, text=True, input=input, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}: {p.stdout}{p.stderr}")
    return p


def eventually(fn, timeout: float = 15, what: str = "condition", interval: float = 0.05, explain=None):
    """Call fn until it returns something true, and return that; fail after
    `timeout` seconds with the last value it returned, or with what
    explain() says when given (the state that never came right)."""
    deadline = time.time() + timeout
    while True:
        result = fn()
        if result:
            return result
        if time.time() >= deadline:
            detail = explain() if explain else f"last: {result!r}"
            raise AssertionError(f"timed out waiting for {what}; {detail}")
        time.sleep(interval)


def free_port() -> int:
    """A port free on the host for both TCP and UDP."""
    while True:
        port = random.randint(20000, 40000)
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("0.0.0.0", port))
            return port
        except OSError:
            continue


def http_body(raw: str) -> str:
    """The last line of an HTTP answer (the tests' one-line bodies), or ''
    when it is not an HTTP answer at all."""
    lines = raw.strip().splitlines()
    return lines[-1].strip() if lines and lines[0].startswith("HTTP/") else ""


def http_get(host: str, port: int = HTTP_PORT, timeout: float = 3) -> str:
    """GET / from the host; the body's last line, or '' on any failure."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(GET.encode())
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return ""
    return http_body(data.decode(errors="replace"))


def wait_listening(host: str, port: int, timeout: float = 5) -> None:
    """Return once something accepts connections on host:port."""

    def accepts() -> bool:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            return False

    eventually(accepts, timeout, f"something listening on {host}:{port}")
