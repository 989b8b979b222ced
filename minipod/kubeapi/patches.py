"""PATCH, in the four kinds the API server takes (by Content-Type):
    application/json-patch+json            RFC 6902 operations (jsonpatch)
    application/merge-patch+json           RFC 7386 merge
    application/strategic-merge-patch+json strategic.py
    application/apply-patch+yaml           server-side apply, below

Server-side apply: the body is the manager's whole intent. In order:
    1. the fields it sets (managed.fields()) are compared with those other
       managers own: a field another manager set to another value is a
       409 Conflict naming both, unless force=true takes it over;
    2. fields this manager applied last time and no longer sets (and
       nobody else owns) are removed;
    3. the intent is merged into the live object (strategic merge);
    4. managedFields records the manager's new field set.
An object that does not exist yet is created from the intent.
"""

import copy

import jsonpatch

from minipod.api.status import body_text
from minipod.errors import ManifestError
from minipod.kube.times import rfc3339 as now_rfc3339
from minipod.kube.yaml_load import load_one
from minipod.kubeapi import managed, schemas, strategic
from minipod.objects.errors import ApiError, bad_request
from minipod.objects.meta import check_identity

TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _schema(res):
    return schemas.kind_schema(res) or {}


def _decode(text: str):
    try:
        return load_one(text)  # bounded: depth, aliases, sizes
    except ManifestError as e:
        raise bad_request(f"the patch could not be decoded: {e}") from None


async def patch(request, t, warnings: list[str], check_fields) -> tuple[dict, bool]:
    """(the patched object, whether it was created by an apply)."""
    ctype = request.content_type
    if ctype not in TYPES:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: {', '.join(TYPES)}",
        )
    store = request.app["cluster"].store
    dry_run = bool(request.query.getall("dryRun", []))
    body = _decode(await body_text(request))
    defs = schemas.load()
    if ctype == "application/apply-patch+yaml":
        return apply(request, t, body, check_fields, dry_run)
    live = store.get(t.res, t.namespace, t.name)
    if ctype == "application/json-patch+json":
        try:
            new = jsonpatch.apply_patch(live, body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as e:
            raise ApiError(
                422, "Invalid", f"the server rejected our request due to an error in our request: {e}"
            ) from None
    elif not isinstance(body, dict):
        raise bad_request("the patch must be a JSON object")
    elif ctype == "application/merge-patch+json":
        new = merge_patch(live, body)
    else:
        new = strategic.apply_patch(defs, _schema(t.res), live, body)
    new = check_fields(new)
    new.setdefault("metadata", {})["resourceVersion"] = (
        (body.get("metadata") or {}).get("resourceVersion")
        if isinstance(body, dict) and (body.get("metadata") or {}).get("resourceVersion")
        else live["metadata"]["resourceVersion"]
    )
    manager = field_manager(request) or user_agent_manager(request)
    changed = managed.changed(defs, _schema(t.res), live, new)
    new["metadata"]["managedFields"] = record(live, manager, "Update", t.res.api_version, changed, t.sub)
    return store.update(t.res, new, t.namespace, t.name, dry_run, t.sub), False


def user_agent_manager(request) -> str:
    """The manager of a write that names none: the User-Agent's first
    word, as the API server does (kubectl-label, kubectl-edit, ...)."""
    agent = request.headers.get("User-Agent", "unknown")
    return agent.split("/")[0][:128] or "unknown"


def record(
    live: dict, manager: str, operation: str, api_version: str, paths: set, sub: str = ""
) -> list[dict]:
    # The fields this write changed now belong to its manager alone, as an
    # update takes them over from whoever applied them before.
    entries = []
    for e in live["metadata"].get("managedFields") or []:
        if (
            e.get("manager") == manager
            and e.get("operation") == operation
            and e.get("subresource", "") == sub
        ):
            continue
        rest = managed.from_v1(e.get("fieldsV1")) - paths
        if rest:
            entries.append(dict(e, fieldsV1=managed.to_v1(rest)))
    mine = next(
        (
            e
            for e in live["metadata"].get("managedFields") or []
            if e.get("manager") == manager and e.get("operation") == operation
        ),
        None,
    )
    if mine and operation == "Update":
        paths = paths | managed.from_v1(mine.get("fieldsV1"))
    if paths:
        entries.append(managed.entry(manager, operation, api_version, now_rfc3339(), paths, sub))
    return entries


def field_manager(request) -> str:
    """The fieldManager query parameter, checked as the API server checks
    it (ValidateFieldManager): at most 128 bytes, printable characters only."""
    manager = request.query.get("fieldManager") or ""
    if not all(ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF for ch in manager):
        raise bad_request(f"fieldManager: Invalid value: {manager!a}: must only contain printable characters")
    if len(manager.encode("utf-8", "surrogateescape")) > 128:
        raise bad_request("fieldManager: Too long: may not be more than 128 bytes")
    return manager


def apply(request, t, intent, check_fields, dry_run: bool) -> tuple[dict, bool]:
    store = request.app["cluster"].store
    manager = field_manager(request)
    if not manager:
        raise bad_request(
            "PATCH, PUT and apply requests require a fieldManager: fieldManager is required for apply requests"
        )
    if not isinstance(intent, dict):
        raise bad_request("the apply configuration must be an object")
    force = request.query.get("force") in ("true", "1")
    defs, schema = schemas.load(), _schema(t.res)
    intent = check_fields(intent)
    mine = managed.fields(defs, schema, intent)
    check_identity(t.res, intent, t.namespace)
    body_name = (intent.get("metadata") or {}).get("name")
    if body_name is not None and body_name != t.name:
        raise bad_request("the name of the object does not match the name on the URL")
    if not store.exists(t.res, t.namespace, t.name):
        body = copy.deepcopy(intent)
        body.setdefault("metadata", {})["managedFields"] = [
            managed.entry(manager, "Apply", t.res.api_version, now_rfc3339(), mine)
        ]
        return store.create(t.res, body, t.namespace, dry_run), True
    live = store.get(t.res, t.namespace, t.name)
    entries = live["metadata"].get("managedFields") or []
    conflicts = []
    for e in entries:
        if e.get("manager") == manager:
            continue
        theirs = managed.from_v1(e.get("fieldsV1"))
        for path in sorted(mine & theirs):
            if path[-1] != "." and managed.value_at(live, path) != managed.value_at(intent, path):
                conflicts.append((e, path))
    if conflicts and not force:
        lines = [
            f'conflict with "{e["manager"]}"'
            + (" using " + e.get("apiVersion", "") if e.get("apiVersion") else "")
            + f": {managed.describe(p)}"
            for e, p in conflicts
        ]
        head = f"Apply failed with {len(lines)} conflict{'s' if len(lines) > 1 else ''}: "
        raise ApiError(
            409,
            "Conflict",
            head + "\n".join(lines),
            {
                "causes": [
                    {"reason": "FieldManagerConflict", "message": ln, "field": managed.describe(p)}
                    for ln, (e, p) in zip(lines, conflicts, strict=True)
                ]
            },
        )
    new = copy.deepcopy(live)
    previous = next(
        (
            managed.from_v1(e.get("fieldsV1"))
            for e in entries
            if e.get("manager") == manager and e.get("operation") == "Apply"
        ),
        set(),
    )
    others = set()
    for e in entries:
        if e.get("manager") != manager:
            others |= managed.from_v1(e.get("fieldsV1"))
    for path in sorted(previous - mine - others, key=len, reverse=True):
        managed.remove_at(new, path)
    new = strategic.apply_patch(defs, schema, new, intent)
    taken = {p for _, p in conflicts}
    kept = []
    for e in entries:
        if e.get("manager") == manager and e.get("operation") == "Apply":
            continue
        if taken:
            rest = managed.from_v1(e.get("fieldsV1")) - taken
            e = dict(e, fieldsV1=managed.to_v1(rest))
        kept.append(e)
    kept.append(managed.entry(manager, "Apply", t.res.api_version, now_rfc3339(), mine))
    new["metadata"]["managedFields"] = kept
    new["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    return store.update(t.res, new, t.namespace, t.name, dry_run), False
