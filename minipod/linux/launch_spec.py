"""From a container in a Pod spec to the plan process.launch() carries out.

The kubelet's rules, in the order they are applied:
    1. environment: the image's Env, then the spec's `env` in order, each
       value with $(VAR) references expanded against the variables defined
       before it ($$(VAR) escapes to a literal $(VAR));
    2. command line: `command` replaces the image's Entrypoint, `args`
       replaces its Cmd; setting `command` alone also drops the Cmd;
    3. working directory: `workingDir`, else the image's, else /;
    4. user: securityContext.runAsUser/runAsGroup (container over pod),
       else the image's User; capabilities, no_new_privs and the seccomp
       filter (launch_security.py);
    5. mounts: the pod's /etc/hosts, /etc/hostname, /etc/resolv.conf, then
       each volumeMount (an emptyDir or hostPath of the pod);
    6. the container's own overlay dirs (upperdir, workdir, mount point)
       under the instance's containers dir, its log and its exit file.
"""

import os
import re
from dataclasses import dataclass

from minipod.errors import MinipodError
from minipod.kube.implemented import is_service_account_volume
from minipod.linux import sandbox as namespaces
from minipod.linux.launch_security import security, verify_run_as_non_root
from minipod.paths import path_in

# Where a pod's kube-api-access volume is written, in its run dir.
API_ACCESS_DIR = "kube-api-access"

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined variables are replaced, unknown
    references are left as they are, and $$ is a literal $."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR_REF.sub(sub, value)


def field_ref(path: str, pod: dict, pod_ip: str = "", host_ip: str = "") -> str:
    """The downward API values a `valueFrom.fieldRef` may name."""
    meta, spec = pod["metadata"], pod["spec"]
    simple = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta["namespace"],
        "metadata.uid": meta["uid"],
        "spec.nodeName": spec.get("nodeName") or os.uname().nodename,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": pod_ip,
        "status.hostIP": host_ip,
    }
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    raise MinipodError(f"fieldRef {path!r} is not supported")


def build_env(
    image_env: list[str], container: dict, pod: dict, pod_ip: str = "", host_ip: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """(the process's environment, the spec's own variables).

    As the kubelet does, $(VAR) in a value refers only to variables the
    spec declared before it; the image's Env (and HOSTNAME) are merged in
    afterwards, the way the container runtime adds them."""
    declared: dict[str, str] = {}
    for var in container.get("env") or []:
        if "value" in var or "valueFrom" not in var:
            declared[var["name"]] = expand(str(var.get("value") or ""), declared)
        elif (var["valueFrom"] or {}).get("fieldRef"):
            declared[var["name"]] = field_ref(var["valueFrom"]["fieldRef"]["fieldPath"], pod, pod_ip, host_ip)
    env: dict[str, str] = {}
    for item in image_env or []:
        k, _, v = item.partition("=")
        env[k] = v
    # As containerd does, the container's hostname is in $HOSTNAME: the
    # node's with hostNetwork, else the pod's.
    spec = pod["spec"]
    env["HOSTNAME"] = (
        os.uname().nodename if spec.get("hostNetwork") else (spec.get("hostname") or pod["metadata"]["name"])
    )
    env.update(declared)
    return env, declared


def build_argv(image_config: dict, container: dict, env: dict[str, str]) -> list[str]:
    entrypoint = image_config.get("Entrypoint") or []
    cmd = image_config.get("Cmd") or []
    command, args = container.get("command"), container.get("args")
    if command:
        argv = list(command) + list(args or [])
    else:
        argv = list(entrypoint) + list(args if args else cmd)
    argv = [expand(str(a), env) for a in argv]
    if not argv:
        raise MinipodError(
            "no command specified: the image has no Entrypoint or Cmd and the container sets no command"
        )
    return argv


def volume_source(pod: dict, name: str, dirs: dict) -> str:
    """The host directory behind a volume of the pod."""
    for vol in pod["spec"].get("volumes") or []:
        if vol["name"] != name:
            continue
        if "emptyDir" in vol:
            medium = (vol["emptyDir"] or {}).get("medium", "")
            return path_in(dirs["memory_volumes" if medium == "Memory" else "disk_volumes"], name)
        if "hostPath" in vol:
            return host_path(vol["hostPath"], f"volume {name!r}")
    raise MinipodError(f"volume {name!r} is not defined in spec.volumes")


def host_path(hp: dict, what: str) -> str:
    """Apply hostPath `type` checks as the kubelet does."""
    path, kind = hp["path"], hp.get("type") or ""
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    checks = {
        "Directory": os.path.isdir,
        "File": os.path.isfile,
        "Socket": lambda p: _is_type(p, "S_ISSOCK"),
        "CharDevice": lambda p: _is_type(p, "S_ISCHR"),
        "BlockDevice": lambda p: _is_type(p, "S_ISBLK"),
    }
    if kind in checks and not checks[kind](path):
        raise MinipodError(f"{what}: hostPath type check failed: {path} is not a {kind}")
    if not os.path.exists(path):
        # An empty type means "no checks": the kubelet still needs the path to bind it.
        os.makedirs(path, mode=0o755, exist_ok=True)
    return path


def _is_type(path: str, test: str) -> bool:
    import stat

    try:
        return getattr(stat, test)(os.stat(path).st_mode)
    except OSError:
        return False


@dataclass
class Instance:
    """One start of one container, as the pod worker set it up: its ID, its
    files, and the pod it joins (the PID 1 holding its namespaces)."""

    id: str
    log_path: str
    exit_file: str
    termination_file: str
    init_pid: int
    pod_ip: str = ""
    host_ip: str = ""


def build_plan(pod: dict, container: dict, image, ctr: Instance, dirs: dict, shim: str, node=None) -> dict:
    """Everything process.launch() needs for one start of one container."""
    config = image.config or {}
    env, declared = build_env(config.get("Env"), container, pod, ctr.pod_ip, ctr.host_ip)
    argv = build_argv(config, container, declared)
    verify_run_as_non_root(pod, container, config.get("User", ""))
    sec = security(pod, container, node)
    spec = pod["spec"]
    mounts = [
        {"source": os.path.join(dirs["run"], name), "target": f"/etc/{name}"}
        for name in ("hosts", "hostname", "resolv.conf")
    ]
    # terminationMessagePath: a file of the runtime's, read after the exit.
    mounts.append(
        {
            "source": ctr.termination_file,
            "target": container.get("terminationMessagePath") or "/dev/termination-log",
        }
    )
    token_dir = os.path.join(dirs["run"], API_ACCESS_DIR)
    skipped = {v["name"] for v in spec.get("volumes") or [] if is_service_account_volume(v)}
    empty_dirs = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
    privileged = bool((container.get("securityContext") or {}).get("privileged"))
    for vm in container.get("volumeMounts") or []:
        if vm["name"] in skipped:
            # The token volume: this instance's token, CA and namespace when
            # its Kubernetes API wrote them (kubeapi/pod_access.py), else skipped.
            if os.path.isdir(token_dir):
                mounts.append({"source": token_dir, "target": vm["mountPath"], "readonly": True})
            continue
        mounts.append(
            {
                "source": volume_source(pod, vm["name"], dirs),
                "target": vm["mountPath"],
                "readonly": bool(vm.get("readOnly")),
                # A device node made in an emptyDir must not open a host
                # device (with CAP_MKNOD, a default capability).
                "nodev": vm["name"] in empty_dirs and not privileged,
            }
        )
    cdir = os.path.join(dirs["containers"], ctr.id)
    for sub in ("upper", "work", "rootfs"):
        os.makedirs(os.path.join(cdir, sub), exist_ok=True)
    init = ctr.init_pid
    join = {t: f"/proc/{init}/ns/{t}" for t in ("net", "ipc", "uts")}
    join["mnt"] = namespaces.pod_mount_ns(init)
    share_pid = spec.get("shareProcessNamespace", True) is not False and not spec.get("hostPID")
    if share_pid:
        join["pid"] = f"/proc/{init}/ns/pid"
    return {
        "join": join,
        "new_pid_ns": not share_pid and not spec.get("hostPID"),
        "rootfs": {
            "target": os.path.join(cdir, "rootfs"),
            "lowerdir": image.lowerdir(),
            "upperdir": os.path.join(cdir, "upper"),
            "workdir": os.path.join(cdir, "work"),
            "shm": "/dev/shm" if spec.get("hostIPC") else dirs["shm"],
            "mounts": mounts,
            "readonly_root": sec["readonly_root"],
            "nodev": not privileged,
        },
        "argv": argv,
        "env": env,
        "cwd": container.get("workingDir") or config.get("WorkingDir") or "/",
        "user": config.get("User", ""),
        "run_as_user": sec["run_as_user"],
        "run_as_group": sec["run_as_group"],
        "supplemental_groups": sec["supplemental_groups"],
        "caps": sec["caps"],
        "no_new_privs": sec["no_new_privs"],
        "seccomp": sec["seccomp"],
        "tty": bool(container.get("tty")),
        "stdin": bool(container.get("stdin")),
        "log_path": ctr.log_path,
        # Rotation by the container's monitor, as the kubelet rotates logs.
        "log_max_size": node.container_log_max_size if node else 10 * 1024 * 1024,
        "log_max_files": node.container_log_max_files if node else 5,
        "exit_file": ctr.exit_file,
        "shim": shim,
    }
