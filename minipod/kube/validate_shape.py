"""Pass 1 of minipod.kube.validate: the shape of a Pod manifest.

_check_shape(value, typ, path, errors) walks a parsed manifest beside the
schema table (minipod.kube.schema) and collects, as kubectl-style messages:

  1. wrong types     a list where a map belongs, a string for an integer,
                     null inside a list, non-string map keys;
  2. bad values      an enum value not in the list, an integer outside its
                     Go type (int64, int32), a malformed quantity;
  3. unknown fields  with where the field belongs if it exists elsewhere in
                     the schema (runAsUser in a container belongs in its
                     securityContext), else a "did you mean".

Also here: the helpers both passes use to write paths and values in
messages (_field, _quote, _short, _describe, _range_rule, _unsupported).
"""

import datetime
import difflib
import json
import re
from typing import Any, TypeGuard

from minipod.kube import schema

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
