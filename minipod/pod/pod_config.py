"""The pods' ConfigMaps, Secrets and downward API, kept in step with the
object store (the kubelet's configmap/secret managers and volume manager).

PodConfig belongs to the pod manager; the daemon attaches the object
store once it is open (attach()). Then, in order:
    1. prepare(): before each container start, every config volume of the
       pod is written (config_volumes.py) and the container's environment
       resolved (env_sources.py); a missing reference raises, and the
       container waits (FailedMount: ContainerCreating; an env reference:
       CreateContainerConfigError);
    2. the watch: one task follows the store's changes of ConfigMaps,
       Secrets and Pods (a watch, not a poll); a change in a namespace
       rewrites the config volumes of its running pods (the atomic writer
       leaves unchanged ones alone; volumes of immutable objects are never
       read again), rewrites downwardAPI files when a pod's labels or
       annotations changed, and wakes at once every container there that
       waits for a missing reference, so it starts by itself.
"""

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from minipod.kube import reasons
from minipod.pod import config_volumes, env_sources
from minipod.pod.config_refs import CONFIGMAP, SECRET, ConfigLookup
from minipod.pod.config_volumes import FailedMount, PodFacts
from minipod.pod.events import PodEvents
from minipod.pod.record import ContainerRecord, ContainerState, PodRecord

if TYPE_CHECKING:
    from minipod.pod.manager import PodManager

FAILED_MOUNT = "FailedMount"
INVALID_ENV_NAMES = "InvalidEnvironmentVariableNames"
WATCHED = {"/configmaps": CONFIGMAP, "/secrets": SECRET}
# The waiting reasons of a container held back by a missing reference.
WAITING_FOR_CONFIG = (reasons.CREATE_CONTAINER_CONFIG_ERROR, reasons.CONTAINER_CREATING)


class PodConfig:
    def __init__(self, manager: "PodManager") -> None:
        self.m = manager
        self.objects: Any = None  # the ObjectStore, once attached
        self.frozen: dict[str, set[str]] = {}  # pod uid -> volumes of immutable objects, written once
        self.pod_meta: dict[str, str] = {}  # pod uid -> its labels and annotations, last written
        self.task: asyncio.Task[None] | None = None

    # --- reading the store ----------------------------------------------------
    def attach(self, store: Any) -> None:
        self.objects = store
        self._import_old_secrets()
        self.task = asyncio.get_running_loop().create_task(self._watch())

    def _import_old_secrets(self) -> None:
        """Secrets an earlier release kept apart (lib/secrets/NS_NAME.json,
        for imagePullSecrets) move into the store, once."""
        from minipod.fsutil import read_json
        from minipod.objects import resources as kinds

        old_dir = os.path.join(self.m.inst.lib, "secrets")
        if not os.path.isdir(old_dir):
            return
        res = kinds.builtin("", "v1", "secrets")
        for entry in sorted(os.listdir(old_dir)):
            path = os.path.join(old_dir, entry)
            secret = read_json(path) if entry.endswith(".json") else None
            meta = (secret or {}).get("metadata") or {}
            try:
                if meta and not self.objects.exists(res, meta.get("namespace"), meta.get("name")):
                    self.objects.create(res, secret, meta.get("namespace"))
            except Exception as e:  # noqa: BLE001 - one bad file must not stop the daemon
                self.m.log(f"secret file {path}: not moved into the object store: {e}")
                continue
            os.unlink(path)
        if not os.listdir(old_dir):
            os.rmdir(old_dir)

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Secret of the store, or None (imagePullSecrets)."""
        return self._get(SECRET, namespace, name)

    def _get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if self.objects is None:
            return None
        from minipod.objects import resources as kinds

        res = kinds.builtin("", "v1", "configmaps" if kind == CONFIGMAP else "secrets")
        return self.objects.get(res, namespace, name) if self.objects.exists(res, namespace, name) else None

    def lookup(self) -> ConfigLookup:
        return ConfigLookup(self._get)

    def facts(self, record: PodRecord) -> PodFacts:
        return PodFacts(
            pod_ip=record.runtime.pod_ip or "",
            host_ip=record.runtime.host_ip,
            allocatable=dict(self.m.node_facts.allocatable),
            token=self.m.api_access.token_for,
        )

    # --- step 1 ------------------------------------------------------------------
    def write_volumes(self, record: PodRecord, lookup: ConfigLookup | None = None) -> None:
        """Every config volume of the pod (raises FailedMount)."""
        lookup = lookup or self.lookup()
        uid = record.metadata["uid"]
        frozen = self.frozen.setdefault(uid, set())
        dirs = self.m.pod_dirs(record)
        ns = record.metadata["namespace"]
        for volume in record.pod["spec"].get("volumes") or []:
            if not config_volumes.is_config_volume(volume) or volume["name"] in frozen:
                continue
            config_volumes.write_volume(volume, record.pod, dirs, lookup, self.facts(record))
            if config_volumes.all_immutable(volume, ns, lookup):
                frozen.add(volume["name"])
        self.pod_meta[uid] = _meta_key(record.pod)

    def prepare(self, record: PodRecord, c: ContainerRecord, events: PodEvents) -> dict[str, str]:
        """Step 1 for one container start: its declared environment."""
        lookup = self.lookup()
        try:
            self.write_volumes(record, lookup)
        except FailedMount as e:
            events.emit(reasons.WARNING, FAILED_MOUNT, str(e))
            raise
        rt = record.runtime
        spec = record.spec_of(c)
        resolved = env_sources.resolve(
            spec, record.pod, lookup, rt.pod_ip or "", rt.host_ip, dict(self.m.node_facts.allocatable)
        )
        for warning in resolved.warnings:
            events.emit(reasons.WARNING, INVALID_ENV_NAMES, warning, c.name)
        return resolved.declared

    def forget(self, uid: str) -> None:
        self.frozen.pop(uid, None)
        self.pod_meta.pop(uid, None)

    # --- step 2 ------------------------------------------------------------------
    async def _watch(self) -> None:
        store = self.objects
        watchers = [
            store.hub.subscribe(key, None, lambda o: True, store.rev.current) for key in (*WATCHED, "/pods")
        ]
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def forward(w: Any) -> None:
            while (ch := await w.queue.get()) is not None:
                queue.put_nowait(ch)

        forwarders = [asyncio.ensure_future(forward(w)) for w in watchers]
        try:
            while True:
                ch = await queue.get()
                try:
                    self.changed(ch.resource, ch.namespace or "default", ch.obj)
                except Exception as e:  # noqa: BLE001 - one bad update must not end the watch
                    self.m.log(f"config volumes: update after {ch.resource} {ch.namespace}: {e}")
        finally:
            for f in forwarders:
                f.cancel()
            for w in watchers:
                store.hub.close(w)

    def changed(self, resource: str, namespace: str, obj: dict[str, Any]) -> None:
        for (ns, name), worker in list(self.m.workers.items()):
            if ns != namespace:
                continue
            record = worker.record
            if resource == "/pods":
                if name != obj["metadata"]["name"] or self.pod_meta.get(record.metadata["uid"]) == _meta_key(
                    record.pod
                ):
                    continue
            self.refresh(worker)

    def refresh(self, worker: Any) -> None:
        """Rewrite a live pod's volumes; wake its containers that wait for config."""
        record = worker.record
        if record.metadata.get("deletionTimestamp"):
            return
        written = os.path.join(self.m.pod_dirs(record)["run"], config_volumes.CONFIG_VOLUMES_DIR)
        if record.metadata["uid"] in self.pod_meta or os.path.isdir(written):
            try:
                self.write_volumes(record)
            except FailedMount:
                pass  # an object gone: the files stay as they were, as with the kubelet
        woken = False
        for c in record.runtime.all_containers():
            if c.state == ContainerState.WAITING and c.reason in WAITING_FOR_CONFIG and c.retry_at:
                c.retry_at = time.time()
                woken = True
        if woken:
            worker.wake.set()


def _meta_key(pod: dict[str, Any]) -> str:
    import json

    meta = pod["metadata"]
    return json.dumps([meta.get("labels") or {}, meta.get("annotations") or {}], sort_keys=True)
