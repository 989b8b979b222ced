"""The audit log, as the API server's log backend writes it.

An API server records requests as audit.k8s.io/v1 Events, one JSON object
a line (--audit-log-path); admission plugins add annotations to them, and
that is the only place PodSecurity's `audit` mode shows up
(`pod-security.kubernetes.io/audit-violations`): kubectl never sees it.
minipod's audit policy is fixed: level Metadata (who, what, the answer,
the annotations; no bodies) for every pod create that PodSecurity
evaluates, whichever way it came in, nothing for the rest. In order:
    1. the Kubernetes API's authentication (kubeapi/auth.py) says who is
       asking (requester()); a request over the daemon's root-only socket
       (`minipod apply`) is the instance's admin;
    2. admission builds the Event (event(), pure) with its annotations
       and the response code;
    3. AuditLog.write() appends it to LIB/audit.log (kept under 10 MiB:
       the full file moves to audit.log.1), and lines with annotations
       that report a violation or an error go to the daemon's log too.
"""

import contextvars
import datetime
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Requester:
    """Who made the request being served, and how."""

    username: str
    groups: list[str] = field(default_factory=list)
    uid: str = ""
    source_ip: str = ""
    user_agent: str = ""
    uri: str = ""


# The instance's admin over the root-only socket: the same identity as its
# admin kubeconfig's certificate (kubeapi/certs.py).
SOCKET_ADMIN = Requester("minipod-admin", ["system:masters", "system:authenticated"])

_CURRENT: contextvars.ContextVar[Requester | None] = contextvars.ContextVar("minipod_requester", default=None)


def set_requester(r: Requester) -> contextvars.Token:
    """Step 1: the request being served in this task (reset with the token)."""
    return _CURRENT.set(r)


def reset_requester(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


def requester() -> Requester:
    return _CURRENT.get() or SOCKET_ADMIN


def event(
    who: Requester,
    verb: str,
    object_ref: dict[str, str],
    code: int,
    annotations: dict[str, str],
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """Step 2: one audit.k8s.io/v1 Event at level Metadata, stage
    ResponseComplete."""
    when = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    namespace = object_ref.get("namespace", "")
    user: dict[str, Any] = {"username": who.username, "groups": who.groups}
    if who.uid:
        user["uid"] = who.uid
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": str(uuid.uuid4()),
        "stage": "ResponseComplete",
        "requestURI": who.uri or f"/api/v1/namespaces/{namespace}/{object_ref.get('resource', '')}",
        "verb": verb,
        "user": user,
        "sourceIPs": [who.source_ip] if who.source_ip else [],
        "userAgent": who.user_agent,
        "objectRef": object_ref,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": when,
        "stageTimestamp": when,
        "annotations": annotations,
    }


class AuditLog:
    """Step 3."""

    def __init__(self, path: str, log: Callable[[str], Any] = print, loud: tuple[str, ...] = ()):
        self.path, self.log, self.loud = path, log, loud

    def write(self, ev: dict[str, Any]) -> None:
        line = json.dumps(ev, separators=(",", ":")) + "\n"
        try:
            if os.path.exists(self.path) and os.path.getsize(self.path) + len(line) > MAX_BYTES:
                os.replace(self.path, self.path + ".1")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except OSError as e:
            self.log(f"audit: cannot write {self.path}: {e.strerror}")
        ref = ev["objectRef"]
        for key, value in ev["annotations"].items():
            if key in self.loud:
                self.log(
                    f"audit: {ev['verb']} {ref['resource']} {ref['namespace']}/{ref['name']}: {key}: {value}"
                )
