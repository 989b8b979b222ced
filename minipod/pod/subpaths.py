"""subPath and subPathExpr of a volumeMount, decided before each start
(the kubelet's makeMounts), in order:
    1. the path: `subPath`, or `subPathExpr` with $(VAR) expanded from the
       container's env; it must be relative and without '..';
    2. a configMap, secret, downwardAPI or projected volume: the file or
       directory is copied (a snapshot, in the pod's run dir) and that is
       mounted: it does not follow updates, as in Kubernetes, and it stays
       whole when the atomic writer removes the version it came from;
    3. any other volume (the container can write into it): the subPath is
       made if missing and checked to stay inside the volume
       (linux/subpath.py); the container's child opens it again without
       following any symlink and mounts that open file.
Errors carry the kubelet's words, which name the mount and the container
but not the host's paths: the container waits, CreateContainerConfigError.
"""

import os
import shutil
from typing import Any

from minipod.errors import MinipodError
from minipod.linux import subpath
from minipod.linux.launch_spec import expand


def subpath_of(vm: dict[str, Any], env: dict[str, str]) -> str:
    """Step 1."""
    if vm.get("subPathExpr"):
        path = expand(vm["subPathExpr"], env)
    else:
        path = vm.get("subPath") or ""
    if path.startswith("/"):
        raise MinipodError(f"error SubPath `{path}` must not be an absolute path")
    if ".." in path.split("/"):
        raise MinipodError(f"unable to provision SubPath `{path}`: must not contain '..'")
    return path


def prepare(
    vm: dict[str, Any], source: str, is_config: bool, env: dict[str, str], snapshot: str, container: str
) -> dict[str, Any]:
    """What to add to the mount entry: {} without a subPath; a new source
    (step 2); or the subPath the child opens beneath the source (step 3)."""
    path = subpath_of(vm, env)
    if not path:
        return {}
    failed = f'failed to prepare subPath for volumeMount "{vm["name"]}" of container "{container}"'
    if is_config:
        resolved = subpath.within(source, path)
        if resolved is None or not os.path.exists(os.path.join(source, resolved)):
            raise MinipodError(failed)
        shutil.rmtree(snapshot, ignore_errors=True)
        os.makedirs(os.path.dirname(snapshot), mode=0o755, exist_ok=True)
        full = os.path.join(source, resolved)
        if os.path.isdir(full):
            shutil.copytree(full, snapshot)
        else:
            shutil.copy2(full, snapshot)
        return {"source": snapshot}
    try:
        return {"subpath": subpath.check(source, path)}
    except (MinipodError, OSError):
        raise MinipodError(failed) from None
