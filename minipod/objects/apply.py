"""`minipod apply` for every kind the object store keeps (ConfigMaps,
Namespaces, Deployments, ...): create the object, or update it to what
the manifest says, as `kubectl apply` does one object at a time.

Steps of apply_objects(), in order; nothing is written until step 2 is
through for every object:
    1. plan (pure): each object's namespace and name, and its resource;
    2. check: refuse unknown fields (kubectl sends fieldValidation=Strict),
       then run the store's own create or update without writing
       (dry run), so every error of the file is found first;
    3. act: namespaces first (the other objects may live in them), then
       the rest in file order; each is "created", "configured" or
       "unchanged".
Pods are not here: the pod manager applies them (minipod.pod.manager).

The update is kubectl's client-side apply made simple: the fields the
manifest sets replace the stored ones, top-level fields it no longer
sets go, labels and annotations are the manifest's, and what the server
owns (status, uid, resourceVersion, ...) stays.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass

from minipod.errors import ManifestError
from minipod.objects import meta as objmeta
from minipod.objects import resources as kinds
from minipod.objects.errors import ApiError
from minipod.objects.resources import Resource

# Fields of an object that the server, not the manifest, decides.
SERVER_FIELDS = ("apiVersion", "kind", "metadata", "status")
# Metadata the manifest decides on an update.
MANIFEST_METADATA = ("labels", "annotations", "ownerReferences", "finalizers")


@dataclass(frozen=True)
class Planned:
    res: Resource
    namespace: str | None
    name: str
    obj: dict


def served(obj: dict) -> Resource | None:
    """The stored resource for a manifest object, or None if the object
    store does not keep its kind (pods: the manager; others: skipped)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    res = kinds.by_kind(api_version, kind)
    if res is None or res.backend != "stored" or res.stored_as:
        return None
    return res


def label(p: Planned) -> str:
    """How kubectl names an object it acted on: configmap/x, deployment.apps/web."""
    group = f".{p.res.group}" if p.res.group else ""
    return f"{p.res.singular}{group}/{p.name}"


def plan(objects: list[dict], default_namespace: str) -> list[Planned]:
    """(1) Each object's resource, namespace and name; ManifestError with
    every problem found."""
    out, errors = [], []
    for obj in objects:
        res = served(obj)
        if res is None:
            continue
        meta: dict = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        name = meta.get("name")
        where = f"{res.kind} {name!r}" if isinstance(name, str) else res.kind
        if not isinstance(name, str) or not name:
            errors.append(f"{where}: metadata.name: Required value: name is required")
            continue
        problems = objmeta.name_problems(res, name)
        if problems:
            errors += [f"{where}: metadata.name: Invalid value: {name!r}: {p}" for p in problems]
            continue
        ns = (meta.get("namespace") or default_namespace) if res.namespaced else None
        out.append(Planned(res, ns, name, obj))
    keys = [(p.res.key, p.namespace, p.name) for p in out]
    for key in sorted({k for k in keys if keys.count(k) > 1}, key=str):
        errors.append(f"{key[0].split('/')[-1]} {key[2]!r} is defined more than once")
    if errors:
        raise ManifestError(errors)
    return out


def merged(old: dict, manifest: dict) -> dict:
    """(pure) The stored object updated to what the manifest says."""
    new = copy.deepcopy(old)
    for field in list(new):
        if field not in SERVER_FIELDS and field not in manifest:
            del new[field]
    for field, value in manifest.items():
        if field not in SERVER_FIELDS:
            new[field] = copy.deepcopy(value)
    theirs = manifest.get("metadata") or {}
    for field in MANIFEST_METADATA:
        if field in theirs:
            new["metadata"][field] = copy.deepcopy(theirs[field])
        elif field in ("labels", "annotations"):
            new["metadata"].pop(field, None)
    return new


def apply_objects(
    store, planned: list[Planned], unknown_fields: Callable[[Resource, dict], list[str]]
) -> list[dict]:
    """(2, 3) Check every planned object, then write them. The result:
    one {"kind", "group", "name", "namespace", "action", "label"} each."""
    errors = []
    updates: dict[int, dict] = {}
    for i, p in enumerate(planned):
        unknown = unknown_fields(p.res, p.obj)
        if unknown:
            errors += [f"{label(p)}: unknown field {path!r}" for path in unknown]
            continue
        try:
            if store.exists(p.res, p.namespace, p.name):
                updates[i] = merged(store.get(p.res, p.namespace, p.name), p.obj)
                store.update(p.res, updates[i], p.namespace, p.name, dry_run=True)
            elif not _namespace_in_file(planned, p):
                store.create(p.res, p.obj, p.namespace, dry_run=True)
        except ApiError as e:
            errors.append(f"{label(p)}: {e.message}")
    if errors:
        raise ManifestError(errors)
    order = sorted(range(len(planned)), key=lambda i: planned[i].res.kind != "Namespace")
    results = []
    for i in order:
        p = planned[i]
        if i in updates:
            before = store.get(p.res, p.namespace, p.name)["metadata"]["resourceVersion"]
            after = store.update(p.res, updates[i], p.namespace, p.name)["metadata"]["resourceVersion"]
            action = "unchanged" if after == before else "configured"
        else:
            store.create(p.res, p.obj, p.namespace)
            action = "created"
        results.append(
            {
                "kind": p.res.kind,
                "group": p.res.group,
                "name": p.name,
                "namespace": p.namespace,
                "action": action,
                "label": label(p),
            }
        )
    return results


def _namespace_in_file(planned: list[Planned], p: Planned) -> bool:
    """True when p lives in a namespace the same file creates: a dry run
    would refuse it now (no such namespace yet), not once that is made."""
    return p.namespace is not None and any(
        q.res.kind == "Namespace" and q.name == p.namespace for q in planned
    )


class StoredApplier:
    """The object store's side of `minipod apply`, handed to the pod
    manager (which knows nothing of the store): accepts() picks the
    objects the store keeps, apply() checks then writes them."""

    def __init__(self, store, unknown_fields: Callable[[Resource, dict], list[str]]):
        self.store, self.unknown_fields = store, unknown_fields

    def accepts(self, obj: dict) -> bool:
        return served(obj) is not None

    def apply(self, objects: list[dict], namespace: str) -> list[dict]:
        return apply_objects(self.store, plan(objects, namespace), self.unknown_fields)
