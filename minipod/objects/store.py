"""The object store: every API object of the instance, in memory, with the
stored kinds kept crash-safe on disk.

Layout under the instance's lib dir:
    objects/revision.json                       the resourceVersion ceiling
    objects/GROUP_PLURAL/NAMESPACE_NAME.json    one file per stored object
                                                (mode 0600: Secrets are in there)

Steps of a write (create, update, delete), in order:
    1. decide (meta.py): the new object, or an ApiError (nothing changed);
    2. let the kind's backend act (the pod manager starts or stops a pod);
    3. commit: take the next resourceVersion, write the file (tmp + fsync +
       rename), keep it in memory, publish the change to the watchers.
Backends whose objects change by themselves (a pod's status, a new event)
call track() / untrack(), which commit the same way.
"""

import json
import os
import pickle
from typing import Any

from minipod.fsutil import TEMP_MARK, read_json, write_atomic, write_json_atomic
from minipod.kube.times import rfc3339 as now_rfc3339
from minipod.objects import meta as objmeta
from minipod.objects import resources as kinds
from minipod.objects.collector import deletion_finalizers
from minipod.objects.encryption import Encryption
from minipod.objects.errors import ApiError, already_exists, conflict, invalid, not_found
from minipod.objects.resources import Resource
from minipod.objects.revision import Revision
from minipod.objects.selectors import field_selector, label_selector
from minipod.objects.watch import Change, Watcher, WatchHub

Key = tuple[str | None, str]  # (namespace or None, name)
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"


class ObjectStore:
    def __init__(self, lib_dir: str, encryption: Encryption | None = None):
        self.dir = os.path.join(lib_dir, "objects")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.encryption = encryption  # encryption at rest (encryption.py), per resource
        self.objects: dict[str, dict[Key, dict]] = {r.key: {} for r in kinds.RESOURCES}
        self.backends: dict[str, Any] = {}  # backend name -> object with create/update/delete
        highest = 0
        for res in kinds.RESOURCES:
            if res.backend == "stored" and not res.stored_as:
                for obj in self._load(res):
                    self.objects[res.key][_key(obj)] = obj
                    highest = max(highest, int(obj["metadata"].get("resourceVersion", 0)))
        self.rev = Revision(os.path.join(self.dir, "revision.json"), at_least=highest)
        self.hub = WatchHub(self.rev.current)
        self.on_delete: list = []  # callbacks(res, obj): the garbage collector listens
        # propagationPolicy Orphan for kinds the store does not keep (pods):
        # the garbage collector's orphan(uid), called before the delete.
        self.orphan_dependents: Any = None
        # res.key -> admit(obj, old or None) -> obj: a kind's defaults, checks
        # and allocations as the API server does them (services/admission.py)
        self.admission: dict[str, Any] = {}
        self.root_ca = ""  # the API's CA certificate (PEM), once it serves

    # --- files ----------------------------------------------------------------
    def _dir(self, res: Resource) -> str:
        return os.path.join(self.dir, f"{res.group or 'core'}_{res.plural}")

    def _path(self, res: Resource, ns: str | None, name: str) -> str:
        # Names are DNS subdomains: '_' cannot occur in them.
        return os.path.join(self._dir(res), f"{ns}_{name}.json" if ns else f"{name}.json")

    def _load(self, res: Resource) -> list[dict]:
        d = self._dir(res)
        if not os.path.isdir(d):
            return []
        out = []
        for entry in sorted(os.listdir(d)):
            if TEMP_MARK in entry:
                os.unlink(os.path.join(d, entry))  # an interrupted write: the old file is intact
            elif entry.endswith(".json"):
                obj = self._read(res, os.path.join(d, entry))
                if obj:
                    out.append(obj)
        return out

    def _read(self, res: Resource, path: str) -> dict | None:
        if self.encryption is None:
            return read_json(path)
        with open(path, "rb") as f:
            data = self.encryption.decrypt(res.plural, res.group, f.read(), path)
        return json.loads(data)

    def _persist(self, res: Resource, obj: dict) -> None:
        os.makedirs(self._dir(res), mode=0o700, exist_ok=True)
        path = self._path(res, *_key(obj))
        if self.encryption is None:
            write_json_atomic(path, obj, mode=0o600)  # Secrets are stored here
            return
        data = json.dumps(obj, sort_keys=True).encode()
        write_atomic(path, self.encryption.encrypt(res.plural, res.group, data), mode=0o600)

    def _unpersist(self, res: Resource, obj: dict) -> None:
        try:
            os.unlink(self._path(res, *_key(obj)))
        except FileNotFoundError:
            pass

    # --- the commit -----------------------------------------------------------
    def _commit(self, res: Resource, obj: dict, change: str, copy_back: bool = True) -> dict:
        """Store (or drop) obj, publish the change; return a copy of it, or
        obj itself with `copy_back=False` (a caller that only reads it)."""
        rv = self.rev.next()
        obj["metadata"]["resourceVersion"] = str(rv)
        if change == "DELETED":
            self.objects[res.key].pop(_key(obj), None)
            if res.backend == "stored":
                self._unpersist(res, obj)
        else:
            self.objects[res.key][_key(obj)] = obj
            if res.backend == "stored":
                self._persist(res, obj)
        self.hub.publish(Change(rv, change, res.key, obj["metadata"].get("namespace"), clone(obj)))
        if change == "DELETED":
            for callback in self.on_delete:
                callback(res, obj)
        return clone(obj) if copy_back else obj

    def track(self, res: Resource, obj: dict) -> str:
        """A backend's object is new or changed: commit it unless nothing
        changed. Returns its resourceVersion."""
        old = self.objects[res.key].get(_key(obj))
        if old is not None and objmeta.is_same(old, obj):
            return old["metadata"]["resourceVersion"]
        change = "ADDED" if old is None else "MODIFIED"
        return self._commit(res, clone(obj), change, copy_back=False)["metadata"]["resourceVersion"]

    def untrack(self, res: Resource, namespace: str | None, name: str) -> None:
        old = self.objects[res.key].get((namespace, name))
        if old is not None:
            self._commit(res, clone(old), "DELETED")

    # --- reads ----------------------------------------------------------------
    def get(self, res: Resource, namespace: str | None, name: str) -> dict:
        obj = self.objects[res.key].get((namespace if res.namespaced else None, name))
        if obj is None:
            raise not_found(res.plural, name, res.group)
        return clone(obj)

    def exists(self, res: Resource, namespace: str | None, name: str) -> bool:
        return (namespace if res.namespaced else None, name) in self.objects[res.key]

    def matcher(self, res: Resource, label_sel: str | None, field_sel: str | None):
        labels, fields = label_selector(label_sel), field_selector(res.kind, field_sel)
        return lambda obj: labels(objmeta.labels_of(obj)) and fields(obj)

    def list(
        self, res: Resource, namespace: str | None, label_sel: str | None = None, field_sel: str | None = None
    ) -> tuple[list[dict], str]:
        """(items sorted by namespace and name, the list's resourceVersion)."""
        match = self.matcher(res, label_sel, field_sel)
        items = [
            clone(o)
            for k, o in sorted(self.objects[res.key].items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))
            if (namespace is None or k[0] == namespace) and match(o)
        ]
        return items, str(self.rev.current)

    def watch(
        self, res: Resource, namespace: str | None, label_sel: str | None, field_sel: str | None, since: int
    ) -> Watcher:
        return self.hub.subscribe(res.key, namespace, self.matcher(res, label_sel, field_sel), since)

    # --- writes ---------------------------------------------------------------
    def _namespace_must_allow(self, res: Resource, namespace: str | None) -> None:
        if not res.namespaced or res.kind == "Event":
            return
        ns = self.objects["/namespaces"].get((None, namespace or "default"))
        if ns is None:
            raise not_found("namespaces", namespace or "default")
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{res.plural} "" is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated",
            )

    def create(self, res: Resource, body: dict, namespace: str | None, dry_run: bool = False) -> dict:
        obj = objmeta.prepare_create(res, body, namespace, now_rfc3339(), objmeta.new_uid())
        ns, name = _key(obj)
        self._namespace_must_allow(res, ns)
        if (ns, name) in self.objects[res.key]:
            raise already_exists(res.plural, name, res.group)
        backend = self.backends.get(res.backend)
        if backend is not None:
            # The backend acts (a pod starts) and tracks the object itself.
            created = backend.create(res, obj, dry_run)
            return created if dry_run else self.get(res, ns, name)
        if res.key in self.admission:
            obj = self.admission[res.key](obj, None)
        if dry_run:
            return obj
        created = self._commit(res, obj, "ADDED")
        if res.kind == "Namespace":
            self.namespace_created(created)
        return created

    def update(
        self,
        res: Resource,
        body: dict,
        namespace: str | None,
        name: str,
        dry_run: bool = False,
        subresource: str = "",
    ) -> dict:
        old = self.get(res, namespace, name)
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise conflict(
                res.group_resource,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        if (body.get("metadata") or {}).get("name") not in (None, name):
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        new = objmeta.prepare_update(res, old, body, namespace)
        _no_new_finalizers(res, old, new)
        if subresource == "status":
            new = dict(old, status=new.get("status"))
        elif "status" in old and "status" in res.subresources:
            new["status"] = old["status"]  # status changes go through /status
        if res.key in self.admission and subresource != "status":
            new = self.admission[res.key](new, old)
            # Generation counts spec changes after defaults, as the API
            # server's (which defaults while decoding): a body that only
            # leaves out a defaulted field changes nothing.
            generation = old["metadata"].get("generation", 1)
            changed = objmeta.spec_part(old) != objmeta.spec_part(new)
            new["metadata"]["generation"] = generation + 1 if changed else generation
        if objmeta.is_same(old, new):
            return old
        backend = self.backends.get(res.backend)
        if backend is not None:
            result = backend.update(res, old, new, dry_run)
            if dry_run or not self.exists(res, namespace, name):
                return result  # gone with its last finalizer (a held pod)
            return self.get(res, namespace, name)
        if dry_run:
            return new
        if (
            new["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and res.kind != "Namespace"  # the namespace controller finishes those
        ):
            return self._commit(res, new, "DELETED")  # the last finalizer is gone
        return self._commit(res, new, "MODIFIED")

    def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        grace: int | None = None,
        preconditions: dict | None = None,
        dry_run: bool = False,
        propagation: str | None = None,
    ) -> tuple[dict, bool]:
        """(the object, whether it is gone already). An object with
        finalizers (propagation Orphan and Foreground add one: collector.py),
        a pod (graceful) and a namespace (its contents go first) stay, with
        deletionTimestamp set, until they are gone."""
        old = self.get(res, namespace, name)
        for field in ("uid", "resourceVersion"):
            want = (preconditions or {}).get(field)
            if want and want != old["metadata"].get(field):
                field_name = "UID" if field == "uid" else "ResourceVersion"
                raise conflict(
                    res.group_resource,
                    name,
                    f"Precondition failed: {field_name} in precondition: {want}, "
                    f"{field_name} in object meta: {old['metadata'].get(field)}",
                )
        backend = self.backends.get(res.backend)
        if backend is not None:
            if propagation == "Orphan" and not dry_run and self.orphan_dependents is not None:
                self.orphan_dependents(old["metadata"]["uid"])
            return backend.delete(res, old, grace, dry_run)
        meta = old["metadata"]
        had = meta.get("finalizers") or []
        finalizers = deletion_finalizers(had, propagation)
        if dry_run:
            return old, False
        if res.kind != "Namespace" and not finalizers:
            return self._commit(res, old, "DELETED"), True
        if meta.get("deletionTimestamp") and finalizers == had:
            return old, False
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
        if res.kind == "Namespace":
            old.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            old.setdefault("status", {})["phase"] = "Terminating"
        return self._commit(res, old, "MODIFIED"), False

    def remove(self, res: Resource, namespace: str | None, name: str) -> None:
        """Drop an object whose deletion is complete (a finalized namespace)."""
        if self.exists(res, namespace, name):
            self._commit(res, self.get(res, namespace, name), "DELETED")

    # --- the cluster's starting objects -----------------------------------------
    def ensure_defaults(self) -> None:
        """The four system namespaces, and a `default` ServiceAccount in
        every namespace (what kube-controller-manager's service account
        controller keeps)."""
        ns_res = kinds.builtin("", "v1", "namespaces")
        for ns in kinds.SYSTEM_NAMESPACES:
            if not self.exists(ns_res, None, ns):
                self.create(ns_res, namespace_object(ns), None)
        for obj in list(self.objects["/namespaces"].values()):
            self.namespace_created(obj)

    def namespace_created(self, ns: dict) -> None:
        sa = kinds.builtin("", "v1", "serviceaccounts")
        name = ns["metadata"]["name"]
        if ns["metadata"].get("deletionTimestamp"):
            return
        if not self.exists(sa, name, "default"):
            self.create(sa, {"metadata": {"name": "default"}}, name)
        cm = kinds.builtin("", "v1", "configmaps")
        if self.root_ca and not self.exists(cm, name, ROOT_CA_CONFIGMAP):
            # What kube-controller-manager's root-ca-cert-publisher keeps.
            body = {"metadata": {"name": ROOT_CA_CONFIGMAP}, "data": {"ca.crt": self.root_ca}}
            self.create(cm, body, name)

    def publish_root_ca(self, pem: str) -> None:
        """The API's CA, in a kube-root-ca.crt ConfigMap in every namespace."""
        self.root_ca = pem
        for obj in list(self.objects["/namespaces"].values()):
            self.namespace_created(obj)


def namespace_object(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _no_new_finalizers(res: Resource, old: dict, new: dict) -> None:
    """An object being deleted may lose finalizers, never gain one."""
    if not old["metadata"].get("deletionTimestamp"):
        return
    added = sorted(
        set(new["metadata"].get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
    )
    if added:
        listed = ", ".join(f'"{f}"' for f in added)
        raise invalid(
            res.kind,
            old["metadata"]["name"],
            [
                (
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    "Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers []string{{{listed}}}",
                )
            ],
        )


def clone(obj: Any) -> Any:
    """A deep copy of a JSON document (dicts, lists, strings, numbers,
    booleans, None), the store's only content: a pickle round trip, about
    5x faster than copy.deepcopy, which looks up a copier and keeps a memo
    entry for every value. Every read and every commit copies, so that no
    caller ever holds the store's own dicts."""
    return pickle.loads(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


def _key(obj: dict) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace"), meta["name"]
