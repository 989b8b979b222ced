"""Two controllers of kube-controller-manager, small enough to live here:

the garbage collector
    deleting an object with a propagationPolicy puts a finalizer on it
    first (what the API server does, deletion_finalizers() below):
      Background (the default)  the object goes at once; then its
                                dependents (the objects whose
                                ownerReferences name its uid) are deleted,
                                unless another owner of theirs still exists
                                (that reference only is dropped);
      Foreground                `foregroundDeletion`: the object stays, with
                                deletionTimestamp, while its dependents are
                                deleted; it goes once none is left with
                                blockOwnerDeletion: true;
      Orphan                    `orphan`: the dependents lose their reference
                                to it and stay; then it goes.
    Any other finalizer holds the object until a client removes it by an
    update (store.py); these two are removed here, once their work is done.
the namespace controller
    a deleted namespace is Terminating: nothing new may be created in it,
    everything in it is deleted (pods gracefully), and when it is empty
    the namespace itself goes. Deleting a namespace also makes its
    `default` ServiceAccount go; creating one makes it (store.py).
Both run as one task on the daemon's loop, every RESYNC seconds.

Pods are owned by the pod workers, not kept by the store: a pod deleted
with Foreground goes when its containers have stopped (its dependents are
deleted, not waited for); with Orphan its dependents are orphaned at once.
"""

import asyncio

from minipod.objects import resources as kinds

RESYNC = 0.2
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


def deletion_finalizers(finalizers: list[str], policy: str | None) -> list[str]:
    """The finalizers an object gets when it is deleted with this
    propagationPolicy (the API server's deletionFinalizersForGarbageCollection):
    Orphan adds `orphan`, Foreground adds `foregroundDeletion`, Background
    removes both; no policy keeps what the object has."""
    if policy is None:
        return list(finalizers)
    out = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
    if policy == "Orphan":
        out.append(ORPHAN)
    elif policy == "Foreground":
        out.append(FOREGROUND)
    return out


def owner_uids(obj: dict) -> list[str]:
    return [ref.get("uid") for ref in obj["metadata"].get("ownerReferences") or []]


def blocks(dependent: dict, owner_uid: str) -> bool:
    """Whether the dependent holds a Foreground deletion of that owner."""
    return any(
        ref.get("uid") == owner_uid and ref.get("blockOwnerDeletion")
        for ref in dependent["metadata"].get("ownerReferences") or []
    )


class Collector:
    def __init__(self, store, log=print):
        self.store, self.log = store, log
        store.on_delete.append(self.deleted)
        store.orphan_dependents = self.orphan  # pods (not kept by the store) orphan at once
        self.task: asyncio.Task | None = None

    def dependents(self, uid: str) -> list[tuple[kinds.Resource, dict]]:
        out = []
        for res in kinds.RESOURCES:
            if res.stored_as:
                continue
            for obj in self.store.objects[res.key].values():
                if uid in owner_uids(obj):
                    out.append((res, obj))
        return out

    def live_uids(self) -> set[str]:
        return {
            obj["metadata"].get("uid")
            for res in kinds.RESOURCES
            if not res.stored_as
            for obj in self.store.objects[res.key].values()
        }

    def deleted(self, res: kinds.Resource, obj: dict) -> None:
        """An object is gone: its dependents go too (Background), unless
        another of their owners still exists."""
        uid = obj["metadata"].get("uid")
        found = self.dependents(uid)
        if not found:
            return
        live = self.live_uids()
        for dep_res, dep in found:
            meta = dep["metadata"]
            try:
                if any(u != uid and u in live for u in owner_uids(dep)):
                    self.drop_reference(dep_res, dep, uid)
                elif not meta.get("deletionTimestamp"):
                    self.store.delete(dep_res, meta.get("namespace"), meta["name"])
            except Exception as e:  # noqa: BLE001 - one bad dependent must not stop the others
                self.log(f"garbage collector: deleting {dep_res.plural}/{meta['name']}: {e}")

    def drop_reference(self, res: kinds.Resource, dep: dict, uid: str) -> None:
        new = dict(dep)
        new["metadata"] = dict(
            dep["metadata"],
            ownerReferences=[r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != uid],
        )
        if not new["metadata"]["ownerReferences"]:
            del new["metadata"]["ownerReferences"]
        new["metadata"].pop("resourceVersion", None)  # the collector's own write: never a conflict
        self.store.update(res, new, dep["metadata"].get("namespace"), dep["metadata"]["name"])

    def orphan(self, uid: str) -> None:
        """propagationPolicy Orphan: the dependents stay, without the reference."""
        for dep_res, dep in self.dependents(uid):
            self.drop_reference(dep_res, dep, uid)

    # --- the loop ---------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while True:
            for step in (self.finish_deletions, self.finish_namespaces):
                try:
                    step()
                except Exception as e:  # noqa: BLE001 - a controller never crashes the daemon
                    self.log(f"{step.__name__}: {e}")
            await asyncio.sleep(RESYNC)

    def finish_deletions(self) -> None:
        """Do the work of the `orphan` and `foregroundDeletion` finalizers
        of the objects being deleted, and remove each when it is done."""
        for res in kinds.RESOURCES:
            if res.stored_as or res.backend != "stored":
                continue
            for obj in list(self.store.objects[res.key].values()):
                meta = obj["metadata"]
                finalizers = meta.get("finalizers") or []
                if not meta.get("deletionTimestamp"):
                    continue
                if ORPHAN in finalizers:
                    self.orphan(meta["uid"])
                    self.remove_finalizer(res, obj, ORPHAN)
                elif FOREGROUND in finalizers and not self.delete_dependents(meta["uid"]):
                    self.remove_finalizer(res, obj, FOREGROUND)

    def delete_dependents(self, uid: str) -> int:
        """Foreground: delete the owner's dependents (each in the foreground
        too if it has dependents of its own); return how many of them still
        block the owner."""
        left = 0
        for dep_res, dep in self.dependents(uid):
            meta = dep["metadata"]
            if blocks(dep, uid):
                left += 1
            if meta.get("deletionTimestamp"):
                continue
            policy = "Foreground" if self.dependents(meta["uid"]) else "Background"
            try:
                self.store.delete(dep_res, meta.get("namespace"), meta["name"], propagation=policy)
            except Exception as e:  # noqa: BLE001 - one bad dependent must not stop the others
                self.log(f"garbage collector: deleting {dep_res.plural}/{meta['name']}: {e}")
        return left

    def remove_finalizer(self, res: kinds.Resource, obj: dict, finalizer: str) -> None:
        new = dict(obj)
        new["metadata"] = dict(obj["metadata"])
        new["metadata"]["finalizers"] = [f for f in obj["metadata"]["finalizers"] if f != finalizer]
        new["metadata"].pop("resourceVersion", None)
        self.store.update(res, new, obj["metadata"].get("namespace"), obj["metadata"]["name"])

    def finish_namespaces(self) -> None:
        ns_res = kinds.builtin("", "v1", "namespaces")
        for ns in list(self.store.objects[ns_res.key].values()):
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            name, left = ns["metadata"]["name"], 0
            for res in kinds.RESOURCES:
                if not res.namespaced or res.stored_as:
                    continue
                for (obj_ns, obj_name), obj in list(self.store.objects[res.key].items()):
                    if obj_ns != name:
                        continue
                    left += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        self.store.delete(res, obj_ns, obj_name)
            if left == 0:
                self.store.remove(ns_res, None, name)
