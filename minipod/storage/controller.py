"""The storage controllers of kube-controller-manager, for one node, acting
through the object store: the PV controller (binder and local-path
provisioner), the ephemeral volume controller, and the pvc-protection and
pv-protection controllers.

The controller is level-triggered: every pass looks at all claims,
volumes, classes and pods as they are now and moves each one step on, so
a daemon killed at any point loses nothing (the next start re-lists and
carries on). Passes run when a watched kind changes (one pass for a
burst of changes), and every RESYNC seconds. One pass, in order:
    1. ephemeral volumes: each live pod's <pod>-<volume> claims exist;
    2. claims: an unbound claim binds to a volume (binding.find_volume);
       else its class's provisioner, if it is ours, makes one (Immediate
       at once; WaitForFirstConsumer once the scheduler chose this node);
       else it waits, with the controller's event;
    3. volumes: phase from the claimRef (Available, Bound, Released); a
       Released volume with reclaimPolicy Delete is deleted (its
       directory too, when local-path made it);
    4. protection: a claim being deleted loses its pvc-protection
       finalizer once no pod uses it; a volume being deleted loses its
       pv-protection finalizer once it is not Bound;
    5. if any claim changed, the pods waiting for their claims are
       scheduled again (PodManager.schedule).
"""

import asyncio
import os
from typing import Any

from minipod.objects import resources as kinds
from minipod.objects.errors import ApiError
from minipod.pod.admission import Refusal, node_name
from minipod.storage import binding, local_path, pod_claims, validate

Obj = dict[str, Any]

RESYNC = 1.0
# A burst of changes (a hundred pods starting) makes one pass, not one per
# change: after the first change, wait this long for the rest.
BATCH = 0.05
CONTROLLER = "persistentvolume-controller"

PVCS = kinds.builtin("", "v1", "persistentvolumeclaims")
PVS = kinds.builtin("", "v1", "persistentvolumes")
CLASSES = kinds.builtin("storage.k8s.io", "v1", "storageclasses")
PODS = kinds.builtin("", "v1", "pods")


class StorageController:
    def __init__(self, store, manager, root: str, log=print):
        self.store, self.manager, self.root, self.log = store, manager, root, log
        self.node = node_name()
        self.task: asyncio.Task | None = None
        self._said: set[tuple[str, str, str]] = set()  # the events already recorded
        os.makedirs(root, mode=0o755, exist_ok=True)
        # The API server's admission and validation of the three kinds (validate.py).
        store.admission[PVCS.key] = self.admit_claim
        store.admission[PVS.key] = _admit(validate.volume_create, validate.volume_update)
        store.admission[CLASSES.key] = _admit(validate.class_create, validate.class_update)
        manager.volume_check = self.scheduling_check
        manager.claim_sources = self.claim_sources
        if not store.exists(CLASSES, None, local_path.CLASS_NAME):
            store.create(CLASSES, local_path.default_class(), None)

    def admit_claim(self, obj: Obj, old: Obj | None) -> Obj:
        if old is not None:
            return validate.claim_update(old, obj)
        return validate.claim_create(obj, list(self.store.objects[CLASSES.key].values()))

    # --- the pod manager asks -----------------------------------------------------
    def claims_of(self, namespace: str) -> dict[str, Obj]:
        return {name: obj for (ns, name), obj in self.store.objects[PVCS.key].items() if ns == namespace}

    def scheduling_check(self, pod: Obj) -> Refusal | None:
        """The scheduler's volume plugins for one pod (pod_claims.py). An
        unbound WaitForFirstConsumer claim gets this node as its selected
        node, which starts its provisioning."""
        if not pod_claims.claim_names(pod):
            return None
        ns = pod["metadata"]["namespace"]
        claims = self.claims_of(ns)
        classes = {n: o for (_, n), o in self.store.objects[CLASSES.key].items()}
        others = self.placed_pods_sharing(pod)
        refusal = pod_claims.scheduling_refusal(pod, claims, classes, others)
        if refusal is pod_claims.WAITING:
            for name in pod_claims.claim_names(pod).values():
                claim = claims[name]
                annotations = claim["metadata"].get("annotations") or {}
                if not claim["spec"].get("volumeName") and pod_claims.SELECTED_NODE not in annotations:
                    self._annotate(claim, {pod_claims.SELECTED_NODE: self.node})
        return refusal

    def placed_pods_sharing(self, pod: Obj) -> list[Obj]:
        """The other pods the scheduler has placed that use one of this
        pod's claims, read from the pod manager's records: a pod placed
        earlier in the same scheduling pass counts at once (its store
        object is saved after the pass)."""
        ns, wanted = pod["metadata"]["namespace"], set(pod_claims.claim_names(pod).values())
        out = []
        for (w_ns, w_name), w in list(self.manager.workers.items()):
            if (w_ns, w_name) == (ns, pod["metadata"]["name"]) or w_ns != ns or w.rt.scheduled is False:
                continue
            if wanted & set(pod_claims.claim_names(w.record.pod).values()):
                out.append(self.manager.view(w.record))
        return out

    def claim_sources(self, pod: Obj) -> dict[str, Obj]:
        """{volume name: the hostPath source of its bound volume} for the kubelet's mounts."""
        out = {}
        ns = pod["metadata"]["namespace"]
        for volume, name in pod_claims.claim_names(pod).items():
            claim = self.store.objects[PVCS.key].get((ns, name))
            pv_name = (claim or {}).get("spec", {}).get("volumeName")
            pv = self.store.objects[PVS.key].get((None, pv_name)) if pv_name else None
            if pv is not None:
                source = pv["spec"].get("hostPath") or pv["spec"].get("local") or {}
                out[volume] = {"path": source.get("path", ""), "type": source.get("type") or "Directory"}
        return out

    # --- the loop ---------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        watchers: list = []
        while True:
            if not watchers:
                rv = self.store.rev.current
                watchers = [
                    self.store.hub.subscribe(r.key, None, lambda o: True, rv)
                    for r in (PVCS, PVS, CLASSES, PODS)
                ]
            try:
                self.sync()
            except Exception as e:  # noqa: BLE001 - a controller never crashes the daemon
                self.log(f"storage controller: {e}")
            if await _next_change(watchers, RESYNC):
                for w in watchers:
                    self.store.hub.close(w)
                watchers = []

    def sync(self) -> None:
        before = self._claims_version()
        self.sync_ephemeral()
        for claim in list(self.store.objects[PVCS.key].values()):
            self.sync_claim(claim)
        for volume in list(self.store.objects[PVS.key].values()):
            self.sync_volume(volume)
        self.sync_protection()
        if self._claims_version() != before or self._pods_waiting_for_claims():
            self.manager.schedule()

    def _claims_version(self) -> tuple:
        return tuple(
            sorted((k, o["metadata"]["resourceVersion"]) for k, o in self.store.objects[PVCS.key].items())
        )

    def _pods_waiting_for_claims(self) -> bool:
        return any(
            w.rt.scheduled is False  # (None: a record from before scheduling existed)
            and pod_claims.claim_names(w.record.pod)
            and not w.record.metadata.get("deletionTimestamp")
            for w in self.manager.workers.values()
        )

    # --- 1. ephemeral volumes -------------------------------------------------------
    def sync_ephemeral(self) -> None:
        for pod in list(self.store.objects[PODS.key].values()):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            for claim in pod_claims.ephemeral_claims(pod):
                if not self.store.exists(PVCS, claim["metadata"]["namespace"], claim["metadata"]["name"]):
                    self._write(lambda c=claim: self.store.create(PVCS, c, c["metadata"]["namespace"]))

    # --- 2. claims -------------------------------------------------------------------
    def sync_claim(self, claim: Obj) -> None:
        meta, spec = claim["metadata"], claim["spec"]
        if spec.get("volumeName"):
            pv = self.store.objects[PVS.key].get((None, spec["volumeName"]))
            ours = pv is not None and binding.claim_ref_matches(pv, claim)
            free = pv is not None and not pv["spec"].get("claimRef") and binding.volume_satisfies(pv, claim)
            if ours or free:
                self._bind(pv, claim)  # finishes a bind a restart interrupted; no-op when done
            elif pv is None and (claim.get("status") or {}).get("phase") == "Bound":
                self._set_status(PVCS, claim, dict(claim.get("status") or {}, phase="Lost"))
                self._event(
                    claim,
                    "Warning",
                    "ClaimLost",
                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                )
            return
        if meta.get("deletionTimestamp"):
            return
        class_name = binding.claim_class(claim)
        sc = self.store.objects[CLASSES.key].get((None, class_name)) if class_name else None
        annotations = meta.get("annotations") or {}
        if (
            sc is not None
            and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
            and pod_claims.SELECTED_NODE not in annotations
        ):
            self._event(
                claim,
                "Normal",
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            return
        pv = binding.find_volume(claim, list(self.store.objects[PVS.key].values()))
        if pv is not None:
            self._bind(pv, claim)
            return
        if not class_name:
            self._event(
                claim,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
            return
        if sc is None:
            self._event(
                claim,
                "Warning",
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found',
            )
            return
        if sc.get("provisioner") != local_path.PROVISIONER:
            self._event(
                claim,
                "Normal",
                "ExternalProvisioning",
                f"Waiting for a volume to be created either by the external provisioner '{sc.get('provisioner')}' "
                "or manually by the system administrator. If volume creation is delayed, please verify that the "
                "provisioner is running and correctly registered.",
            )
            return
        self.provision(claim, sc)

    def provision(self, claim: Obj, sc: Obj) -> None:
        """The local-path provisioner: the directory, then the volume (its
        claimRef already set), then the bind."""
        provisioner = {
            "volume.beta.kubernetes.io/storage-provisioner": local_path.PROVISIONER,
            "volume.kubernetes.io/storage-provisioner": local_path.PROVISIONER,
        }
        if any((claim["metadata"].get("annotations") or {}).get(k) != v for k, v in provisioner.items()):
            claim = self._annotate(claim, provisioner) or claim
        self._event(
            claim,
            "Normal",
            "Provisioning",
            f'External provisioner is provisioning volume for claim "{claim["metadata"]["namespace"]}/{claim["metadata"]["name"]}"',
            local_path.PROVISIONER,
        )
        pv = local_path.volume_for(claim, sc, self.root, self.node)
        local_path.make_directory(pv["spec"]["hostPath"]["path"])
        if not self.store.exists(PVS, None, pv["metadata"]["name"]):
            self._write(lambda: self.store.create(PVS, pv, None))
        self._event(
            claim,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {pv['metadata']['name']}",
            local_path.PROVISIONER,
        )
        stored = self.store.objects[PVS.key].get((None, pv["metadata"]["name"]))
        if stored is not None:
            self._bind(stored, claim)

    def _bind(self, pv: Obj, claim: Obj) -> None:
        """The volume first (claimRef), then the claim (volumeName), then
        both statuses, as the PV controller orders it."""
        new_pv = binding.bound_volume(pv, claim)
        if new_pv != pv:
            pv = self._write(lambda: self.store.update(PVS, new_pv, None, pv["metadata"]["name"])) or pv
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = self._set_status(PVS, pv, {"phase": "Bound"}) or pv
        new_claim = binding.bound_claim(claim, pv)
        if new_claim != claim:
            claim = (
                self._write(
                    lambda: self.store.update(
                        PVCS, new_claim, claim["metadata"]["namespace"], claim["metadata"]["name"]
                    )
                )
                or claim
            )
        status = binding.bound_claim_status(pv)
        if claim.get("status") != status:
            self._set_status(PVCS, claim, status)

    # --- 3. volumes -------------------------------------------------------------------
    def sync_volume(self, pv: Obj) -> None:
        ref = pv["spec"].get("claimRef")
        claim = self.store.objects[PVCS.key].get((ref.get("namespace"), ref.get("name"))) if ref else None
        claim_exists = claim is not None and ref.get("uid") in (None, "", claim["metadata"].get("uid"))
        phase = binding.volume_phase(pv, claim_exists)
        if phase == "Available" and ref and ref.get("uid") and not claim_exists:
            phase = "Released"
        if phase != (pv.get("status") or {}).get("phase"):
            pv = self._set_status(PVS, pv, {"phase": phase}) or pv
        if phase == "Released" and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            if not pv["metadata"].get("deletionTimestamp"):
                local_path.remove_directory(pv, self.root)
                self._write(lambda: self.store.delete(PVS, None, pv["metadata"]["name"]))

    # --- 4. protection ----------------------------------------------------------------
    def sync_protection(self) -> None:
        pods = list(self.store.objects[PODS.key].values())
        for (ns, name), claim in list(self.store.objects[PVCS.key].items()):
            if claim["metadata"].get("deletionTimestamp") and validate.PVC_PROTECTION in (
                claim["metadata"].get("finalizers") or []
            ):
                if not any(pod_claims.uses_claim(p, ns, name) for p in pods):
                    self._drop_finalizer(PVCS, claim, validate.PVC_PROTECTION)
        for pv in list(self.store.objects[PVS.key].values()):
            if pv["metadata"].get("deletionTimestamp") and (pv.get("status") or {}).get("phase") != "Bound":
                if validate.PV_PROTECTION in (pv["metadata"].get("finalizers") or []):
                    self._drop_finalizer(PVS, pv, validate.PV_PROTECTION)

    # --- writes through the store -------------------------------------------------
    def _write(self, fn) -> Obj | None:
        """One write; a conflict or a vanished object is left to the next pass."""
        try:
            result: Obj | None = fn()
            return result
        except ApiError as e:
            if e.code not in (404, 409):
                self.log(f"storage controller: {e}")
            return None

    def _annotate(self, obj: Obj, annotations: dict[str, str]) -> Obj | None:
        res = PVCS if obj["kind"] == "PersistentVolumeClaim" else PVS
        new = dict(
            obj,
            metadata=dict(
                obj["metadata"], annotations={**(obj["metadata"].get("annotations") or {}), **annotations}
            ),
        )
        return self._write(
            lambda: self.store.update(res, new, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        )

    def _set_status(self, res, obj: Obj, status: Obj) -> Obj | None:
        new = dict(obj, status=status)
        return self._write(
            lambda: self.store.update(
                res, new, obj["metadata"].get("namespace"), obj["metadata"]["name"], subresource="status"
            )
        )

    def _drop_finalizer(self, res, obj: Obj, finalizer: str) -> None:
        meta = dict(
            obj["metadata"], finalizers=[f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        )
        self._write(
            lambda: self.store.update(
                res, dict(obj, metadata=meta), obj["metadata"].get("namespace"), obj["metadata"]["name"]
            )
        )

    def _event(self, claim: Obj, etype: str, reason: str, message: str, component: str = CONTROLLER) -> None:
        """Once per claim, reason and message: a level-triggered pass must
        not repeat an event at each resync."""
        key = (claim["metadata"]["uid"], reason, message)
        if key in self._said:
            return
        self._said.add(key)
        self.manager.events.record(claim, etype, reason, message, component=component)


def _admit(create, update):
    """store.admission's admit(obj, old) from a create and an update rule."""
    return lambda obj, old: create(obj) if old is None else update(old, obj)


async def _next_change(watchers: list, timeout: float) -> bool:
    """Wait for a change on any watcher (or the timeout), then drain them
    all: a pass looks at everything anyway. True if a watcher was closed."""
    getters = [asyncio.ensure_future(w.queue.get()) for w in watchers]
    try:
        done, _ = await asyncio.wait(getters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for g in getters:
            g.cancel()
    closed = any(g.result() is None for g in done if not g.cancelled())
    if done:
        await asyncio.sleep(BATCH)
    for w in watchers:
        while not w.queue.empty():
            closed = closed or w.queue.get_nowait() is None
    return closed or any(w.closed for w in watchers)
