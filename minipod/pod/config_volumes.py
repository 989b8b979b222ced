"""configMap, secret, downwardAPI and projected volumes.

Each such volume is a directory in the pod's run dir (a tmpfs: Secrets
never reach a disk), written by atomic_writer.py and bind-mounted
read-only, as the kubelet does. In order:
    1. payload(): the files of one volume (pure): for each source its keys
       (all, or the `items` asked for, each at its `path`), with `mode` or
       the volume's `defaultMode` (0644); a missing object or key is an
       error unless `optional`, with the kubelet's message;
    2. write_pod(): every such volume of the pod, before a container
       starts; a volume that cannot be made is the kubelet's FailedMount
       ("MountVolume.SetUp failed for volume ...");
    3. refresh_pod(): the same, when a ConfigMap, Secret or the pod's own
       labels or annotations changed (the manager's watch of the store).
       A volume whose objects were all `immutable` when first written is
       never read again.
The cluster's token volume (kube-api-access-*) is not here: the Kubernetes
API writes it (kubeapi/pod_access.py).
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minipod.errors import MinipodError
from minipod.kube import downward_api
from minipod.kube.implemented import is_service_account_volume
from minipod.paths import path_in
from minipod.pod import atomic_writer
from minipod.pod.atomic_writer import FileProjection, Payload
from minipod.pod.config_refs import CONFIGMAP, SECRET, ConfigLookup, ConfigRefError, fetch

KINDS = ("configMap", "secret", "downwardAPI", "projected")
DEFAULT_MODE = 0o644
CONFIG_VOLUMES_DIR = "config-volumes"  # in the pod's run dir


class FailedMount(MinipodError):
    """A volume the kubelet would not set up; the pod waits, ContainerCreating."""

    reason = "ContainerCreating"


@dataclass
class PodFacts:
    """What the downward API needs besides the pod itself."""

    pod_ip: str = ""
    host_ip: str = ""
    allocatable: dict[str, int] = field(default_factory=dict)
    # A service-account token for the pod (the Kubernetes API signs it), or None.
    token: Callable[[dict[str, Any]], str] | None = None


def is_config_volume(volume: dict[str, Any]) -> bool:
    return any(volume.get(k) is not None for k in KINDS) and not is_service_account_volume(volume)


def volume_dir(dirs: dict[str, Any], name: str) -> str:
    return path_in(os.path.join(dirs["run"], CONFIG_VOLUMES_DIR), name)


def _keys(kind: str, src: dict[str, Any], namespace: str, lookup: ConfigLookup, mode: int) -> Payload:
    """A configMap or secret source: its keys, or its items."""
    name = src.get("name") or ""
    found = fetch(lookup, kind, namespace, name, bool(src.get("optional")))
    if found is None:
        return {}
    items = src.get("items")
    if not items:
        return {k: FileProjection(v, mode) for k, v in found.items()}
    out: Payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in found:
            if src.get("optional"):
                continue
            what = "config" if kind == CONFIGMAP else "secret"
            raise ConfigRefError(f"{kind.lower()} references non-existent {what} key: {key}")
        out[item["path"]] = FileProjection(found[key], _mode(item, mode))
    return out


def _mode(item: dict[str, Any], default: int) -> int:
    return item["mode"] if item.get("mode") is not None else default


def _downward(src: dict[str, Any], pod: dict[str, Any], facts: PodFacts, mode: int) -> Payload:
    out: Payload = {}
    containers = {c["name"]: c for c in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]}
    for item in src.get("items") or []:
        if item.get("fieldRef"):
            text = downward_api.field_value(item["fieldRef"]["fieldPath"], pod, facts.pod_ip, facts.host_ip)
        else:
            ref = item["resourceFieldRef"]
            container = containers.get(ref.get("containerName", ""), {})
            text = downward_api.resource_value(
                container, ref["resource"], ref.get("divisor"), facts.allocatable
            )
        out[item["path"]] = FileProjection(text.encode(), _mode(item, mode))
    return out


def payload(volume: dict[str, Any], pod: dict[str, Any], lookup: ConfigLookup, facts: PodFacts) -> Payload:
    """Step 1: the files of one volume."""
    ns = pod["metadata"].get("namespace", "default")
    if volume.get("configMap") is not None:
        src = volume["configMap"]
        return _keys(CONFIGMAP, src, ns, lookup, _default_mode(src))
    if volume.get("secret") is not None:
        src = dict(volume["secret"], name=volume["secret"].get("secretName", ""))
        return _keys(SECRET, src, ns, lookup, _default_mode(src))
    if volume.get("downwardAPI") is not None:
        src = volume["downwardAPI"]
        return _downward(src, pod, facts, _default_mode(src))
    projected = volume["projected"]
    mode = _default_mode(projected)
    out: Payload = {}
    for source in projected.get("sources") or []:
        if source.get("configMap") is not None:
            out.update(_keys(CONFIGMAP, source["configMap"], ns, lookup, mode))
        elif source.get("secret") is not None:
            out.update(_keys(SECRET, source["secret"], ns, lookup, mode))
        elif source.get("downwardAPI") is not None:
            out.update(_downward(source["downwardAPI"], pod, facts, mode))
        elif source.get("serviceAccountToken") is not None:
            if facts.token is None:
                raise ConfigRefError("serviceAccountToken: this instance's Kubernetes API is not serving")
            out[source["serviceAccountToken"]["path"]] = FileProjection(facts.token(pod).encode(), mode)
    return out


def _default_mode(src: dict[str, Any]) -> int:
    mode = src.get("defaultMode")
    return DEFAULT_MODE if mode is None else int(mode)


def referenced(volume: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a volume reads."""
    if volume.get("configMap") is not None:
        return [(CONFIGMAP, volume["configMap"].get("name", ""))]
    if volume.get("secret") is not None:
        return [(SECRET, volume["secret"].get("secretName", ""))]
    out = []
    for source in (volume.get("projected") or {}).get("sources") or []:
        for key, kind in (("configMap", CONFIGMAP), ("secret", SECRET)):
            if source.get(key) is not None:
                out.append((kind, source[key].get("name", "")))
    return out


def write_volume(
    volume: dict[str, Any], pod: dict[str, Any], dirs: dict[str, Any], lookup: ConfigLookup, facts: PodFacts
) -> bool:
    """One volume, written atomically; True if its files changed."""
    try:
        files = payload(volume, pod, lookup, facts)
    except ConfigRefError as e:
        raise FailedMount(f'MountVolume.SetUp failed for volume "{volume["name"]}" : {e}') from None
    fs_group = (pod["spec"].get("securityContext") or {}).get("fsGroup")
    owner = (0, int(fs_group)) if fs_group is not None else None
    if owner is not None:
        # As the kubelet does with fsGroup: the group may read what the owner may.
        files = {p: FileProjection(f.data, f.mode | ((f.mode & 0o700) >> 3)) for p, f in files.items()}
    return atomic_writer.write(volume_dir(dirs, volume["name"]), files, owner)


def write_pod(
    pod: dict[str, Any],
    dirs: dict[str, Any],
    lookup: ConfigLookup,
    facts: PodFacts,
    frozen: set[str] | None = None,
) -> list[str]:
    """Steps 2 and 3: every config volume of the pod, but those in `frozen`
    (immutable, already written). Returns the names written, for the
    caller's bookkeeping of immutable volumes."""
    written = []
    for volume in pod["spec"].get("volumes") or []:
        if not is_config_volume(volume) or volume["name"] in (frozen or set()):
            continue
        write_volume(volume, pod, dirs, lookup, facts)
        written.append(volume["name"])
    return written


def all_immutable(volume: dict[str, Any], namespace: str, lookup: ConfigLookup) -> bool:
    """True when every object the volume reads exists and is immutable
    (a downwardAPI part always changes with the pod: never)."""
    refs = referenced(volume)
    if not refs or volume.get("downwardAPI") is not None:
        return False
    sources = (volume.get("projected") or {}).get("sources") or []
    if any(s.get("downwardAPI") is not None or s.get("serviceAccountToken") is not None for s in sources):
        return False
    for kind, name in refs:
        obj = lookup.get_object(kind, namespace, name)
        if not obj or not obj.get("immutable"):
            return False
    return True
