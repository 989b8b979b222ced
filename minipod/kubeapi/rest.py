"""The REST verbs on every kind of the resource table.

Paths, as the API server has them (GROUP/VERSION is `api/v1` or
`apis/GROUP/VERSION`):
    /GV/PLURAL                              list, watch, create (cluster kinds),
                                            list across namespaces
    /GV/namespaces/NS/PLURAL                list, watch, create, deletecollection
    /GV/[namespaces/NS/]PLURAL/NAME         get, update (PUT), patch, delete
    /GV/[namespaces/NS/]PLURAL/NAME/status  the status subresource
    /api/v1/namespaces/NS/pods/NAME/eviction|binding
                                            POST only (pod_subresources.py)
    /GV/[namespaces/NS/]PLURAL/NAME/scale   the scale subresource (scale.py)
parse_path() turns a path into a Target (pure); handle() picks the verb.

Every write takes dryRun=All (decide everything, change nothing) and
fieldValidation=Strict|Warn|Ignore (unknown fields are an error, a
Warning header, or dropped; Warn is the default, as in Kubernetes).
"""

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from minipod.api.status import StatusError, body_text, query_int
from minipod.errors import ManifestError
from minipod.kube.yaml_load import load_one
from minipod.kubeapi import (
    auth,
    patches,
    pod_subresources,
    protobuf,
    scale,
    schemas,
    tables,
    token_request,
    watching,
)
from minipod.objects import resources as kinds
from minipod.objects.errors import ApiError, bad_request
from minipod.objects.events import to_events_v1


@dataclass(frozen=True)
class Target:
    res: kinds.Resource
    namespace: str | None
    name: str | None
    sub: str


def parse_path(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    res = kinds.find(group, version, rest[0])
    if res is None or (ns is not None and not res.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in res.subresources:
        return None
    return Target(res, ns, name, sub)


def out(res: kinds.Resource, obj: dict) -> dict:
    """An object as this resource's version shows it."""
    return to_events_v1(obj) if res.group == "events.k8s.io" else obj


def respond(request, body: dict, status: int = 200, warnings: Sequence[str] = ()) -> web.Response:
    resp = web.json_response(body, status=status, dumps=lambda o: json.dumps(o, separators=(",", ":")))
    for w in warnings:
        resp.headers.add("Warning", f'299 - "{w}"')
    return resp


async def read_body(request) -> dict:
    if request.content_type == protobuf.CONTENT_TYPE:
        try:
            return protobuf.decode(await request.read())
        except (ValueError, IndexError, UnicodeDecodeError) as e:
            raise ApiError(415, "UnsupportedMediaType", f"the protobuf body could not be read: {e}") from None
    text = await body_text(request)
    try:
        body = load_one(text)  # bounded: depth, aliases, sizes
    except ManifestError as e:
        raise bad_request(f"the body of the request could not be decoded: {e}") from None
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be an object")
    check_meta_types(body)
    return body


def check_meta_types(body: dict) -> None:
    """What Go's JSON decoding refuses in ObjectMeta before any check runs:
    a name that is not a string, labels that are not a map of strings."""
    meta = body.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise bad_request(f"metadata: expected an object, got {type(meta).__name__}")
    for field in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            raise bad_request(f"metadata.{field}: expected a string, got {type(meta[field]).__name__}")
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is not None and (
            not isinstance(value, dict) or not all(isinstance(v, str) or v is None for v in value.values())
        ):
            raise bad_request(f"metadata.{field}: expected a map of strings")


def dry_run(request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def check_fields(request, res: kinds.Resource, obj: dict, warnings: list[str]) -> dict:
    """fieldValidation: Strict refuses unknown fields, Warn (the default)
    warns and drops them, Ignore drops them."""
    mode = request.query.get("fieldValidation", "Warn")
    if mode not in ("Strict", "Warn", "Ignore"):
        raise bad_request(
            f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", "Strict", "Warn"'
        )
    schema = schemas.kind_schema(res)
    if schema is None:
        return obj
    unknown = schemas.unknown_fields(schemas.load(), schema, obj)
    if not unknown:
        return obj
    if mode == "Strict":
        fields = ", ".join(f'unknown field "{p}"' for p in unknown)
        raise bad_request(
            f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: strict decoding error: {fields}'
        )
    if mode == "Warn":
        warnings += [f'unknown field "{p}"' for p in unknown]
    return schemas.prune(obj, unknown)


def _store(request):
    return request.app["cluster"].store


# --- the verbs ---------------------------------------------------------------------


async def handle(request) -> web.StreamResponse:
    t = parse_path(request.path)
    if t is None:
        raise StatusError(404, "the server could not find the requested resource", "NotFound")
    auth.authorize(request, t)
    method = request.method
    if not t.sub and auth.verb_of(request, t) not in t.res.verbs:
        raise StatusError(405, f"the server does not allow this method on the requested resource ({method})")
    if t.name is None:
        if method == "GET" and request.query.get("watch") in ("true", "1"):
            return await watching.watch(request, t)
        if method == "GET":
            return list_objects(request, t)
        if method == "POST":
            return await create(request, t)
        if method == "DELETE":
            return await delete_collection(request, t)
    elif t.sub in ("", "status"):
        if method == "GET":
            return get(request, t)
        if method == "PUT":
            return await update(request, t)
        if method == "PATCH":
            return await patch(request, t)
        if method == "DELETE" and not t.sub:
            return await delete(request, t)
    elif t.sub in ("eviction", "binding") and method == "POST":
        return await pod_subresource(request, t)
    elif t.sub == "token" and method == "POST":
        body = await read_body(request)
        ns, name = t.namespace or "default", t.name or ""
        return respond(
            request, token_request.create(_store(request), request.app["sa_key"], ns, name, body), 201
        )
    elif t.sub == "scale":
        return await scale.handle(request, t, respond)
    raise StatusError(405, f"the server does not allow this method on the requested resource ({method})")


def get(request, t: Target) -> web.Response:
    obj = _store(request).get(t.res, t.namespace, t.name)
    if tables.wants_table(request.headers.get("Accept", "")):
        include = request.query.get("includeObject", "Metadata")
        return respond(
            request, tables.table(t.res, [out(t.res, obj)], obj["metadata"]["resourceVersion"], include)
        )
    return respond(request, out(t.res, obj))


def encode_continue(rv: str, after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": after}).encode()).decode()


def decode_continue(token: str) -> str:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: the token cannot be decoded") from None


def list_objects(request, t: Target) -> web.Response:
    q = request.query
    items, rv = _store(request).list(t.res, t.namespace, q.get("labelSelector"), q.get("fieldSelector"))
    limit = query_int(request, "limit", minimum=0) or 0
    cont = ""
    if q.get("continue"):
        start = decode_continue(q["continue"])
        items = [i for i in items if _sort_key(i) > start]
    remaining = 0
    if limit and len(items) > limit:
        remaining = len(items) - limit
        items = items[:limit]
        cont = encode_continue(rv, _sort_key(items[-1]))
    items = [out(t.res, i) for i in items]
    if tables.wants_table(request.headers.get("Accept", "")):
        return respond(request, tables.table(t.res, items, rv, q.get("includeObject", "Metadata"), cont))
    meta: dict = {"resourceVersion": rv}
    if cont:
        meta.update({"continue": cont, "remainingItemCount": remaining})
    return respond(
        request,
        {"kind": f"{t.res.kind}List", "apiVersion": t.res.api_version, "metadata": meta, "items": items},
    )


def _sort_key(obj: dict) -> str:
    return f"{obj['metadata'].get('namespace') or ''}/{obj['metadata']['name']}"


async def create(request, t: Target) -> web.Response:
    body = await read_body(request)
    warnings: list[str] = []
    body = check_fields(request, t.res, body, warnings)
    store = _store(request)
    if t.res.group == "events.k8s.io":
        body = dict(body, kind="Event")
    obj = store.create(t.res, body, t.namespace, dry_run(request))
    warnings += store.backends["pods"].take_warnings() if t.res.kind == "Pod" else []
    return respond(request, out(t.res, obj), 201, warnings)


async def update(request, t: Target) -> web.Response:
    body = await read_body(request)
    warnings: list[str] = []
    body = check_fields(request, t.res, body, warnings)
    obj = _store(request).update(t.res, body, t.namespace, t.name, dry_run(request), t.sub)
    return respond(request, out(t.res, obj), 200, warnings)


async def patch(request, t: Target) -> web.Response:
    warnings: list[str] = []
    obj, created = await patches.patch(
        request, t, warnings, lambda o: check_fields(request, t.res, o, warnings)
    )
    return respond(request, out(t.res, obj), 201 if created else 200, warnings)


async def delete_options(request) -> dict:
    opts: dict = {}
    if request.can_read_body:
        text = (await body_text(request)).strip()
        if text:
            try:
                opts = json.loads(text)
            except ValueError as e:
                raise bad_request(f"the DeleteOptions could not be decoded: {e}") from None
            if not isinstance(opts, dict):
                raise bad_request(
                    f"the DeleteOptions could not be decoded: expected an object, got {type(opts).__name__}"
                )
    grace = query_int(request, "gracePeriodSeconds")
    if grace is not None:
        opts["gracePeriodSeconds"] = grace
    if request.query.get("propagationPolicy"):
        opts["propagationPolicy"] = request.query["propagationPolicy"]
    orphan = request.query.get("orphanDependents", opts.get("orphanDependents"))
    if orphan is not None and not opts.get("propagationPolicy"):
        # The deprecated form of propagationPolicy: true is Orphan, false Background.
        opts["propagationPolicy"] = "Orphan" if orphan in (True, "true") else "Background"
    policy = opts.get("propagationPolicy")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
        )
    return opts


async def delete(request, t: Target) -> web.Response:
    opts = await delete_options(request)
    obj, gone = _store(request).delete(
        t.res,
        t.namespace,
        t.name,
        opts.get("gracePeriodSeconds"),
        opts.get("preconditions"),
        dry_run(request),
        opts.get("propagationPolicy"),
    )
    if gone:
        return respond(request, success(t.res, obj))
    return respond(request, out(t.res, obj))


async def pod_subresource(request, t: Target) -> web.Response:
    body, store = await read_body(request), _store(request)
    if t.sub == "eviction":
        result = pod_subresources.evict(
            store, t.res, t.namespace or "default", t.name or "", body, dry_run(request)
        )
    else:
        manager = request.app["manager"]
        result = pod_subresources.bind(
            manager, store, t.res, t.namespace or "default", t.name or "", body, dry_run(request)
        )
    return respond(request, result, 201)


def success(res: kinds.Resource, obj: dict) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": obj["metadata"]["name"], "kind": res.plural, "uid": obj["metadata"].get("uid")},
    }


async def delete_collection(request, t: Target) -> web.Response:
    if "deletecollection" not in t.res.verbs:
        raise StatusError(
            405, f"the server does not allow this method on the requested resource (DELETE {t.res.plural})"
        )
    opts = await delete_options(request)
    store = _store(request)
    q = request.query
    items, rv = store.list(t.res, t.namespace, q.get("labelSelector"), q.get("fieldSelector"))
    deleted = []
    for item in items:
        try:
            obj, _ = store.delete(
                t.res,
                item["metadata"].get("namespace"),
                item["metadata"]["name"],
                opts.get("gracePeriodSeconds"),
                None,
                dry_run(request),
                opts.get("propagationPolicy"),
            )
            deleted.append(out(t.res, obj))
        except ApiError as e:
            if e.code != 404:
                raise
    return respond(
        request,
        {
            "kind": f"{t.res.kind}List",
            "apiVersion": t.res.api_version,
            "metadata": {"resourceVersion": rv},
            "items": deleted,
        },
    )
