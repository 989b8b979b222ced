"""Pass 2 of minipod.kube.validate, for one container (init or regular).

_check_container(c, path, is_init, volume_names, errors) checks what a type
alone cannot say about a container, in this order:

  1. name and image   required; the name a DNS label;
  2. restartPolicy    only on init containers (which makes them sidecars);
                      probes and lifecycle hooks only on sidecars and
                      regular containers; grpc probes refused;
  3. numbers          user and group IDs in range, probe counts not negative;
  4. ports            containerPort and hostPort in range, unique names;
  5. volumeMounts     each names a volume of the pod, at a distinct
                      absolute path;
  6. env              names of printable ASCII, valueFrom with exactly one
                      source and a fieldPath minipod can fill in.

Also here: the small rule helpers the pod-level checks use too (_check_name,
_dicts, _check_id, _check_ids, _check_absolute).
"""

from typing import Any

from minipod.kube import implemented, names, schema
from minipod.kube.validate_config_volumes import check_resource, path_problem
from minipod.kube.validate_shape import INT_RANGES, _is_int, _quote, _range_rule, _short, _unsupported

PROPAGATION_MODES = ["None", "HostToContainer", "Bidirectional"]

# ------------------------------------------------------ shared rule helpers


def _check_name(value: Any, path: str, problems_of: Any, errors: list[str]) -> None:
    """Report each problem of a name. Non-strings were reported in pass 1,
    and empty names are reported as missing where a name is required."""
    if isinstance(value, str) and value:
        for problem in problems_of(value):
            errors.append(f"{path}: invalid value {_quote(value)}: {problem}")


def _dicts(parent: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """The (index, item) pairs of a list of maps, skipping anything of the
    wrong type: pass 1 has already reported it."""
    items = parent.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


MAX_ID = 2**31 - 1  # user and group IDs: apimachinery's IsValidUserID / IsValidGroupID


def _check_id(value: Any, path: str, errors: list[str]) -> None:
    low, high = INT_RANGES["integer"]
    if _is_int(value) and low <= value <= high and not 0 <= value <= MAX_ID:  # else: pass 1 said so
        errors.append(f"{path}: invalid value {_short(value)}: {_range_rule(0, MAX_ID)}")


def _check_ids(sc: dict[str, Any], path: str, fields: Any, errors: list[str]) -> None:
    for field in fields:
        _check_id(sc.get(field), f"{path}.{field}", errors)


def _check_absolute(value: Any, path: str, errors: list[str]) -> None:
    if value is None or value == "":
        errors.append(f"{path}: required value")
    elif isinstance(value, str) and not value.startswith("/"):
        errors.append(f"{path}: invalid value {_quote(value)}: must be an absolute path")


def _check_container(
    c: dict[str, Any], path: str, is_init: bool, volume_names: set[str], errors: list[str]
) -> None:
    for field in ("name", "image"):
        if c.get(field) is None or c.get(field) == "":
            errors.append(f"{path}.{field}: required value")
    _check_name(c.get("name"), f"{path}.name", names.dns_label_problems, errors)

    # Like Kubernetes: only init containers may set restartPolicy, which
    # turns them into sidecars that keep running next to the app. A plain
    # init container runs to completion, so it has no use for probes or
    # lifecycle hooks.
    is_sidecar = is_init and c.get("restartPolicy") == "Always"
    for field in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(field), dict) and c[field].get("grpc") is not None:
            errors.append(
                f"{path}.{field}.grpc: not supported by minipod: use exec, httpGet "
                f"or tcpSocket (they need no tool in the image either)"
            )
    if not is_init and c.get("restartPolicy") is not None:
        errors.append(f"{path}.restartPolicy: forbidden: may not be set for non-init containers")
    if is_init and not is_sidecar:
        for field in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if c.get(field) is not None:
                errors.append(
                    f"{path}.{field}: forbidden: may not be set for init "
                    "containers without restartPolicy=Always"
                )

    sc = c.get("securityContext")
    if isinstance(sc, dict):
        _check_ids(sc, f"{path}.securityContext", ("runAsUser", "runAsGroup"), errors)
    for field in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(field)
        if not isinstance(probe, dict):
            continue
        for key in PROBE_COUNTS:
            if _is_int(probe.get(key)) and probe[key] < 0:
                errors.append(
                    f"{path}.{field}.{key}: invalid value {probe[key]}: must be greater than or equal to 0"
                )
    _check_ports(c, path, errors)
    _check_mounts(c, path, volume_names, errors)
    for i, env in _dicts(c, "env"):
        _check_env(env, f"{path}.env[{i}]", errors)


PROBE_COUNTS = (
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
)


def _check_ports(c: dict[str, Any], path: str, errors: list[str]) -> None:
    port_names: set[str] = set()
    for i, port in _dicts(c, "ports"):
        port_path = f"{path}.ports[{i}]"
        number, host_port = port.get("containerPort"), port.get("hostPort")
        if number is None:
            errors.append(f"{port_path}.containerPort: required value")
        elif _is_int(number) and not 1 <= number <= 65535:
            errors.append(
                f"{port_path}.containerPort: invalid value {number}: must be between 1 and 65535, inclusive"
            )
        if _is_int(host_port) and not 0 <= host_port <= 65535:
            errors.append(
                f"{port_path}.hostPort: invalid value {host_port}: must be between 0 and 65535, inclusive"
            )
        name = port.get("name")
        if isinstance(name, str) and name in port_names:
            errors.append(f"{port_path}.name: duplicate value {_quote(name)}")
        elif isinstance(name, str) and name:
            port_names.add(name)
            _check_name(name, f"{port_path}.name", names.port_name_problems, errors)


def _check_mounts(c: dict[str, Any], path: str, volume_names: set[str], errors: list[str]) -> None:
    """Each mount names a volume of the pod and a distinct absolute path."""
    mount_paths: set[str] = set()
    for i, mount in _dicts(c, "volumeMounts"):
        mount_path = f"{path}.volumeMounts[{i}]"
        name = mount.get("name")
        if not name:
            errors.append(f"{mount_path}.name: required value")
        elif isinstance(name, str) and name not in volume_names:
            errors.append(f"{mount_path}.name: not found: no volume named {_quote(name)} in spec.volumes")
        target = mount.get("mountPath")
        _check_absolute(target, f"{mount_path}.mountPath", errors)
        if isinstance(target, str) and target in mount_paths:
            errors.append(f"{mount_path}.mountPath: duplicate value {_quote(target)}")
        elif isinstance(target, str):
            mount_paths.add(target)
        for key in ("subPath", "subPathExpr"):
            value = mount.get(key)
            problem = path_problem(value) if isinstance(value, str) and value else None
            if problem and problem != "must not start with '..'":
                errors.append(f"{mount_path}.{key}: invalid value {_quote(value)}: {problem}")
        if mount.get("subPath") and mount.get("subPathExpr"):
            errors.append(
                f"{mount_path}.subPathExpr: invalid value {_quote(mount['subPathExpr'])}: "
                "subPathExpr and subPath are mutually exclusive"
            )
        _check_propagation(c, mount.get("mountPropagation"), f"{mount_path}.mountPropagation", errors)


def _privileged(c: dict[str, Any]) -> bool:
    sc = c.get("securityContext")
    return isinstance(sc, dict) and sc.get("privileged") is True


def _check_propagation(c: dict[str, Any], mode: Any, path: str, errors: list[str]) -> None:
    """validateMountPropagation: Bidirectional only for a privileged container."""
    if mode is None:
        return
    if mode not in PROPAGATION_MODES:
        errors.append(_unsupported(path, mode, PROPAGATION_MODES))
    elif mode == "Bidirectional" and not _privileged(c):
        errors.append(
            f"{path}: forbidden: Bidirectional mount propagation is available only to privileged containers"
        )


def _check_env(env: dict[str, Any], path: str, errors: list[str]) -> None:
    name = env.get("name")
    if not name:
        errors.append(f"{path}.name: required value")
    elif isinstance(name, str) and any(not 32 <= ord(ch) <= 126 or ch == "=" for ch in name):
        # apimachinery's IsRelaxedEnvVarName (the rule since Kubernetes 1.32)
        errors.append(
            f"{path}.name: invalid value {_short(name)}: a valid environment variable name "
            "must consist only of printable ASCII characters other than '='"
        )
    source = env.get("valueFrom")
    if not isinstance(source, dict):
        return
    if env.get("value"):
        errors.append(f"{path}.valueFrom: invalid value: may not be specified when `value` is not empty")
    chosen = [key for key in schema.ENV_VAR_SOURCE if source.get(key) is not None]
    if len(chosen) != 1:
        errors.append(
            f"{path}.valueFrom: invalid value: must specify exactly one of: "
            + ", ".join(f"`{key}`" for key in schema.ENV_VAR_SOURCE)
        )
    resource_ref = source.get("resourceFieldRef")
    if isinstance(resource_ref, dict):
        check_resource(resource_ref, f"{path}.valueFrom.resourceFieldRef", errors)
    for key in ("configMapKeyRef", "secretKeyRef"):
        ref = source.get(key)
        if isinstance(ref, dict) and not ref.get("key"):
            errors.append(f"{path}.valueFrom.{key}.key: required value")
    field_ref = source.get("fieldRef")
    if isinstance(field_ref, dict):
        field_path = field_ref.get("fieldPath")
        if not field_path:
            errors.append(f"{path}.valueFrom.fieldRef.fieldPath: required value")
        elif (
            isinstance(field_path, str)
            and implemented.env_field_pattern(field_path) not in schema.ENV_FIELD_PATHS
        ):
            errors.append(
                _unsupported(f"{path}.valueFrom.fieldRef.fieldPath", field_path, schema.ENV_FIELD_PATHS)
            )
