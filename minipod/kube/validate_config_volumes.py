"""The API server's checks of configMap, secret, downwardAPI and projected
volumes (pkg/apis/core/validation), in its wording; check() is called by
validate.py for each volume. In order:
    1. the object's name (configMap.name, secret.secretName) is set;
    2. each `items` entry: a `key`, a `path` that stays below the volume
       (relative, no '..' part, not starting with '..'), a `mode` in 0..0777;
    3. `defaultMode` in 0..0777;
    4. downwardAPI files: exactly one of fieldRef (a field a file may hold)
       and resourceFieldRef (with its containerName and a known resource);
    5. projected: one source per entry, no path given twice, a token
       path and an expirationSeconds of at least 10 minutes.
"""

from typing import Any

from minipod.kube import implemented, schema
from minipod.kube.validate_shape import _quote, _unsupported

MODE_RULE = "must be a number between 0 and 0777 (octal), both inclusive"
RESOURCES = [
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
]


def _list(value: Any) -> list[Any]:
    """A list field, or nothing to look at (its type error is reported by the shape check)."""
    return value if isinstance(value, list) else []


def path_problem(path: str) -> str | None:
    """validateLocalNonReservedPath."""
    if path.startswith("/"):
        return "must be a relative path"
    if ".." in path.split("/"):
        return "must not contain '..'"
    if path.startswith(".."):
        return "must not start with '..'"
    return None


def _mode(value: Any, path: str, errors: list[str]) -> None:
    if isinstance(value, int) and not 0 <= value <= 0o777:
        errors.append(f"{path}: invalid value {value}: {MODE_RULE}")


def _file_path(value: Any, path: str, errors: list[str], seen: set[str]) -> None:
    if not value:
        errors.append(f"{path}: required value")
        return
    if not isinstance(value, str):
        return
    problem = path_problem(value)
    if problem:
        errors.append(f"{path}: invalid value {_quote(value)}: {problem}")
    elif value in seen:
        errors.append(f"{path}: invalid value {_quote(value)}: conflicting duplicate paths")
    seen.add(value)


def _items(src: dict[str, Any], path: str, errors: list[str], seen: set[str]) -> None:
    for i, item in enumerate(_list(src.get("items"))):
        if not isinstance(item, dict):
            continue
        if not item.get("key"):
            errors.append(f"{path}.items[{i}].key: required value")
        _file_path(item.get("path"), f"{path}.items[{i}].path", errors, seen)
        _mode(item.get("mode"), f"{path}.items[{i}].mode", errors)


def _downward(src: dict[str, Any], path: str, errors: list[str], seen: set[str]) -> None:
    for i, item in enumerate(_list(src.get("items"))):
        if not isinstance(item, dict):
            continue
        at = f"{path}.items[{i}]"
        _file_path(item.get("path"), f"{at}.path", errors, seen)
        _mode(item.get("mode"), f"{at}.mode", errors)
        field_ref, resource_ref = item.get("fieldRef"), item.get("resourceFieldRef")
        if field_ref is not None and resource_ref is not None:
            errors.append(
                f"{at}: invalid value: fieldRef and resourceFieldRef can not be specified simultaneously"
            )
        elif isinstance(field_ref, dict):
            fp = field_ref.get("fieldPath")
            if not fp:
                errors.append(f"{at}.fieldRef.fieldPath: required value")
            elif isinstance(fp, str) and implemented.env_field_pattern(fp) not in schema.VOLUME_FIELD_PATHS:
                errors.append(_unsupported(f"{at}.fieldRef.fieldPath", fp, schema.VOLUME_FIELD_PATHS))
        elif isinstance(resource_ref, dict):
            if not resource_ref.get("containerName"):
                errors.append(f"{at}.resourceFieldRef.containerName: required value")
            check_resource(resource_ref, f"{at}.resourceFieldRef", errors)
        elif field_ref is None and resource_ref is None:
            errors.append(f"{at}: required value: one of fieldRef and resourceFieldRef")


def check_resource(ref: dict[str, Any], path: str, errors: list[str]) -> None:
    """A resourceFieldRef's resource (for env and volume files alike)."""
    resource = ref.get("resource")
    if not resource:
        errors.append(f"{path}.resource: required value")
    elif isinstance(resource, str) and resource not in RESOURCES:
        errors.append(_unsupported(f"{path}.resource", resource, RESOURCES))


def check(volume: dict[str, Any], path: str, errors: list[str]) -> None:
    seen: set[str] = set()
    for key, name_field in (("configMap", "name"), ("secret", "secretName")):
        src = volume.get(key)
        if isinstance(src, dict):
            if not src.get(name_field):
                errors.append(f"{path}.{key}.{name_field}: required value")
            _items(src, f"{path}.{key}", errors, seen)
            _mode(src.get("defaultMode"), f"{path}.{key}.defaultMode", errors)
    src = volume.get("downwardAPI")
    if isinstance(src, dict):
        _downward(src, f"{path}.downwardAPI", errors, seen)
        _mode(src.get("defaultMode"), f"{path}.downwardAPI.defaultMode", errors)
    src = volume.get("projected")
    if isinstance(src, dict) and not implemented.is_service_account_volume(volume):
        _mode(src.get("defaultMode"), f"{path}.projected.defaultMode", errors)
        for i, source in enumerate(_list(src.get("sources"))):
            if isinstance(source, dict):
                _projection(source, f"{path}.projected.sources[{i}]", errors, seen)


def _projection(source: dict[str, Any], at: str, errors: list[str], seen: set[str]) -> None:
    kinds = [k for k in schema.VOLUME_PROJECTION if source.get(k) is not None]
    if len(kinds) != 1:
        errors.append(f"{at}: forbidden: may not specify more than 1 volume type per source")
        return
    kind, src = kinds[0], source[kinds[0]]
    if not isinstance(src, dict):
        return
    if kind in ("configMap", "secret"):
        if not src.get("name"):
            errors.append(f"{at}.{kind}.name: required value")
        _items(src, f"{at}.{kind}", errors, seen)
    elif kind == "downwardAPI":
        _downward(src, f"{at}.downwardAPI", errors, seen)
    elif kind == "serviceAccountToken":
        _file_path(src.get("path"), f"{at}.serviceAccountToken.path", errors, seen)
        seconds = src.get("expirationSeconds")
        if isinstance(seconds, int) and seconds < 600:
            errors.append(
                f"{at}.serviceAccountToken.expirationSeconds: invalid value {seconds}: "
                "may not specify a duration less than 10 minutes"
            )
    else:
        errors.append(f"{at}.{kind}: volume projection not supported by minipod yet")
