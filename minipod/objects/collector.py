"""Two controllers of kube-controller-manager, small enough to live here:

the garbage collector
    when an object is deleted, the objects whose ownerReferences name its
    uid are deleted too (propagationPolicy Background, the default), or
    lose that reference (Orphan);
the namespace controller
    a deleted namespace is Terminating: nothing new may be created in it,
    everything in it is deleted (pods gracefully), and when it is empty
    the namespace itself goes. Deleting a namespace also makes its
    `default` ServiceAccount go; creating one makes it (store.py).
The namespace controller runs as a task on the daemon's loop, waking every
RESYNC seconds while a namespace is terminating.
"""

import asyncio

from minipod.objects import resources as kinds

RESYNC = 0.2


class Collector:
    def __init__(self, store, log=print):
        self.store, self.log = store, log
        store.on_delete.append(self.deleted)
        self.task: asyncio.Task | None = None

    def dependents(self, uid: str) -> list[tuple[kinds.Resource, dict]]:
        out = []
        for res in kinds.RESOURCES:
            if res.stored_as:
                continue
            for obj in self.store.objects[res.key].values():
                if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []):
                    out.append((res, obj))
        return out

    def deleted(self, res: kinds.Resource, obj: dict) -> None:
        uid = obj["metadata"].get("uid")
        for dep_res, dep in self.dependents(uid):
            meta = dep["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            try:
                self.store.delete(dep_res, meta.get("namespace"), meta["name"])
            except Exception as e:  # noqa: BLE001 - one bad dependent must not stop the others
                self.log(f"garbage collector: deleting {dep_res.plural}/{meta['name']}: {e}")

    def orphan(self, uid: str) -> None:
        """propagationPolicy Orphan: the dependents stay, without the reference."""
        for dep_res, dep in self.dependents(uid):
            new = dict(dep)
            new["metadata"] = dict(
                dep["metadata"],
                ownerReferences=[r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != uid],
            )
            self.store.update(dep_res, new, dep["metadata"].get("namespace"), dep["metadata"]["name"])

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while True:
            try:
                self.finish_namespaces()
            except Exception as e:  # noqa: BLE001 - a controller never crashes the daemon
                self.log(f"namespace controller: {e}")
            await asyncio.sleep(RESYNC)

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
