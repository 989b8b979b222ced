"""The pod's volumes, decided in one place: where each lives on the host
and what each container mounts. The mounting itself happens in the forked
children (linux/sandbox.py mounts the memory tmpfs; linux/rootfs.py binds
what a container's plan lists), which only do what this module decided.

In order:
    1. make_volumes(): a disk emptyDir is a directory under the instance's
       lib dir, world-writable as the kubelet makes it (0777, whatever the
       umask), and owned by the pod's fsGroup when it sets one; a memory emptyDir (medium: Memory) is a directory under the
       pod's run dir on which the sandbox mounts a tmpfs (returned, for the
       sandbox's plan);
    2. volume_source(): the host path behind a volume: an emptyDir's
       directory, a hostPath checked and created per its `type`, or the
       bound PersistentVolume's directory of a persistentVolumeClaim or
       ephemeral volume (dirs["claims"], from minipod.storage);
    3. container_mounts(): what one container mounts (each naming itself,
       so a failed mount says "volume data at /data: mount(...): ..."): the pod's
       /etc/hosts, /etc/hostname, /etc/resolv.conf, its termination-message
       file, then each volumeMount (a cluster's service-account token is
       this instance's, when its Kubernetes API wrote one; else skipped),
       with its subPath or subPathExpr (subpaths.py).
"""

import os
import stat
from collections.abc import Callable
from typing import Any

from minipod.errors import MinipodError
from minipod.kube import resources
from minipod.kube.implemented import is_service_account_volume
from minipod.linux import volume_ownership
from minipod.linux.launch_spec import API_ACCESS_DIR
from minipod.paths import path_in
from minipod.pod import config_volumes, subpaths


def make_volumes(pod: dict[str, Any], dirs: dict[str, Any], user_range: int | None = None) -> list[str]:
    """Step 1; returns the directories that get a tmpfs. `user_range`: a
    hostUsers: false pod's host base (linux/userns.py): its emptyDirs
    belong to its root, and fsGroup is the host gid that group maps to."""
    memory = []
    pod_sc = pod["spec"].get("securityContext") or {}
    for v in pod["spec"].get("volumes") or []:
        if "emptyDir" not in v:
            continue
        path = volume_source(pod, v["name"], dirs)
        if (v["emptyDir"] or {}).get("medium") == "Memory":
            memory.append(path)
        os.makedirs(path, exist_ok=True)
        # World-writable, as the kubelet makes every emptyDir, so a
        # non-root container can use it.
        os.chmod(path, 0o777)
        if user_range is not None:
            os.chown(path, user_range, user_range)
        if pod_sc.get("fsGroup") is not None:
            group = pod_sc["fsGroup"] + (user_range or 0)
            volume_ownership.apply(path, group, pod_sc.get("fsGroupChangePolicy"))
    return memory


def volume_source(pod: dict[str, Any], name: str, dirs: dict[str, Any]) -> str:
    """Step 2: the host directory behind a volume of the pod."""
    for vol in pod["spec"].get("volumes") or []:
        if vol["name"] != name:
            continue
        if "emptyDir" in vol:
            medium = (vol["emptyDir"] or {}).get("medium", "")
            return path_in(dirs["memory_volumes" if medium == "Memory" else "disk_volumes"], name)
        if "hostPath" in vol:
            return host_path(vol["hostPath"], f"volume {name!r}")
        if config_volumes.is_config_volume(vol):
            return config_volumes.volume_dir(dirs, name)
        if "persistentVolumeClaim" in vol or "ephemeral" in vol:
            # The bound PersistentVolume's directory (minipod.storage): the
            # scheduler placed the pod only once every claim was bound.
            source = (dirs.get("claims") or {}).get(name)
            if source is None:
                raise MinipodError(f"volume {name!r}: its PersistentVolumeClaim is not bound to a volume")
            return host_path(source, f"volume {name!r}")
    raise MinipodError(f"volume {name!r} is not defined in spec.volumes")


def host_path(hp: dict[str, Any], what: str) -> str:
    """Apply hostPath `type` checks as the kubelet does."""
    path: str = hp["path"]
    kind = hp.get("type") or ""
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    checks: dict[str, Callable[[str], bool]] = {
        "Directory": os.path.isdir,
        "File": os.path.isfile,
        "Socket": lambda p: _is_type(p, stat.S_ISSOCK),
        "CharDevice": lambda p: _is_type(p, stat.S_ISCHR),
        "BlockDevice": lambda p: _is_type(p, stat.S_ISBLK),
    }
    if kind in checks and not checks[kind](path):
        raise MinipodError(f"{what}: hostPath type check failed: {path} is not a {kind}")
    if not os.path.exists(path):
        # An empty type means "no checks": the kubelet still needs the path to bind it.
        os.makedirs(path, mode=0o755, exist_ok=True)
    return path


def _is_type(path: str, test: Callable[[int], bool]) -> bool:
    try:
        return bool(test(os.stat(path).st_mode))
    except OSError:
        return False


def container_mounts(
    pod: dict[str, Any],
    container: dict[str, Any],
    dirs: dict[str, Any],
    termination_file: str,
    env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Step 3: [{source, target, readonly}] for one container, in mount order
    (`env`: the container's declared variables, for subPathExpr)."""
    mounts: list[dict[str, Any]] = [
        {"source": os.path.join(dirs["run"], name), "target": f"/etc/{name}"}
        for name in ("hosts", "hostname", "resolv.conf")
    ]
    # terminationMessagePath: a file of the runtime's, read after the exit.
    mounts.append(
        {
            "source": termination_file,
            "target": container.get("terminationMessagePath") or "/dev/termination-log",
        }
    )
    volumes = pod["spec"].get("volumes") or []
    token_dir = os.path.join(dirs["run"], API_ACCESS_DIR)
    skipped = {v["name"] for v in volumes if is_service_account_volume(v)}
    empty_dirs = {v["name"] for v in volumes if "emptyDir" in v}
    # configMap, secret, downwardAPI, projected: always read-only, as the kubelet mounts them.
    config = {v["name"] for v in volumes if config_volumes.is_config_volume(v)}
    # persistentVolumeClaim.readOnly makes every mount of the claim read-only.
    read_only_claims = {v["name"] for v in volumes if (v.get("persistentVolumeClaim") or {}).get("readOnly")}
    privileged = bool((container.get("securityContext") or {}).get("privileged"))
    for i, vm in enumerate(container.get("volumeMounts") or []):
        if vm["name"] in skipped:
            # The token volume: this instance's token, CA and namespace when
            # its Kubernetes API wrote them (kubeapi/pod_access.py), else skipped.
            if os.path.isdir(token_dir):
                mounts.append({"source": token_dir, "target": vm["mountPath"], "readonly": True})
            continue
        source = volume_source(pod, vm["name"], dirs)
        mount = {
            "source": source,
            "target": vm["mountPath"],
            "readonly": bool(vm.get("readOnly")) or vm["name"] in config or vm["name"] in read_only_claims,
            # A device node made in an emptyDir must not open a host
            # device (with CAP_MKNOD, a default capability).
            "nodev": vm["name"] in empty_dirs and not privileged,
            "what": f"volume {vm['name']} at {vm['mountPath']}",
        }
        if vm.get("mountPropagation") in ("HostToContainer", "Bidirectional"):
            mount["propagation"] = vm["mountPropagation"]
        snapshot = path_in(dirs["run"], "subpaths", container["name"], str(i))
        mount.update(
            subpaths.prepare(vm, source, vm["name"] in config, env or {}, snapshot, container["name"])
        )
        mounts.append(mount)
    return mounts


def memory_volume_sizes(pod: dict[str, Any], dirs: dict[str, Any]) -> dict[str, Any]:
    """emptyDir.sizeLimit of each memory volume: the size of its tmpfs."""
    return {
        path_in(dirs["memory_volumes"], v["name"]): resources.empty_dir_size_limit(v)
        for v in pod["spec"].get("volumes") or []
        if "emptyDir" in v
    }
