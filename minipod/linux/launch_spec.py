"""From a container in a Pod spec to the plan launch.launch() carries out.

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
    5. mounts: as the caller decided them (pod/volumes.py);
    6. the container's own overlay dirs (upperdir, workdir, mount point)
       under the instance's containers dir, its log and its exit file.
"""

import os
import re
from dataclasses import dataclass

from minipod.errors import MinipodError
from minipod.kube import downward_api
from minipod.linux import sandbox as namespaces
from minipod.linux.launch_security import security, verify_run_as_non_root

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
    return downward_api.field_value(path, pod, pod_ip, host_ip)


def build_env(
    image_env: list[str] | None,
    container: dict,
    pod: dict,
    pod_ip: str = "",
    host_ip: str = "",
    declared: dict[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(the process's environment, the spec's own variables).

    As the kubelet does, $(VAR) in a value refers only to variables the
    spec declared before it; the image's Env (and HOSTNAME) are merged in
    afterwards, the way the container runtime adds them. `declared` is
    the spec's variables already resolved (pod/env_sources.py, which also
    reads envFrom and ConfigMap/Secret references); without it only
    values and fieldRefs are read here."""
    if declared is None:
        declared = {}
        for var in container.get("env") or []:
            if "value" in var or "valueFrom" not in var:
                declared[var["name"]] = expand(str(var.get("value") or ""), declared)
            elif (var["valueFrom"] or {}).get("fieldRef"):
                declared[var["name"]] = field_ref(
                    var["valueFrom"]["fieldRef"]["fieldPath"], pod, pod_ip, host_ip
                )
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
    user_range: int | None = None  # hostUsers: false: the host base of the pod's ids


def runtime_file(source: str, dirs: dict) -> bool:
    """Is this mount one of the runtime's own files for the pod (its /etc
    files, termination log, API token: under its run dir, not a memory
    emptyDir)? A user-namespaced pod sees those through an id-mapped
    mount, root's as its root's; volumes it sees as they are (rootfs.py)."""
    return _under(source, dirs["run"]) and not _under(source, dirs["memory_volumes"])


def _under(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory


def build_plan(
    pod: dict,
    container: dict,
    image,
    ctr: Instance,
    mounts: list[dict],
    dirs: dict,
    shim: str,
    node=None,
    declared_env: dict[str, str] | None = None,
) -> dict:
    """Everything process.launch() needs for one start of one container;
    `mounts` as pod/volumes.py decided them, `declared_env` as
    pod/env_sources.py resolved it."""
    config = image.config or {}
    env, declared = build_env(config.get("Env"), container, pod, ctr.pod_ip, ctr.host_ip, declared_env)
    argv = build_argv(config, container, declared)
    verify_run_as_non_root(pod, container, config.get("User", ""))
    sec = security(pod, container, node)
    spec = pod["spec"]
    privileged = bool((container.get("securityContext") or {}).get("privileged"))
    cdir = os.path.join(dirs["containers"], ctr.id)
    for sub in ("upper", "work", "rootfs"):
        os.makedirs(os.path.join(cdir, sub), exist_ok=True)
    init = ctr.init_pid
    userns = None
    if ctr.user_range is not None:
        # What the container writes into its rootfs belongs to its root's host uid.
        os.chown(os.path.join(cdir, "upper"), ctr.user_range, ctr.user_range)
        os.chmod(cdir, 0o711)  # its root steps from here into rootfs/ (rootfs.py, step 6)
        userns = {"path": f"/proc/{init}/ns/user", "base": ctr.user_range}
        mounts = [dict(m, idmap=runtime_file(m["source"], dirs)) for m in mounts]
    join = {t: f"/proc/{init}/ns/{t}" for t in ("net", "ipc", "uts")}
    join["mnt"] = namespaces.pod_mount_ns(init)
    # As on Kubernetes, each container has a pid namespace of its own, where
    # its command is PID 1 (containerd makes a new one per container, beside
    # the sandbox's), unless the pod asks to share: shareProcessNamespace:
    # true puts every container in the pod's, under the pod init.
    share_pid = spec.get("shareProcessNamespace") is True and not spec.get("hostPID")
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
            "userns": userns,
            # procMount: Unmasked (valid only with hostUsers: false): no
            # masked or read-only /proc paths, as containerd clears them.
            "proc_unmasked": (container.get("securityContext") or {}).get("procMount") == "Unmasked",
            "layers_dir": os.path.join(cdir, "layers"),
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
        "stdin_once": bool(container.get("stdinOnce")),
        "log_path": ctr.log_path,
        # Rotation by the container's monitor, as the kubelet rotates logs.
        "log_max_size": node.container_log_max_size if node else 10 * 1024 * 1024,
        "log_max_files": node.container_log_max_files if node else 5,
        "exit_file": ctr.exit_file,
        "shim": shim,
    }
