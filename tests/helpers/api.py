"""Raw HTTP requests to a test daemon's socket, as curl would send them.

request(mp, METHOD, PATH, body=b"", headers=None) -> (status, headers, body bytes)
status_of(body) -> the parsed Status, checked to have Kubernetes' shape
"""

import http.client
import json
import os
import socket


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def request(mp, method: str, path: str, body: bytes | None = None, headers=None, timeout: float = 60):
    conn = _Unix(os.path.join(mp.root, "run", "minipod.sock"), timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def status_of(body: bytes) -> dict:
    """A v1 Status, as the Kubernetes API answers an error."""
    status = json.loads(body)
    assert status["kind"] == "Status" and status["apiVersion"] == "v1", status
    assert status["status"] == "Failure", status
    assert isinstance(status["message"], str) and status["message"], status
    assert "Traceback" not in status["message"], status
    return status
