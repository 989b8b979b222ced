"""OpenAPI v2 (/openapi/v2) and v3 (/openapi/v3, /openapi/v3/GROUP-VERSION)
for every served kind, built from the official schemas (schemas.py).

kubectl reads them for `kubectl explain` (v3), to validate a `kind: List`
on the client (v2 in protobuf, openapi_proto.py), and to learn that this
server validates fields itself: a PATCH operation of the kind's path
that takes the `fieldValidation` parameter (then kubectl sends
fieldValidation=Strict and lets the server say what is wrong).

Each document is built once and kept as bytes.
"""

import copy
import hashlib
import json

from minipod.kubeapi import openapi_proto, schemas
from minipod.objects import resources as kinds
from minipod.objects.nodes import KUBE_VERSION

_cache: dict[str, bytes] = {}

WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")


def _param(name: str, v3: bool) -> dict:
    doc = {"name": name, "in": "query", "description": f"{name} query parameter", "uniqueItems": True}
    if v3:
        doc["schema"] = {"type": "boolean" if name == "force" else "string"}
    else:
        doc["type"] = "boolean" if name == "force" else "string"
    return doc


def _operation(res: kinds.Resource, action: str, params: tuple, v3: bool, ref: str) -> dict:
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    op = {
        "operationId": f"{action}{res.kind}",
        "tags": [res.group or "core"],
        "parameters": [_param(p, v3) for p in params],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if v3:
        op["responses"] = {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}
        }
    else:
        op["responses"] = {"200": {"description": "OK", "schema": {"$ref": ref}}}
        op["consumes"] = ["*/*"]
        op["produces"] = ["application/json", "application/yaml"]
    return op


def _paths(served: list[kinds.Resource], v3: bool, ref_prefix: str) -> dict:
    paths = {}
    for res in served:
        base = f"/api/{res.version}" if not res.group else f"/apis/{res.group}/{res.version}"
        coll = f"{base}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{base}/{res.plural}"
        ref = ref_prefix + schemas.kind_definition(res)
        list_ref = ref + "List"
        paths[coll] = {
            "get": _operation(
                res, "list", ("labelSelector", "fieldSelector", "limit", "continue", "watch"), v3, list_ref
            ),
            "post": _operation(res, "post", WRITE_PARAMS, v3, ref),
        }
        paths[coll + "/{name}"] = {
            "get": _operation(res, "get", (), v3, ref),
            "put": _operation(res, "put", WRITE_PARAMS, v3, ref),
            "patch": _operation(res, "patch", (*WRITE_PARAMS, "force"), v3, ref),
            "delete": _operation(
                res, "delete", ("dryRun", "gracePeriodSeconds", "propagationPolicy"), v3, ref
            ),
        }
    return paths


def _served() -> list[kinds.Resource]:
    defs = schemas.load()
    return [r for r in kinds.RESOURCES if schemas.kind_definition(r) in defs]


def v2() -> bytes:
    if "v2" not in _cache:
        doc = {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": KUBE_VERSION},
            "paths": _paths(_served(), False, "#/definitions/"),
            "definitions": schemas.load(),
        }
        _cache["v2"] = json.dumps(doc).encode()
    return _cache["v2"]


def v2_protobuf() -> bytes:
    """The same document in gnostic's protobuf (openapi_proto.py)."""
    if "v2pb" not in _cache:
        _cache["v2pb"] = openapi_proto.encode(json.loads(v2()))
    return _cache["v2pb"]


def _to_v3(schema):
    """v2 refs -> v3 refs; a $ref beside other keys goes into allOf, as the
    API server writes it."""
    if isinstance(schema, list):
        return [_to_v3(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _to_v3(v) for k, v in schema.items() if k != "$ref"}
    if "$ref" in schema:
        ref = {"$ref": "#/components/schemas/" + schema["$ref"].rsplit("/", 1)[1]}
        if out:
            out["allOf"] = [ref]
        else:
            return ref
    return out


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def v3_document(group: str, version: str) -> bytes | None:
    key = f"v3:{group}/{version}"
    if key not in _cache:
        served = [r for r in _served() if r.group == group and r.version == version]
        if not served:
            return None
        defs = schemas.load()
        components = {name: _to_v3(copy.deepcopy(s)) for name, s in defs.items()}
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBE_VERSION},
            "paths": _paths(served, True, "#/components/schemas/"),
            "components": {"schemas": components},
        }
        _cache[key] = json.dumps(doc).encode()
    return _cache[key]


def v3_root() -> dict:
    out = {}
    seen = set()
    for r in _served():
        if (r.group, r.version) in seen:
            continue
        seen.add((r.group, r.version))
        body = v3_document(r.group, r.version) or b""
        digest = hashlib.sha512(body).hexdigest().upper()[:128]
        path = gv_path(r.group, r.version)
        out[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": out}
