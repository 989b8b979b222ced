"""The pod manager: every pod of one instance, their records and workers.

What the API asks for lands here:
    apply()    validate a whole manifest first, then create (or leave
               unchanged) each pod, give it a uid and a worker;
    get()/list_pods()  the v1 Pod objects, status included;
    delete()   set deletionTimestamp and a grace period, let the worker
               terminate the pod, optionally wait until it is gone;
    inspect()  the teaching view: every kernel object the pod is made of.

start() runs once when the daemon starts: it loads every saved record and
adopts what is still running (recovery.py), so a daemon SIGKILLed at
any moment loses nothing: a live monitor is watched again, a container that
exited meanwhile reports the exit code and time its monitor wrote down.
"""

import asyncio
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable

from minipod.errors import ManifestError, MinipodError, NotFound
from minipod.image.pull_coordinator import Pulls
from minipod.kube.manifest import load_objects
from minipod.kube.selectors import parse_selector
from minipod.kube.times import rfc3339
from minipod.linux import cgroups, userns
from minipod.linux import sandbox as namespaces
from minipod.network import pod_network as network
from minipod.paths import path_in
from minipod.pod import (
    admission,
    image_pull,
    node,
    node_config,
    node_scheduling,
    pod_config,
    recovery,
    run_wait,
)
from minipod.pod import record as rec
from minipod.pod import status as podstatus
from minipod.pod import worker as lifecycle
from minipod.pod.config_refs import ConfigRefError
from minipod.pod.events import EventRecorder
from minipod.pod.record import ContainerRecord, PodRecord
from minipod.pod.store import PodStore

# Fields a live pod may change on apply; everything else is immutable, as in Kubernetes.
MUTABLE_METADATA = ("labels", "annotations")


class PodManager:
    def __init__(
        self,
        inst,
        images,
        backoff_base: float = 10.0,
        log=print,
        bridge: str | None = None,
        subnet: str | None = None,
        resource_config: node.ResourceConfig | None = None,
    ):
        self.inst = inst
        self.resource_config = resource_config or node.ResourceConfig()
        self.cgroups_state = os.path.join(inst.lib, "cgroups.json")
        self.cgroups = cgroups.setup_root(self.cgroups_state, self.resource_config.cgroup_parent)
        self.pids_limit = self.resource_config.pod_pids_limit
        self.conflist = network.ensure_conflist(inst, bridge, subnet)
        self.pulls = Pulls(images.dir, inst.etc, log)
        self.net_lock = asyncio.Lock()  # a bridge is never removed while a pod is being added
        self.host_ip = network.host_ip()
        self.node_facts = node.node_facts(inst.lib, self.resource_config, self.host_ip)
        self.cluster_dns: str | None = None  # the DNS server pods use (minipod/services/dns_server.py)
        self.images = images
        self.store = PodStore(inst.pods_state)
        self.events = EventRecorder(inst.lib)
        self.backoff_base = backoff_base
        self.backoff_max = 30 * backoff_base  # 10 s -> 5 min, as the kubelet
        self.workers: dict[tuple[str, str], lifecycle.PodWorker] = {}
        self.shim = namespaces.shim_path()
        self.node = node_config.load(inst)  # the instance's kubelet-like settings
        self.log = log
        # Who wants to hear of every saved pod and every pod gone (the API's
        # object store): objects with saved(record) and gone(namespace, name).
        self.listeners: list = []
        # Validating admission for pods created by apply (PodSecurity):
        # callables(pod) that return warnings or raise to refuse it.
        self.pod_admission: list = []
        # How pods reach the Kubernetes API: the token volume's files and the
        # service variables (kubeapi/pod_access.py replaces this when it serves).
        self.api_access = NoApiAccess()
        # ConfigMaps, Secrets, the downward API: volumes and env (pod_config.py).
        self.config = pod_config.PodConfig(self)
        # PersistentVolumeClaims (minipod.storage sets both): the scheduler's
        # volume check, and the bound volumes' host sources for the mounts.
        self.volume_check: Callable[[dict], admission.Refusal | None] | None = None
        self.claim_sources: Callable[[dict], dict] = lambda pod: {}
        # What the Node object and the Namespaces say (objects/cluster.py
        # replaces it): labels, taints and cordon for the scheduler.
        self.node_view = node_scheduling.NodeView
        self.taint_manager = node_scheduling.TaintManager(self)

    def pod_saved(self, record: PodRecord) -> None:
        for listener in self.listeners:
            listener.saved(record)

    def allocate_user_range(self) -> int:
        """A hostUsers: false pod's range of host ids: the first of the pool
        no pod of this instance holds (the records, on disk, are the ledger;
        a restarted daemon reads them back before any pod starts)."""
        used = {w.record.runtime.user_range for w in self.workers.values()}
        cfg = self.resource_config
        return userns.pick_range({u for u in used if u is not None}, cfg.userns_base, cfg.userns_ranges)

    # --- paths --------------------------------------------------------------------
    def pod_dirs(self, record: PodRecord) -> dict:
        meta = record.metadata
        uid = meta["uid"]
        run = path_in(self.inst.pods_run, uid)
        return {
            "run": run,
            "shm": os.path.join(run, "shm"),
            "init_root": os.path.join(run, "init-root"),
            "memory_volumes": os.path.join(run, "volumes"),
            "disk_volumes": path_in(self.inst.lib, "volumes", uid),
            "logs": path_in(self.inst.lib, "logs", f"{meta['namespace']}_{meta['name']}_{uid}"),
            "containers": self.inst.containers_dir,
            "claims": self.claim_sources(record.pod),
        }

    async def remove_pod_files(self, record: PodRecord) -> None:
        dirs = self.pod_dirs(record)
        trees = [os.path.join(dirs["containers"], c.id) for c in record.runtime.all_containers() if c.id]
        trees += [dirs[key] for key in ("run", "disk_volumes", "logs")]
        # Dozens of unlinks and rmdirs: in a thread, off the event loop.
        await asyncio.to_thread(_remove_trees, trees)
        self.store.remove(*record.key)

    # --- images -------------------------------------------------------------------
    async def ensure_image(self, worker: lifecycle.PodWorker, c: ContainerRecord, container: dict):
        """The container's image, pulled first if its policy says so (image_pull.py)."""
        return await image_pull.ensure_image(
            self.images, self.pulls, self.config.secret, worker.record, c, container, worker.events
        )

    # --- start-up and adoption ----------------------------------------------------
    async def start(self) -> None:
        for record in self.store.load_all(report=self.report_unplaced):
            worker = lifecycle.PodWorker(self, record)
            self.workers[record.key] = worker
            recovery.adopt(worker)
            worker.start()

    def report_unplaced(self, path: str, record, problem: str) -> None:
        """A state file start() cannot place: say so in the daemon's log,
        with what may still be running for it. It is left where it is."""
        self.log(
            f"state file {path}: cannot place it: {problem}; its pod is NOT managed "
            "(its processes, netns and IP lease, if any, keep running): move the file away once checked"
        )

    # --- API operations -----------------------------------------------------------
    def apply(
        self, text: str, namespace: str = "default", enforce_namespace: bool = False, stored=None
    ) -> dict:
        """Validate every object, then create each pod or leave it as it is.
        stored: the object store's side (objects/apply.py StoredApplier),
        which keeps the other kinds of the file (ConfigMaps, Namespaces,
        Deployments, ...): they are checked and written after the pods are
        checked and before any pod is created, since pods may use them."""
        m = load_objects(text, namespace, enforce_namespace, stored.accepts if stored else lambda o: False)
        pods, warnings = m.pods, m.warnings
        # Refuse changes to existing pods before creating anything.
        errors = []
        for pod in pods:
            old = self.workers.get(_key(pod))
            if old and not _same_spec(old.record.spec, pod):
                errors.append(
                    f'pod "{pod["metadata"]["name"]}": Forbidden: pod updates may not '
                    f"change fields other than metadata.labels and metadata.annotations"
                )
        if errors:
            raise ManifestError(errors, hint="delete the pod first: minipod delete pod NAME")
        results = stored.apply(m.stored, namespace) if m.stored else []
        for pod in pods:  # admission refuses before any pod is created
            if _key(pod) not in self.workers:
                for admit in self.pod_admission:
                    warnings = warnings + admit(pod)
        for pod in pods:
            old = self.workers.get(_key(pod))
            if old is None:
                results.append({"kind": "Pod", "pod": self.create(pod), "action": "created"})
                continue
            meta = old.record.metadata
            changed = any(meta.get(k) != pod["metadata"].get(k) for k in MUTABLE_METADATA)
            for k in MUTABLE_METADATA:
                if pod["metadata"].get(k) is not None:
                    meta[k] = pod["metadata"][k]
                else:
                    meta.pop(k, None)
            if changed:
                old.save()
            results.append(
                {
                    "kind": "Pod",
                    "pod": self.view(old.record),
                    "action": "configured" if changed else "unchanged",
                }
            )
        return {"items": results, "warnings": warnings}

    def create(self, pod: dict) -> dict:
        meta, spec = pod["metadata"], pod["spec"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        # The API server's object store may have named the pod already.
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", rfc3339())

        has_inits = bool(spec.get("initContainers"))
        record = PodRecord(
            pod={k: v for k, v in pod.items() if k != "status"},
            runtime=rec.PodRuntime(
                host_ip=self.host_ip,
                init_containers=[
                    rec.new_container(c, True, has_inits) for c in spec.get("initContainers") or []
                ],
                containers=[rec.new_container(c, False, has_inits) for c in spec["containers"]],
                scheduled=False,  # until it fits on the node: scheduler.py
                created_epoch=time.time(),
            ),
        )
        # Would a cluster run it here, now (scheduler.py, admission.py)? If
        # not, it is held Pending or rejected, and its worker does nothing.
        worker = lifecycle.PodWorker(self, record)
        self.workers[record.key] = worker
        self.schedule()
        worker.save()
        worker.start()
        return self.view(record)

    def add_record(self, record: PodRecord) -> lifecycle.PodWorker:
        """A pod another front door built (the CRI's RunPodSandbox): its
        kubelet admitted it already, so no scheduler; the worker makes its
        sandbox and network, then runs what the record lets it run."""
        record.metadata.setdefault("creationTimestamp", rfc3339())
        record.runtime.host_ip = self.host_ip
        record.runtime.scheduled = True
        record.runtime.created_epoch = time.time()
        worker = lifecycle.PodWorker(self, record)
        self.workers[record.key] = worker
        worker.save()
        worker.start()
        return worker

    async def wait_running(self, keys: list[tuple[str, str]], timeout: float) -> dict:
        """What `minipod run` waits for (run_wait.py)."""
        return await run_wait.wait_running(self.workers, keys, timeout)

    def worker(self, namespace: str, name: str) -> lifecycle.PodWorker:
        w = self.workers.get((namespace, name))
        if w is None:
            raise NotFound(f'pods "{name}" not found')
        return w

    def get(self, namespace: str, name: str) -> dict:
        return self.view(self.worker(namespace, name).record)

    def list_pods(self, namespace: str | None = None, selector: str | None = None) -> list[dict]:
        match = parse_selector(selector or "").matches
        out = []
        for (ns, _), w in sorted(self.workers.items()):
            if (namespace is None or ns == namespace) and match(w.record.metadata.get("labels") or {}):
                out.append(self.view(w.record))
        return out

    @staticmethod
    def view(record: PodRecord) -> dict:
        """The v1 Pod as the API shows it (status.pod_view)."""
        return podstatus.pod_view(record)

    async def delete(self, namespace: str, name: str, grace: int | None = None, wait: bool = True) -> dict:
        w = self.worker(namespace, name)
        view = self.begin_delete(namespace, name, grace)
        if wait:
            await w.finished.wait()
        return view

    def begin_delete(self, namespace: str, name: str, grace: int | None = None) -> dict:
        """Mark the pod for deletion (deletionTimestamp, grace period) and
        wake its worker, which terminates it; return the pod as it is now."""
        w = self.worker(namespace, name)
        meta = w.record.metadata
        if grace is None:
            grace = meta.get("deletionGracePeriodSeconds", w.record.grace_period())
        if not meta.get("deletionTimestamp") or grace < meta.get("deletionGracePeriodSeconds", grace + 1):
            # A shorter grace period overrides a longer one already in progress.
            meta["deletionTimestamp"] = rfc3339()
            meta["deletionGracePeriodSeconds"] = grace
            w.rt.kill_deadline = time.time() + grace
            w.save()
            w.wake.set()
        return self.view(w.record)

    def forget(self, namespace: str, name: str) -> None:
        """A pod is gone (its worker says so): drop it."""
        gone = self.workers.pop((namespace, name), None)
        if gone is not None:
            self.config.forget(gone.record.metadata["uid"])
        for listener in self.listeners:
            listener.gone(namespace, name)
        self.schedule()

    def schedule(self) -> None:
        """Admit the pods waiting for the node, preempting if need be
        (node_scheduling.py, scheduler.py)."""
        node_scheduling.run_scheduler(self)

    def node_changed(self) -> None:
        """The Node (labels, taints, cordon) or a Namespace changed: the
        scheduler looks again, and the taint manager acts on NoExecute."""
        self.schedule()
        self.taint_manager.node_changed(self.node_view().taints)

    async def remove_idle_bridge(self) -> None:
        """When the daemon stops with no pod left, remove the bridge, so a
        stopped instance leaves the host as it found it. (Not on every last
        delete: making a bridge costs ~90 ms, ten times a pod's network.)"""
        async with self.net_lock:
            if not self.workers:
                try:
                    await network.teardown_bridge(self.conflist)
                except Exception as e:  # noqa: BLE001 - the daemon stops all the same
                    self.log(f"removing the bridge: {e}")
                # and the instance's kubepods cgroups, as the bridge
                cgroups.teardown_root(self.cgroups, self.cgroups_state)

    def log_path(
        self, namespace: str, name: str, container: str | None, previous: bool
    ) -> tuple[str, ContainerRecord]:
        w = self.worker(namespace, name)
        c = pick_container(w, container)
        n = c.restart_count - (1 if previous else 0)
        if previous and (n < 0 or not c.last):
            raise NotFound(f'previous terminated container "{c.name}" in pod "{name}" not found')
        if not c.log_path:
            raise MinipodError(
                f'container "{c.name}" in pod "{name}" is waiting to start: {c.reason or "ContainerCreating"}'
            )
        return os.path.join(os.path.dirname(c.log_path), f"{n}.log"), c

    def inspect(self, namespace: str, name: str) -> dict:
        from minipod.pod.inspect import inspect_pod

        w = self.worker(namespace, name)
        return inspect_pod(w.record, self.pod_dirs(w.record))


class NoApiAccess:
    """No Kubernetes API: no token files, no service variables."""

    def write_files(self, pod: dict, run_dir: str) -> None:
        pass

    def add_env(self, container: dict, env: dict, pod: dict | None = None) -> None:
        pass

    def token_for(self, pod: dict) -> str:
        raise ConfigRefError("serviceAccountToken: this instance's Kubernetes API is not serving")


def pick_container(w: lifecycle.PodWorker, name: str | None) -> ContainerRecord:
    if name is None:
        return w.rt.containers[0]
    for c in w.all_containers():
        if c.name == name:
            return c
    raise NotFound(f"container {name} is not valid for pod {w.record.metadata['name']}")


def _key(pod: dict) -> tuple[str, str]:
    return pod["metadata"]["namespace"], pod["metadata"]["name"]


# Set by the scheduler (nodeName) and by admission (priority), not by the manifest.
SERVER_SET_SPEC = ("nodeName", "priority", "preemptionPolicy")


def _same_spec(spec: dict, pod: dict) -> bool:
    spec = dict(spec)
    for field in SERVER_SET_SPEC:
        if field not in pod["spec"]:
            spec.pop(field, None)
    return json.dumps(spec, sort_keys=True) == json.dumps(pod["spec"], sort_keys=True)


def _remove_trees(trees: list[str]) -> None:
    for tree in trees:
        shutil.rmtree(tree, ignore_errors=True)
