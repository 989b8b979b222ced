"""The downward API: facts about the pod, given to its containers.

Pure functions, shared by env (env_sources.py) and volumes
(config_volumes.py):
    field_value()     a fieldRef: metadata.name, namespace, uid, one label
                      or annotation, all labels or annotations (volumes
                      only: one `key="value"` line each, sorted, as the
                      kubelet's formatMap writes them), spec.nodeName,
                      spec.serviceAccountName, status.hostIP(s), podIP(s);
    resource_value()  a resourceFieldRef: a container's requests or limits
                      divided by `divisor` and rounded up; a limit the
                      container does not set is the node's allocatable,
                      as the kubelet fills it in.
"""

import json
import math
import os
import re
from typing import Any

from minipod.errors import MinipodError
from minipod.kube import quantity

_KEYED = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def format_map(m: dict[str, str]) -> str:
    """key="value" lines, sorted by key, no final newline (Go's %q quoting)."""
    return "\n".join(f"{k}={json.dumps(str(m[k]), ensure_ascii=False)}" for k in sorted(m))


def field_value(path: str, pod: dict[str, Any], pod_ip: str = "", host_ip: str = "") -> str:
    meta, spec = pod["metadata"], pod["spec"]
    simple: dict[str, str] = {
        "metadata.name": str(meta["name"]),
        "metadata.namespace": str(meta.get("namespace", "default")),
        "metadata.uid": str(meta.get("uid", "")),
        "metadata.labels": format_map(meta.get("labels") or {}),
        "metadata.annotations": format_map(meta.get("annotations") or {}),
        "spec.nodeName": str(spec.get("nodeName") or os.uname().nodename),
        "spec.serviceAccountName": str(spec.get("serviceAccountName") or "default"),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,  # one address family: the list has one entry
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return simple[path]
    m = _KEYED.fullmatch(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise MinipodError(f"fieldRef {path!r} is not supported")


def resource_value(
    container: dict[str, Any], resource: str, divisor: Any, allocatable: dict[str, int]
) -> str:
    """requests.cpu, limits.memory, ... of `container`, in units of `divisor`."""
    which, _, name = resource.partition(".")
    res = container.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    if which == "limits":
        text = limits.get(name)
    else:
        # The API server defaults a request to its limit.
        text = requests.get(name, limits.get(name))
    if name == "cpu":
        amount = quantity.milli(text) if text is not None else _alloc(allocatable, name, which)
        div = quantity.milli(divisor or "1")
    else:
        amount = quantity.value(text) if text is not None else _alloc(allocatable, name, which)
        div = quantity.value(divisor or "1")
    if div <= 0:
        raise MinipodError(f"resourceFieldRef {resource}: divisor must be positive")
    return str(math.ceil(amount / div))


def _alloc(allocatable: dict[str, int], name: str, which: str) -> int:
    # An unset limit is the node's allocatable; an unset request is zero.
    return allocatable.get(name, 0) if which == "limits" else 0
