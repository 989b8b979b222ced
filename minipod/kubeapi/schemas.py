"""The official Kubernetes schemas, and strict field validation with them.

The schemas are not written here: the `kubernetes-validate` package ships
the JSON schemas of every Kubernetes release (generated from the API's own
OpenAPI, descriptions included). minipod serves SCHEMA_VERSION, the
release matching the API version it reports (nodes.KUBE_VERSION).

Steps of load(), once, on first use:
    1. read the release's _definitions.json (JSON Schema 2020-12);
    2. keep the definitions the served kinds need (their closure over $ref),
       so the daemon does not hold the other six hundred;
    3. turn JSON Schema back into OpenAPI's dialect: `type: [string, null]`
       becomes `type: string`, int-or-string and quantities get their
       OpenAPI formats (openapi.py builds the documents from this).

unknown_fields() is the API server's strict decoding: every field of an
object that its schema does not have, by path
(`spec.containers[0].imagePullPolicyy`).
"""

import json
import os

from minipod.objects import resources as kinds

SCHEMA_VERSION = "v1.32.0"
_PREFIX = "#/$defs/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."

_cache: dict = {}


def _definitions_file() -> str:
    import kubernetes_validate

    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    return os.path.join(base, f"{SCHEMA_VERSION}-local-strict", "_definitions.json")


def _convert(schema):
    """JSON Schema 2020-12 (kubernetes-validate) -> OpenAPI's schema dialect."""
    if isinstance(schema, list):
        return [_convert(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            out[k] = types[0] if len(types) == 1 else types
        elif k == "$ref":
            out[k] = "#/definitions/" + v[len(_PREFIX) :]
        elif k in ("properties", "$defs"):
            out[k] = {name: _convert(s) for name, s in v.items()}
        elif k == "enum" and schema.get("type") and "null" in schema["type"]:
            out[k] = [x for x in v if x is not None]
        else:
            out[k] = _convert(v)
    return out


def _special(name: str, schema: dict) -> dict:
    if name.endswith("intstr.IntOrString"):
        return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
    if name.endswith("resource.Quantity"):
        return {"type": "string", "description": schema.get("description", "")}
    return schema


def _refs(schema, found: set) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[1])
        for v in schema.values():
            _refs(v, found)
    elif isinstance(schema, list):
        for v in schema:
            _refs(v, found)


def kind_definition(res: kinds.Resource) -> str:
    group = {"": "core", "events.k8s.io": "events"}.get(res.group, res.group.split(".")[0])
    return f"io.k8s.api.{group}.{res.version}.{res.kind}"


def load() -> dict:
    """{definition name: OpenAPI schema} for the served kinds and all they use."""
    if "defs" in _cache:
        return _cache["defs"]
    with open(_definitions_file()) as f:
        every = json.load(f)["$defs"]
    wanted = {kind_definition(r) for r in kinds.RESOURCES if kind_definition(r) in every}
    wanted |= {kind_definition(r) + "List" for r in kinds.RESOURCES if kind_definition(r) + "List" in every}
    wanted |= {META + n for n in ("Status", "DeleteOptions", "Patch", "APIResourceList", "WatchEvent")}
    wanted &= set(every)
    todo, defs = list(wanted), {}
    while todo:
        name = todo.pop()
        if name in defs:
            continue
        defs[name] = _special(name, _convert(every[name]))
        found: set = set()
        _refs(every[name], found)
        todo += [n for n in found if n not in defs and n in every]
    _cache["defs"] = defs
    return defs


def _resolve(defs: dict, schema: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[1], {})
    return schema


def unknown_fields(defs: dict, schema: dict, value, path: str = "") -> list[str]:
    """Paths of the fields in `value` that `schema` does not know."""
    schema = _resolve(defs, schema)
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return out
        for k, v in value.items():
            sub = f"{path}.{k}" if path else k
            if props is not None and k in props:
                out += unknown_fields(defs, props[k], v, sub)
            elif isinstance(extra, dict):
                out += unknown_fields(defs, extra, v, sub)
            elif props is not None and extra is False:
                out.append(sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += unknown_fields(defs, schema["items"], item, f"{path}[{i}]")
    return out


def prune(obj, paths: list[str]):
    """Drop the fields at these paths (fieldValidation Ignore and Warn)."""
    import re

    for path in paths:
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        if not parts:
            continue  # a key such as "" or "." leaves no path to follow
        cur = obj
        for p in parts[:-1]:
            if p.startswith("["):
                i = int(p[1:-1])
                cur = cur[i] if isinstance(cur, list) and i < len(cur) else None
            else:
                cur = cur.get(p) if isinstance(cur, dict) else None
            if cur is None:
                break
        else:
            if isinstance(cur, dict):
                cur.pop(parts[-1], None)
    return obj


def kind_schema(res: kinds.Resource) -> dict | None:
    defs = load()
    name = kind_definition(res)
    return {"$ref": "#/definitions/" + name} if name in defs else None


def unknown_fields_of(res: kinds.Resource, obj: dict) -> list[str]:
    """Paths of the fields of obj that its kind's schema does not know."""
    schema = kind_schema(res)
    return unknown_fields(load(), schema, obj) if schema is not None else []
