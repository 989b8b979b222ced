"""A CRI ContainerConfig as a v1 container of the sandbox's pod: pure.

container_spec() builds the container entry and the hostPath volumes its
mounts need, in order:
    1. name (the record's: the kubelet's name and attempt, so attempt 1
       can be created beside the dead attempt 0), image (as pulled: the
       kubelet pulls through the ImageService first, so imagePullPolicy
       Never), command and args as given (empty: the image's), working
       directory, env, tty and stdin;
    2. mounts: each a hostPath volume of the pod (type "", no check) and
       its volumeMount, read-only and propagation as given;
    3. security: capabilities, privileged, user and group, read-only
       rootfs, no_new_privs (allowPrivilegeEscalation: false), seccomp
       (none given: Unconfined, as the kubelet means it);
    4. resources: the CPU quota/period and shares, the memory limit, as
       the limits and requests the runtime turns into cgroup values;
    5. plan_overrides(): what a v1 container has no field for (a user by
       name, its own supplemental groups, masked and read-only paths, host
       devices).
"""

from typing import Any

RUNTIME_DEFAULT, UNCONFINED, LOCALHOST = 0, 1, 2  # runtime.v1 SecurityProfile.ProfileType
PROPAGATION = {
    0: None,
    1: "HostToContainer",
    2: "Bidirectional",
}  # PROPAGATION_PRIVATE, HOST_TO_CONTAINER, BIDIRECTIONAL


class ConfigError(ValueError):
    """A config the runtime cannot run: INVALID_ARGUMENT, naming the field."""


def record_name(config: Any) -> str:
    return f"{config.metadata.name}-{config.metadata.attempt}"


def container_spec(config: Any, volume_prefix: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Steps 1-4: the container and the pod volumes it mounts (named
    VOLUME_PREFIX-N, unique in the pod)."""
    if not config.metadata.name:
        raise ConfigError("config.metadata.name: required")
    if not config.image.image:
        raise ConfigError("config.image.image: required")
    c: dict[str, Any] = {
        "name": record_name(config),
        "image": config.image.image,
        "imagePullPolicy": "Never",
        "terminationMessagePolicy": "File",
    }
    if config.command:
        c["command"] = list(config.command)
    if config.args:
        c["args"] = list(config.args)
    if config.working_dir:
        c["workingDir"] = config.working_dir
    if config.envs:
        c["env"] = [{"name": e.key, "value": e.value} for e in config.envs]
    for flag, key in ((config.tty, "tty"), (config.stdin, "stdin"), (config.stdin_once, "stdinOnce")):
        if flag:
            c[key] = True
    volumes, mounts = [], []
    for n, m in enumerate(config.mounts):
        if not m.container_path or not m.host_path:
            raise ConfigError(f"config.mounts[{n}]: container_path and host_path are required")
        name = f"{volume_prefix}-{n}"
        volumes.append({"name": name, "hostPath": {"path": m.host_path}})
        mount: dict[str, Any] = {"name": name, "mountPath": m.container_path}
        if m.readonly:
            mount["readOnly"] = True
        if PROPAGATION.get(m.propagation):
            mount["mountPropagation"] = PROPAGATION[m.propagation]
        mounts.append(mount)
    if mounts:
        c["volumeMounts"] = mounts
    sc = security_context(config.linux.security_context)
    if sc:
        c["securityContext"] = sc
    res = resources(config.linux.resources)
    if res:
        c["resources"] = res
    return c, volumes


def plan_overrides(config: Any) -> dict[str, Any]:
    """What the CRI says per container that a v1 container cannot: a user
    by name, supplemental groups, the masked and read-only paths (given:
    those exactly; none: the runtime's defaults, as containerd)."""
    sc = config.linux.security_context
    out: dict[str, Any] = {}
    if sc.run_as_username and not sc.HasField("run_as_user"):
        out["user"] = sc.run_as_username
    if sc.supplemental_groups:
        out["supplemental_groups"] = list(sc.supplemental_groups)
    if sc.masked_paths:
        out["masked_paths"] = list(sc.masked_paths)
    if sc.readonly_paths:
        out["readonly_paths"] = list(sc.readonly_paths)
    devices = []
    for n, d in enumerate(config.devices):
        if not d.host_path.startswith("/") or not d.container_path.startswith("/"):
            raise ConfigError(f"config.devices[{n}]: host_path and container_path must be absolute paths")
        devices.append(
            {"host_path": d.host_path, "container_path": d.container_path, "permissions": d.permissions}
        )
    if devices:
        out["devices"] = devices
    return out


def security_context(sc: Any) -> dict[str, Any]:
    """Step 3."""
    out: dict[str, Any] = {}
    caps = {
        "add": [_cap(x) for x in sc.capabilities.add_capabilities],
        "drop": [_cap(x) for x in sc.capabilities.drop_capabilities],
    }
    caps = {k: v for k, v in caps.items() if v}
    if caps:
        out["capabilities"] = caps
    if sc.privileged:
        out["privileged"] = True
    if sc.HasField("run_as_user"):
        out["runAsUser"] = sc.run_as_user.value
    if sc.HasField("run_as_group"):
        if not sc.HasField("run_as_user") and not sc.run_as_username:
            raise ConfigError(
                "config.linux.security_context.run_as_group: set without run_as_user or run_as_username"
            )
        out["runAsGroup"] = sc.run_as_group.value
    if sc.readonly_rootfs:
        out["readOnlyRootFilesystem"] = True
    if sc.no_new_privs:
        out["allowPrivilegeEscalation"] = False
    out["seccompProfile"] = seccomp_profile(sc)
    return out


def _cap(name: str) -> str:
    """The kubelet sends NET_ADMIN; some clients CAP_NET_ADMIN: v1 has no prefix."""
    return name.upper().removeprefix("CAP_")


def seccomp_profile(sc: Any) -> dict[str, str]:
    if sc.HasField("seccomp"):
        kind = sc.seccomp.profile_type
        if kind == RUNTIME_DEFAULT:
            return {"type": "RuntimeDefault"}
        if kind == LOCALHOST:
            return {"type": "Localhost", "localhostProfile": sc.seccomp.localhost_ref}
        return {"type": "Unconfined"}
    path = sc.seccomp_profile_path  # the older field: "runtime/default", "localhost/PATH"
    if path in ("runtime/default", "docker/default"):
        return {"type": "RuntimeDefault"}
    if path.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": path.removeprefix("localhost/")}
    if path not in ("", "unconfined"):
        raise ConfigError(
            f"config.linux.security_context.seccomp_profile_path: {path!r} is not runtime/default, "
            "unconfined or localhost/PATH"
        )
    return {"type": "Unconfined"}


def resources(r: Any) -> dict[str, Any]:
    """Step 4: the kubelet's cgroup values back as limits and requests
    (CPU in millicores: quota/period; shares * 1000 / 1024)."""
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    if r.cpu_quota > 0 and r.cpu_period > 0:
        limits["cpu"] = f"{max(1, r.cpu_quota * 1000 // r.cpu_period)}m"
    if r.cpu_shares > 2:  # 2: the kubelet's minimum, for no request
        requests["cpu"] = f"{max(1, r.cpu_shares * 1000 // 1024)}m"
    if r.memory_limit_in_bytes > 0:
        limits["memory"] = str(r.memory_limit_in_bytes)
    out: dict[str, Any] = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out
