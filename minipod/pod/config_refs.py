"""ConfigMaps and Secrets as a pod reads them: found by name, decoded.

The pod's volumes (config_volumes.py) and environment (env_sources.py)
read ConfigMaps and Secrets through a ConfigLookup, which the daemon backs
with its object store and the unit tests with a dict. A reference that
cannot be met raises ConfigRefError with the kubelet's own message:
    configmap "x" not found
    couldn't find key k in ConfigMap default/x
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minipod.errors import MinipodError

CONFIGMAP, SECRET = "ConfigMap", "Secret"


class ConfigRefError(MinipodError):
    """A reference the kubelet cannot meet (the container waits with
    CreateContainerConfigError, the volume is not mounted)."""


@dataclass
class ConfigLookup:
    """get(kind, namespace, name) -> the object or None. `seen` records
    every (kind, namespace, name) asked for, so a change of any of them
    can wake the pod."""

    get_object: Callable[[str, str, str], dict[str, Any] | None]
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.seen.add((kind, namespace, name))
        return self.get_object(kind, namespace, name)


def empty_lookup() -> ConfigLookup:
    return ConfigLookup(lambda kind, ns, name: None)


def not_found(kind: str, name: str) -> ConfigRefError:
    # The kubelet's caches answer with a NotFound of resource "configmap"/"secret".
    return ConfigRefError(f'{kind.lower()} "{name}" not found')


def values(obj: dict[str, Any]) -> dict[str, bytes]:
    """The keys of a ConfigMap (data and binaryData) or a Secret (data,
    base64), as bytes."""
    out: dict[str, bytes] = {}
    if obj.get("kind") == SECRET:
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v or "")
        return out
    for k, v in (obj.get("data") or {}).items():
        out[k] = str(v).encode()
    for k, v in (obj.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v or "")
    return out


def fetch(
    lookup: ConfigLookup, kind: str, namespace: str, name: str, optional: bool
) -> dict[str, bytes] | None:
    """The object's keys; None when it is missing and optional; raises when
    it is missing and required."""
    obj = lookup.get(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise not_found(kind, name)
    return values(obj)


def is_immutable(lookup: ConfigLookup, kind: str, namespace: str, name: str) -> bool:
    obj = lookup.get_object(kind, namespace, name)
    return bool(obj and obj.get("immutable"))
