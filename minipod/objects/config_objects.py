"""ConfigMaps and Secrets checked as the API server checks them
(pkg/apis/core/validation: ValidateConfigMap, ValidateSecret and their
updates), in its words. check() runs after the defaults (a Secret's type,
stringData folded into data), on create and on update; in order:
    1. every key of data and binaryData is a valid config key, and no key
       is in both;
    2. the values together are at most 1 MiB;
    3. a Secret's type has its required keys (dockerconfigjson, tls,
       basic-auth, ssh-auth, service-account-token);
    4. on update: an `immutable` object keeps its data, binaryData and
       immutable; a Secret keeps its type.
"""

import base64
import binascii
import json
import re
from typing import Any

from minipod.objects.errors import invalid

MAX_SIZE = 1024 * 1024  # core.MaxSecretSize, for ConfigMaps too
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
IMMUTABLE = "field is immutable when `immutable` is set"
REDACTED = "<secret contents redacted>"

Cause = tuple[str, str, str]


def key_problems(key: str) -> list[str]:
    """IsConfigMapKey."""
    out = []
    if len(key) > 253:
        out.append("must be no more than 253 characters")
    if not _KEY.match(key):
        out.append(KEY_RULE)
    if key == ".":
        out.append("must not be '.'")
    elif key == "..":
        out.append("must not be '..'")
    elif key.startswith(".."):
        out.append("must not start with '..'")
    return out


def _invalid_value(field: str, value: Any, detail: str) -> Cause:
    return ("FieldValueInvalid", field, f"Invalid value: {json.dumps(value)}: {detail}")


def _required(field: str) -> Cause:
    return ("FieldValueRequired", field, "Required value")


def _keys(obj: dict[str, Any], fields: tuple[str, ...]) -> tuple[list[Cause], int]:
    causes: list[Cause] = []
    size = 0
    for field in fields:
        section = obj.get(field)
        if section is None:
            continue
        if not isinstance(section, dict):
            causes.append(_invalid_value(field, "", "must be a map of strings"))
            continue
        for key, value in section.items():
            causes += [_invalid_value(f"{field}[{key}]", key, p) for p in key_problems(str(key))]
            if not isinstance(value, str):
                causes.append(_invalid_value(f"{field}[{key}]", "", "must be a string"))
                continue
            size += len(value) if field == "data" and obj.get("kind") == "ConfigMap" else _decoded_len(value)
    return causes, size


def _decoded_len(text: str) -> int:
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return len(text)


def _configmap(obj: dict[str, Any]) -> list[Cause]:
    causes, size = _keys(obj, ("data", "binaryData"))
    maps: list[dict[str, Any]] = [
        obj[f] if isinstance(obj.get(f), dict) else {} for f in ("data", "binaryData")
    ]
    both = set(maps[0]) & set(maps[1])
    causes += [
        _invalid_value(f"data[{k}]", k, "duplicate of key present in binaryData") for k in sorted(both)
    ]
    if size > MAX_SIZE:
        causes.append(("FieldValueTooLong", "", f"Too long: may not be more than {MAX_SIZE} bytes"))
    return causes


def data_items(obj: dict[str, Any]) -> list[tuple[str, Any]]:
    data = obj.get("data")
    return list(data.items()) if isinstance(data, dict) else []


def _secret(obj: dict[str, Any]) -> list[Cause]:
    causes, size = _keys(obj, ("data",))
    for key, value in data_items(obj):
        if isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                causes.append(_invalid_value(f"data[{key}]", REDACTED, "illegal base64 data"))
    if size > MAX_SIZE:
        causes.append(("FieldValueTooLong", "data", f"Too long: may not be more than {MAX_SIZE} bytes"))
    data: dict[str, Any] = obj["data"] if isinstance(obj.get("data"), dict) else {}
    kind = obj.get("type")
    if kind == "kubernetes.io/service-account-token":
        annotations = obj["metadata"].get("annotations")
        if not isinstance(annotations, dict) or not annotations.get("kubernetes.io/service-account.name"):
            causes.append(_required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind == "kubernetes.io/dockercfg":
        causes += _json_key(data, ".dockercfg")
    elif kind == "kubernetes.io/dockerconfigjson":
        causes += _json_key(data, ".dockerconfigjson")
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes += [_required("data[username]"), _required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        if "ssh-privatekey" not in data:
            causes.append(_required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        causes += [_required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data]
    return causes


def _json_key(data: dict[str, Any], key: str) -> list[Cause]:
    if key not in data:
        return [_required(f"data[{key}]")]
    try:
        json.loads(base64.b64decode(data[key]))
    except (ValueError, binascii.Error) as e:
        return [_invalid_value(f"data[{key}]", REDACTED, str(e).split(":")[0])]
    return []


def _update(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if new.get("kind") == "Secret" and old.get("type") != new.get("type"):
        causes.append(_invalid_value("type", new.get("type"), "field is immutable"))
    if old.get("immutable"):
        if not new.get("immutable"):
            causes.append(("FieldValueForbidden", "immutable", f"Forbidden: {IMMUTABLE}"))
        for field in ("data", "binaryData"):
            if (old.get(field) or {}) != (new.get(field) or {}):  # compared as values: any type
                causes.append(("FieldValueForbidden", field, f"Forbidden: {IMMUTABLE}"))
    return causes


def check(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """Raise the API server's 422 Invalid when `obj` (a ConfigMap or Secret)
    may not be stored; anything else passes."""
    if kind == "ConfigMap":
        causes = _configmap(obj)
    elif kind == "Secret":
        causes = _secret(obj)
    else:
        return
    if old is not None:
        causes += _update(old, obj)
    if causes:
        raise invalid(kind, obj["metadata"].get("name", ""), causes)
