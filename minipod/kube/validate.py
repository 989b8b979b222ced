"""Strict checking of a v1 Pod manifest, with kubectl-style messages.

validate_pod(obj) looks at a parsed manifest (a dict from YAML or JSON) in
three passes:

  1. shape    walk the manifest beside the schema table (minipod.kube.schema):
              unknown fields (with a "did you mean") and wrong types;
  2. rules    what a type alone cannot say: required fields, name formats,
              duplicates, ranges, references between fields, and the volume
              types minipod can run;
  3. support  fields that are valid Kubernetes but not implemented by
              minipod yet become warnings. What is implemented is decided in
              one place, the tables of minipod.kube.implemented.

Passes 1 and 2 collect every error and raise one ManifestError holding all
of them, so the user fixes everything in one go. Pass 3 only runs on a
valid manifest and returns its warnings as a list of strings.

Every message starts with the path of the field, written the way kubectl
writes it: spec.containers[1].name, metadata.labels[app].
"""

import datetime
import difflib
import json
import re
from typing import Any, TypeGuard

from minipod.errors import ManifestError
from minipod.kube import implemented, names, schema, security_context


def validate_pod(obj: dict[str, Any]) -> list[str]:
    """Check a v1 Pod manifest; return warnings or raise ManifestError."""
    if not isinstance(obj, dict):
        raise ManifestError([f"expected a map at the top level, got {_describe(obj)}"])
    errors: list[str] = []
    _check_shape(obj, schema.POD, "", errors)
    _check_pod_rules(obj, errors)
    if errors:
        raise ManifestError(errors)
    return implemented.collect_warnings(obj)


# ------------------------------------------------------- paths and values


def _field(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _pattern(path: str) -> str:
    """spec.containers[1].name -> spec.containers[].name"""
    return re.sub(r"\[\d+\]", "[]", path)


def _quote(value: Any) -> str:
    """A value as kubectl prints it in a message: strings in quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _is_int(value: Any) -> TypeGuard[int]:
    # In Python, True is an int; in a manifest it is not.
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value: Any) -> str:
    """A value for a message, cut short: an error must not be as big as the
    400-digit number or the megabyte string it is about."""
    text = _quote(value)
    return text if len(text) <= 80 else f"{text[:60]}...({len(text)} characters)"


def _range_rule(low: int, high: int) -> str:
    # apimachinery's InclusiveRangeError
    return f"must be between {low} and {high}, inclusive"


def _describe(value: Any) -> str:
    """What a value is, for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {_quote(value)}"
    if _is_int(value):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {_quote(value)}"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, datetime.date):
        return f"timestamp {value}"
    return type(value).__name__


# ---------------------------------------------------------- pass 1: shape


def _is_list_type(typ: Any) -> bool:
    return isinstance(typ, list)


def _is_map_type(typ: Any) -> bool:
    return isinstance(typ, dict) and set(typ) == {"map"}


def _is_enum_type(typ: Any) -> bool:
    return isinstance(typ, dict) and set(typ) == {"enum"}


def _is_struct_type(typ: Any) -> bool:
    return isinstance(typ, dict) and not _is_map_type(typ) and not _is_enum_type(typ)


def _type_name(typ: Any) -> str:
    if _is_list_type(typ):
        return "list"
    if _is_enum_type(typ):
        return "string"
    if isinstance(typ, dict) or typ == "object":
        return "map"
    return str({"int-or-string": "integer or string", "time": "timestamp", "int32": "integer"}.get(typ, typ))


# A Kubernetes quantity: a number with an optional suffix, such as 2, 0.5,
# 500m (milli), 128Mi (binary mega) or 1e3.
QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")


# The Go types behind "integer" (int64) and "int32": a number outside them
# cannot even be decoded by the API server.
INT_RANGES = {"integer": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}


def _has_scalar_type(value: Any, typ: str) -> bool:
    if typ == "string":
        return isinstance(value, str)
    if typ in INT_RANGES:
        return _is_int(value)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "quantity":
        return isinstance(value, (str, float)) or _is_int(value)
    if typ == "int-or-string":
        return isinstance(value, str) or _is_int(value)
    if typ == "time":
        # Unquoted timestamps come out of YAML as datetime objects.
        return isinstance(value, (str, datetime.date))
    if typ == "object":
        return isinstance(value, dict)
    return typ == "any"


def _check_shape(value: Any, typ: Any, path: str, errors: list[str]) -> None:
    """Pass 1: compare one value with its schema type, then its insides."""
    if value is None:
        return  # null means "not set", as if the field were left out
    expected = f"{path}: expected {_type_name(typ)}, got {_describe(value)}"
    if _is_list_type(typ):
        if not isinstance(value, list):
            errors.append(expected)
            return
        for i, item in enumerate(value):
            if item is None:
                errors.append(f"{path}[{i}]: expected {_type_name(typ[1])}, got null")
            else:
                _check_shape(item, typ[1], f"{path}[{i}]", errors)
    elif _is_map_type(typ):
        if not isinstance(value, dict):
            errors.append(expected)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                errors.append(f"{path}: keys must be strings, got {_describe(key)}")
            else:
                _check_shape(item, typ["map"], f"{path}[{key}]", errors)
    elif _is_enum_type(typ):
        if not isinstance(value, str):
            errors.append(expected)
        elif value and value not in typ["enum"]:  # "" is the same as unset
            errors.append(_unsupported(path, value, typ["enum"]))
    elif _is_struct_type(typ):
        if not isinstance(value, dict):
            errors.append(expected)
            return
        for key, item in value.items():
            if key in typ:
                _check_shape(item, typ[key], _field(path, key), errors)
            else:
                errors.append(_unknown_field(path, key, typ))
    elif not _has_scalar_type(value, typ):
        errors.append(expected)
    elif _is_int(value) and typ in ("integer", "int32", "int-or-string"):
        low, high = INT_RANGES["int32" if typ == "int-or-string" else typ]
        if not low <= value <= high:
            errors.append(f"{path}: invalid value {_short(value)}: {_range_rule(low, high)}")
    elif typ == "quantity" and isinstance(value, str) and not QUANTITY.match(value):
        errors.append(
            f"{path}: invalid value {_quote(value)}: must be a quantity such as 2, 0.5, 500m or 128Mi"
        )


def _unsupported(path: str, value: Any, allowed: Any) -> str:
    choices = ", ".join(_quote(a) for a in allowed)
    return f"{path}: unsupported value {_quote(value)}: supported values: {choices}"


def _struct_homes(root: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every struct in the schema with its path pattern, breadth first,
    up to three levels deep. Deeper structs (probe actions and the like)
    are too specialised to be a sensible guess for a misplaced field."""
    found, queue = [], [("", root)]
    while queue:
        path, typ = queue.pop(0)
        found.append((path, typ))
        for key, child in typ.items():
            child_path = _field(path, key)
            if _is_list_type(child):
                child, child_path = child[1], child_path + "[]"
            if _is_struct_type(child) and child_path.count(".") < 3:
                queue.append((child_path, child))
    return found


_HOMES = _struct_homes(schema.POD)


def _unknown_field(path: str, key: Any, struct: dict[str, Any]) -> str:
    """The message for a field the struct at path does not have.

    If the field exists elsewhere, name the place (the one sharing the
    longest stretch of path with where it was found, e.g. runAsUser in a
    container belongs in its securityContext). Otherwise suggest the
    closest field name of this struct, if one is close enough.
    """
    where = f"{_field(path, key)}: unknown field"
    here = _pattern(path).split(".")
    best, best_shared = None, -1
    for home, typ in _HOMES:
        if key in typ:
            parts = home.split(".") if home else []
            shared = 0
            while shared < min(len(parts), len(here)) and parts[shared] == here[shared]:
                shared += 1
            if shared > best_shared:
                best, best_shared = home, shared
    if best is not None:
        return f'{where}; "{key}" belongs {"in " + best if best else "at the top level"}'
    close = difflib.get_close_matches(str(key), list(struct), n=1)
    return f"{where}; did you mean {close[0]}?" if close else where


# ---------------------------------------------------------- pass 2: rules


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


def _check_pod_rules(pod: dict[str, Any], errors: list[str]) -> None:
    for key, wanted in (("apiVersion", "v1"), ("kind", "Pod")):
        value = pod.get(key)
        if value is None or value == "":
            errors.append(f"{key}: required value")
        elif isinstance(value, str) and value != wanted:
            errors.append(_unsupported(key, value, [wanted]))

    metadata = pod.get("metadata")
    if metadata is None or isinstance(metadata, dict):  # else: pass 1 said so
        _check_metadata(metadata or {}, errors)

    spec = pod.get("spec")
    if spec is None:
        errors.append("spec: required value")
    elif isinstance(spec, dict):
        _check_spec(spec, errors)
    errors.extend(security_context.check_pod(pod))


TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024  # bytes, keys and values together


def _check_metadata(meta: dict[str, Any], errors: list[str]) -> None:
    name, generate_name = meta.get("name"), meta.get("generateName")
    if not name and not generate_name:
        errors.append("metadata.name: required value: name or generateName is required")
    _check_name(name, "metadata.name", names.dns_subdomain_problems, errors)
    if isinstance(generate_name, str) and generate_name and not name:
        # A prefix: the server appends random characters, so a trailing
        # '-' is fine (web- becomes web-x7k2p).
        prefix = generate_name[:-1] + "a" if generate_name.endswith("-") else generate_name
        for problem in names.dns_subdomain_problems(prefix):
            errors.append(f"metadata.generateName: invalid value {_quote(generate_name)}: " + problem)
    _check_name(meta.get("namespace"), "metadata.namespace", names.dns_label_problems, errors)

    labels = meta.get("labels")
    for key, value in labels.items() if isinstance(labels, dict) else []:
        if key == "":
            errors.append('metadata.labels: invalid value "": name part must be non-empty')
        _check_name(key, "metadata.labels", names.qualified_name_problems, errors)
        _check_name(value, f"metadata.labels[{key}]", names.label_value_problems, errors)
    annotations = meta.get("annotations")
    for key in annotations if isinstance(annotations, dict) else []:
        # Like Kubernetes: the case of annotation keys does not matter
        # (tools write keys such as io.kubernetes.cri-o.TTY/web).
        for problem in names.qualified_name_problems(str(key).lower()):
            errors.append(f"metadata.annotations: invalid value {_short(key)}: {problem}")
    if isinstance(annotations, dict):
        # apimachinery's ValidateAnnotationsSize: keys and values, in bytes.
        size = sum(len(str(k).encode()) + len(str(v or "").encode()) for k, v in annotations.items())
        if size > TOTAL_ANNOTATION_SIZE_LIMIT:
            errors.append(
                f"metadata.annotations: too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"
            )


def _check_spec(spec: dict[str, Any], errors: list[str]) -> None:
    if spec.get("containers") in (None, []):
        errors.append("spec.containers: required value")

    volume_names = _check_volumes(spec, errors)

    # Container names are unique across init and regular containers.
    seen_names: set[str] = set()
    for kind in ("initContainers", "containers"):
        for i, container in _dicts(spec, kind):
            path = f"spec.{kind}[{i}]"
            name = container.get("name")
            if isinstance(name, str) and name in seen_names:
                errors.append(f"{path}.name: duplicate value {_quote(name)}")
            elif isinstance(name, str):
                seen_names.add(name)
            _check_container(container, path, kind == "initContainers", volume_names, errors)

    grace = spec.get("terminationGracePeriodSeconds")
    if _is_int(grace) and grace < 0:
        errors.append(
            f"spec.terminationGracePeriodSeconds: invalid value {grace}: must be greater than or equal to 0"
        )
    deadline = spec.get("activeDeadlineSeconds")
    if _is_int(deadline) and deadline < 1:
        errors.append(
            f"spec.activeDeadlineSeconds: invalid value {deadline}: must be greater than or equal to 1"
        )
    for field in ("hostname", "subdomain"):
        _check_name(spec.get(field), f"spec.{field}", names.dns_label_problems, errors)
    pod_sc = spec.get("securityContext")
    if isinstance(pod_sc, dict):
        _check_ids(pod_sc, "spec.securityContext", ("runAsUser", "runAsGroup", "fsGroup"), errors)
        groups = pod_sc.get("supplementalGroups")
        for i, gid in enumerate(groups if isinstance(groups, list) else []):
            _check_id(gid, f"spec.securityContext.supplementalGroups[{i}]", errors)
    if spec.get("hostPID") is True and spec.get("shareProcessNamespace") is True:
        errors.append(
            "spec.shareProcessNamespace: invalid value true: "
            "ShareProcessNamespace and HostPID cannot both be enabled"
        )


MAX_ID = 2**31 - 1  # user and group IDs: apimachinery's IsValidUserID / IsValidGroupID


def _check_id(value: Any, path: str, errors: list[str]) -> None:
    low, high = INT_RANGES["integer"]
    if _is_int(value) and low <= value <= high and not 0 <= value <= MAX_ID:  # else: pass 1 said so
        errors.append(f"{path}: invalid value {_short(value)}: {_range_rule(0, MAX_ID)}")


def _check_ids(sc: dict[str, Any], path: str, fields: Any, errors: list[str]) -> None:
    for field in fields:
        _check_id(sc.get(field), f"{path}.{field}", errors)


def _check_volumes(spec: dict[str, Any], errors: list[str]) -> set[str]:
    """Check spec.volumes; return the volume names, for volumeMounts."""
    seen: set[str] = set()
    supported = implemented.SUPPORTED_VOLUME_TYPES
    for i, volume in _dicts(spec, "volumes"):
        path = f"spec.volumes[{i}]"
        name = volume.get("name")
        if not name:
            errors.append(f"{path}.name: required value")
        elif isinstance(name, str) and name in seen:
            errors.append(f"{path}.name: duplicate value {_quote(name)}")
        elif isinstance(name, str):
            seen.add(name)
            _check_name(name, f"{path}.name", names.dns_label_problems, errors)

        sources = [key for key in schema.VOLUME_SOURCE if volume.get(key) is not None]
        if not sources:
            errors.append(f"{path}: required value: must specify a volume type")
        for extra in sources[1:]:
            errors.append(f"{path}.{extra}: forbidden: may not specify more than 1 volume type")
        for source in sources:
            # The cluster's token volume is let through: it is skipped
            # with a warning (see minipod.kube.implemented).
            if source not in supported and not implemented.is_service_account_volume(volume):
                errors.append(
                    f"{path}.{source}: volume type not supported by minipod yet "
                    f"(supported: {', '.join(supported)})"
                )

        host_path = volume.get("hostPath")
        if isinstance(host_path, dict):
            _check_absolute(host_path.get("path"), f"{path}.hostPath.path", errors)
        empty_dir = volume.get("emptyDir")
        medium = empty_dir.get("medium") if isinstance(empty_dir, dict) else None
        if (
            isinstance(medium, str)
            and medium not in ("", "Memory", "HugePages")
            and not medium.startswith("HugePages-")
        ):
            errors.append(
                _unsupported(
                    f"{path}.emptyDir.medium", medium, ["", "Memory", "HugePages", "HugePages-<size>"]
                )
            )
    return seen


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
