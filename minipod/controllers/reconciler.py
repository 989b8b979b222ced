"""The base of every controller: a level-triggered loop over a work queue,
as kube-controller-manager's controllers are.

"Level-triggered" means a controller never acts on *what changed*, only on
*what is*: a change of any object it cares about puts the key
("namespace/name") of the object it owns into the queue, and reconcile(key)
then reads the current state from the object store and makes the world
match it. Missing a change is therefore harmless, and so is a restart.

Steps of run(), in order:
    1. watch the store (its watch hub) for the kinds this controller
       cares about: its own kind (`primary`) and the kinds it creates
       (`secondary`: a ReplicaSet's pods), from the current resourceVersion;
    2. re-list: every object of the primary kind goes into the queue, so
       after a daemon restart (even a SIGKILL) each one is looked at again
       and the pods that exist are counted and adopted, never duplicated;
    3. forever: a change of a primary object queues its key; a change of a
       secondary object queues the key(s) keys_for() names (its controller
       owner by default); a worker takes keys one at a time and calls
       reconcile(key), which may ask to be called again after some seconds
       (requeue), and whose failure brings the key back rate-limited.
A watch that falls too far behind is closed by the hub: the controller
then watches again and re-lists (step 2), as an informer does.

Writing one (replicaset.py is the model): subclass Reconciler, set `name`
(the events' source), `primary` and `secondary` (Resources), write
reconcile(key) (read with get(), act with store.create/update/delete,
report with event() and write_status()), override keys_for() if a
secondary object can concern a primary one without being owned by it (an
orphan to adopt), and add the class to controller_manager.CONTROLLERS.

A controller acts only through the object store (create, update, delete,
each checked as the API checks a client's request), never through the
pod manager: it is a client of the API like kube-controller-manager is.
"""

import asyncio
import copy
import time

from minipod.controllers.owners import controller_of, decide_claims, owner_ref, with_owner
from minipod.controllers.queue import WorkQueue
from minipod.kube.times import rfc3339
from minipod.objects import resources as kinds
from minipod.objects.resources import Resource

EVENTS = kinds.builtin("", "v1", "events")


def key_of(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace') or ''}/{meta['name']}"


def split_key(key: str) -> tuple[str | None, str]:
    ns, _, name = key.partition("/")
    return ns or None, name


class Reconciler:
    name = "controller"  # the events' source component, e.g. replicaset-controller
    primary: Resource
    secondary: tuple[Resource, ...] = ()

    def __init__(self, store, log=print):
        self.store, self.log = store, log
        self.queue = WorkQueue()
        self.tasks: list[asyncio.Task] = []

    # --- what a controller writes --------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        """Make the world match the object named by key; None, or the seconds
        after which to look again."""
        raise NotImplementedError

    def keys_for(self, res: Resource, obj: dict) -> list[str]:
        """The primary keys a change of a secondary object concerns: its
        controller owner, when that is of the primary kind."""
        ref = controller_of(obj)
        if ref and ref.get("kind") == self.primary.kind:
            return [f"{obj['metadata'].get('namespace') or ''}/{ref['name']}"]
        return []

    # --- helpers for reconcile() ---------------------------------------------------
    def get(self, res: Resource, key: str) -> dict | None:
        ns, name = split_key(key)
        if not self.store.exists(res, ns, name):
            return None
        return self.store.get(res, ns, name)

    def claim_owned(self, owner: dict, res: Resource) -> list[dict]:
        """The objects of `res` in the owner's namespace that it owns, after
        adopting the matching orphans and releasing those that no longer
        match (owners.decide_claims), each through the store."""
        ns = owner["metadata"]["namespace"]
        candidates = [o for (o_ns, _), o in list(self.store.objects[res.key].items()) if o_ns == ns]
        owned, adopt, release = decide_claims(owner, candidates)
        for obj in adopt:
            owned.append(
                self.store.update(res, with_owner(obj, owner_ref(owner)), ns, obj["metadata"]["name"])
            )
        for obj in release:
            self.store.update(
                res, with_owner(obj, None, owner["metadata"]["uid"]), ns, obj["metadata"]["name"]
            )
        return owned

    def write_status(self, res: Resource, obj: dict, status: dict) -> dict:
        """status through the status subresource, only when it changed."""
        if obj.get("status") == status:
            return obj
        new = copy.deepcopy(obj)
        new["status"] = status
        meta = obj["metadata"]
        return self.store.update(res, new, meta.get("namespace"), meta["name"], subresource="status")

    def event(self, obj: dict, etype: str, reason: str, message: str) -> None:
        """An event about obj, from this controller (kubectl describe shows it)."""
        meta, now = obj["metadata"], rfc3339()
        body = {
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}"},
            "involvedObject": {
                "kind": obj["kind"],
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": obj["apiVersion"],
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": etype,
            "reason": reason,
            "message": message,
            "source": {"component": self.name},
            "reportingComponent": self.name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.store.create(EVENTS, body, meta.get("namespace"))
        except Exception as e:  # noqa: BLE001 - a lost event must not fail the reconcile
            self.log(f"{self.name}: recording event {reason} for {key_of(obj)}: {e}")

    # --- the loop ---------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self.watch(res)) for res in (self.primary, *self.secondary)]
        self.tasks.append(loop.create_task(self.work()))

    def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        self.queue.close()

    def relist(self) -> None:
        for obj in list(self.store.objects[self.primary.key].values()):
            self.queue.add(key_of(obj))

    async def watch(self, res: Resource) -> None:
        while True:
            w = self.store.hub.subscribe(res.key, None, lambda obj: True, self.store.rev.current)
            if res is self.primary:
                self.relist()
            else:  # what exists now may concern a primary key (an orphan to adopt)
                for obj in list(self.store.objects[res.key].values()):
                    for key in self.keys_for(res, obj):
                        self.queue.add(key)
            try:
                while (ch := await w.queue.get()) is not None:
                    keys = [key_of(ch.obj)] if res is self.primary else self.keys_for(res, ch.obj)
                    for key in keys:
                        self.queue.add(key)
            finally:
                self.store.hub.close(w)

    async def work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                again = self.reconcile(key)
            except Exception as e:  # noqa: BLE001 - a controller never crashes the daemon
                self.log(f"{self.name}: syncing {key}: {e}")
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            finally:
                self.queue.done(key)
            await asyncio.sleep(0)  # let the API and the pod workers run between keys
