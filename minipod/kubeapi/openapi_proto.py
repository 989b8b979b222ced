"""/openapi/v2 in protobuf, the only form kubectl's validator reads.

kubectl validates a file on the client when it cannot ask the server to:
a `kind: List` (what `kubectl get -o yaml` writes) is one. It then fetches
/openapi/v2 as `application/com.github.proto-openapi.spec.v2@v2.0+protobuf`
(a protobuf type) and nothing else: gnostic's OpenAPIv2.proto `Document` message. This module
writes that message from the same JSON document openapi.py builds.

Steps of encode():
    1. the document's top fields (swagger, info, paths, definitions);
    2. each path item's operations, their parameters and responses;
    3. each schema, recursively: the JSON Schema keywords by their field
       numbers in OpenAPIv2.proto, and every `x-` key as a vendor
       extension whose value is YAML text (JSON is YAML), as gnostic does.

Protobuf's wire format is small enough to write by hand: a field is a
varint key (number << 3 | wire type) then a varint (type 0), 8 bytes
(type 1, doubles) or a length and bytes (type 2: strings and messages).
"""

import json
import struct
from collections.abc import Callable
from typing import Any

# What kubectl asks for; the answer's type spells the "@" as "." (Go's
# media-type parser refuses "@"), as the API server's handler does.
CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v2.0+protobuf"


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64s are ten-byte two's complement
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _str(number: int, text: str) -> bytes:
    return _bytes(number, text.encode()) if text else b""


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(int(value))


def _double(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", float(value))


def _any(number: int, value: Any) -> bytes:
    """gnostic's Any: field 2 holds the value as YAML text."""
    return _bytes(number, _str(2, json.dumps(value)))


def _extensions(number: int, obj: dict) -> bytes:
    """Every `x-` key as a NamedAny {name=1, value=2}."""
    return b"".join(
        _bytes(number, _str(1, key) + _any(2, value)) for key, value in obj.items() if key.startswith("x-")
    )


# Schema's scalar keywords: JSON key -> (field number, writer).
_SCHEMA_SCALARS: dict[str, tuple[int, Callable[[int, Any], bytes]]] = {
    "$ref": (1, _str),
    "format": (2, _str),
    "title": (3, _str),
    "description": (4, _str),
    "multipleOf": (6, _double),
    "maximum": (7, _double),
    "exclusiveMaximum": (8, _bool),
    "minimum": (9, _double),
    "exclusiveMinimum": (10, _bool),
    "maxLength": (11, _int),
    "minLength": (12, _int),
    "pattern": (13, _str),
    "maxItems": (14, _int),
    "minItems": (15, _int),
    "uniqueItems": (16, _bool),
    "maxProperties": (17, _int),
    "minProperties": (18, _int),
    "discriminator": (26, _str),
    "readOnly": (27, _bool),
}


def schema(s: dict) -> bytes:
    """One Schema message (step 3)."""
    out = bytearray()
    for key, (number, write) in _SCHEMA_SCALARS.items():
        if key in s:
            out += write(number, s[key])
    if "default" in s:
        out += _any(5, s["default"])
    out += b"".join(_str(19, name) for name in s.get("required", []))
    out += b"".join(_any(20, v) for v in s.get("enum", []))
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, _varint(2 << 3) + (b"\x01" if extra else b"\x00"))
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        out += _bytes(22, b"".join(_str(1, t) for t in types))
    if isinstance(s.get("items"), dict):
        out += _bytes(23, _bytes(1, schema(s["items"])))
    out += b"".join(_bytes(24, schema(sub)) for sub in s.get("allOf", []))
    if "properties" in s:
        out += _bytes(25, _named(1, s["properties"]))
    if "example" in s:
        out += _any(30, s["example"])
    out += _extensions(31, s)
    return bytes(out)


def _named(number: int, schemas: dict) -> bytes:
    """A map of schemas: repeated NamedSchema {name=1, value=2}."""
    return b"".join(_bytes(number, _str(1, name) + _bytes(2, schema(s))) for name, s in schemas.items())


def _parameter(p: dict) -> bytes:
    """A ParametersItem: a body parameter, or a query one (all openapi.py
    writes besides path parameters, which kubectl does not read)."""
    if p.get("in") == "body":
        body = _str(1, p.get("description", "")) + _str(2, p["name"]) + _str(3, "body")
        body += _bool(4, p.get("required", False)) + _bytes(5, schema(p.get("schema", {})))
        return _bytes(1, _bytes(1, body))
    query = _bool(1, p.get("required", False)) + _str(2, p.get("in", "query"))
    query += _str(3, p.get("description", "")) + _str(4, p["name"]) + _str(6, p.get("type", ""))
    query += _bool(20, p.get("uniqueItems", False)) + _extensions(23, p)
    return _bytes(1, _bytes(2, _bytes(3, query)))


def _operation(op: dict) -> bytes:
    out = bytearray()
    out += b"".join(_str(1, t) for t in op.get("tags", []))
    out += _str(3, op.get("description", "")) + _str(5, op.get("operationId", ""))
    out += b"".join(_str(6, t) for t in op.get("produces", []))
    out += b"".join(_str(7, t) for t in op.get("consumes", []))
    out += b"".join(_bytes(8, _parameter(p)) for p in op.get("parameters", []))
    responses = b""
    for code, answer in op.get("responses", {}).items():
        response = _str(1, answer.get("description", ""))
        if "schema" in answer:
            response += _bytes(2, _bytes(1, schema(answer["schema"])))
        responses += _bytes(1, _str(1, code) + _bytes(2, _bytes(1, response)))
    out += _bytes(9, responses)
    out += _extensions(13, op)
    return bytes(out)


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: dict) -> bytes:
    return b"".join(_bytes(number, _operation(item[m])) for m, number in _METHODS.items() if m in item)


def encode(doc: dict) -> bytes:
    """The gnostic Document of a JSON OpenAPI v2 document (steps 1-3)."""
    info = doc.get("info", {})
    out = _str(1, doc.get("swagger", "2.0"))
    out += _bytes(2, _str(1, info.get("title", "")) + _str(2, info.get("version", "")))
    paths = b"".join(_bytes(2, _str(1, p) + _bytes(2, _path_item(item))) for p, item in doc["paths"].items())
    out += _bytes(8, paths)
    out += _bytes(9, _named(1, doc.get("definitions", {})))
    return out
