"""Kubeconfig files: ETC/admin.kubeconfig for the instance's admin, and
`minipod kubeconfig --merge` into the user's ~/.kube/config.

admin_kubeconfig() and merge() are pure: they build and combine the
documents; write_kubeconfig() writes one atomically with mode 0600 (it
holds the admin's private key).
"""

import base64
import os

from minipod.fsutil import write_atomic

NAME = "minipod"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def admin_kubeconfig(server: str, ca: bytes, cert: bytes, key: bytes, name: str = NAME) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [
            {"name": name, "user": {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}}
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
        "current-context": name,
        "preferences": {},
    }


def merge(existing: dict | None, ours: dict) -> dict:
    """`ours`' cluster, user and context replace the entries of the same
    name in `existing`; every other entry stays as it was. The current
    context is set only when there is none."""
    out = dict(existing or {})
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    for section in ("clusters", "users", "contexts"):
        mine = {e["name"] for e in ours[section]}
        out[section] = [e for e in out.get(section) or [] if e.get("name") not in mine] + ours[section]
    if not out.get("current-context"):
        out["current-context"] = ours["current-context"]
    return out


def write_kubeconfig(path: str, doc: dict) -> None:
    import yaml

    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
    write_atomic(path, text.encode(), mode=0o600)  # it holds the admin's credentials
