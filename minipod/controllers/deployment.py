"""The Deployment controller: rolls a Deployment's pods from one template to
the next through ReplicaSets, one per template (pkg/controller/deployment).

Steps of reconcile(key), in order:
    1. read the Deployment and claim its ReplicaSets (adopt, release);
       being deleted: only its status is kept up to date;
    2. find the new ReplicaSet (the one whose template, without the
       pod-template-hash label, is the Deployment's); the others are old;
       give the new one the next revision (an undo makes an old one new);
    3. paused, or spec.replicas changed (a scaling event): resize the
       ReplicaSets (proportionally during a rollout) and stop there;
    4. roll out by the strategy:
         RollingUpdate  grow the new ReplicaSet while at most
                        replicas + maxSurge pods exist, shrink the old ones
                        while at least replicas - maxUnavailable are
                        available (rollout_math.py);
         Recreate       shrink the old ones to 0, wait until their pods are
                        gone, then create the new one at full size;
       once complete, delete old empty ReplicaSets beyond
       revisionHistoryLimit;
    5. write status and the Progressing/Available conditions
       (deployment_status.py); look again when the progress deadline
       would pass.
Each resize is an update of a ReplicaSet's spec.replicas, with the
desired-replicas/max-replicas annotations and a ScalingReplicaSet event;
the ReplicaSet controller then creates or deletes the pods.
"""

import copy
import time

from minipod.controllers import deployment_status as dstatus
from minipod.controllers import rollout_math as rm
from minipod.controllers.owners import controller_of, owner_ref
from minipod.controllers.reconciler import Reconciler
from minipod.controllers.template_hash import LABEL, compute_hash, without_hash
from minipod.objects import resources as kinds
from minipod.objects.errors import ApiError

PODS = kinds.builtin("", "v1", "pods")
REPLICASETS = kinds.builtin("apps", "v1", "replicasets")
DEPLOYMENTS = kinds.builtin("apps", "v1", "deployments")

REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# Annotations of a Deployment that are not copied to its ReplicaSets.
NOT_COPIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    rm.REVISION,
    REVISION_HISTORY,
    rm.DESIRED,
    rm.MAX,
    "deprecated.deployment.rollback.to",
)


def copied_annotations(d: dict) -> dict:
    return {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k not in NOT_COPIED}


def replica_set_for(d: dict, hash_: str, size: int, revision: int) -> dict:
    """The new ReplicaSet of a Deployment's template (getNewReplicaSet)."""
    template = copy.deepcopy(d["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[LABEL] = hash_
    selector = copy.deepcopy(d["spec"]["selector"])
    selector.setdefault("matchLabels", {})[LABEL] = hash_
    annotations = dict(copied_annotations(d))
    annotations[rm.REVISION] = str(revision)
    annotations[rm.DESIRED] = str(rm.replicas(d))
    annotations[rm.MAX] = str(rm.replicas(d) + rm.max_surge(d))
    spec = {"replicas": size, "selector": selector, "template": template}
    if d["spec"].get("minReadySeconds"):
        spec["minReadySeconds"] = d["spec"]["minReadySeconds"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{d['metadata']['name']}-{hash_}",
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [owner_ref(d)],
        },
        "spec": spec,
    }


class DeploymentController(Reconciler):
    name = "deployment-controller"
    primary = DEPLOYMENTS
    secondary = (REPLICASETS, PODS)

    def keys_for(self, res, obj: dict) -> list[str]:
        if res is REPLICASETS:
            return super().keys_for(res, obj)
        # a pod: its ReplicaSet's Deployment (Recreate waits for old pods to go)
        ref = controller_of(obj)
        ns = obj["metadata"].get("namespace")
        if (
            ref is None
            or ref.get("kind") != "ReplicaSet"
            or not self.store.exists(REPLICASETS, ns, ref["name"])
        ):
            return []
        return super().keys_for(REPLICASETS, self.store.get(REPLICASETS, ns, ref["name"]))

    # --- step 1-2 ------------------------------------------------------------------
    def claim(self, d: dict) -> list[dict]:
        return self.claim_owned(d, REPLICASETS)

    def split(self, d: dict, rss: list[dict]) -> tuple[dict | None, list[dict]]:
        want = without_hash(d["spec"]["template"])
        new = [rs for rs in rm.oldest_first(rss) if without_hash(rs["spec"]["template"]) == want]
        new_rs = new[0] if new else None
        return new_rs, [rs for rs in rss if rs is not new_rs]

    def sync_revision(
        self, d: dict, new_rs: dict | None, old_rss: list[dict], create: bool
    ) -> tuple[dict, dict | None]:
        """(the Deployment, the new ReplicaSet): the new one created if asked,
        with the next revision; the Deployment's revision annotation follows."""
        next_revision = max((rm.revision(rs) for rs in old_rss), default=0) + 1
        ns = d["metadata"]["namespace"]
        if new_rs is not None:
            annotations = dict(new_rs["metadata"].get("annotations") or {})
            old_revision = annotations.get(rm.REVISION)
            want = dict(annotations, **copied_annotations(d))
            if rm.revision(new_rs) < next_revision:
                want[rm.REVISION] = str(next_revision)
                if old_revision:
                    history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
                    want[REVISION_HISTORY] = ",".join([*history, old_revision])
            min_ready = d["spec"].get("minReadySeconds") or 0
            if want != annotations or (new_rs["spec"].get("minReadySeconds") or 0) != min_ready:
                new = copy.deepcopy(new_rs)
                new["metadata"]["annotations"] = want
                new["spec"]["minReadySeconds"] = min_ready  # follows the Deployment's, as in Kubernetes
                if not min_ready:
                    del new["spec"]["minReadySeconds"]
                new_rs = self.store.update(REPLICASETS, new, ns, new_rs["metadata"]["name"])
        elif create:
            new_rs = self.create_new(d, old_rss, next_revision)
            if new_rs is None:
                return d, None
        if new_rs is not None:
            d = self.set_annotation(d, rm.REVISION, new_rs["metadata"]["annotations"][rm.REVISION])
        return d, new_rs

    def create_new(self, d: dict, old_rss: list[dict], revision: int) -> dict | None:
        ns = d["metadata"]["namespace"]
        collisions = (d.get("status") or {}).get("collisionCount")
        rs = replica_set_for(d, compute_hash(d["spec"]["template"], collisions), 0, revision)
        rs["spec"]["replicas"] = rm.new_rs_replicas(d, [*old_rss, rs], rs)
        try:
            created = self.store.create(REPLICASETS, rs, ns)
        except ApiError as e:
            if e.code != 409:
                raise
            # A ReplicaSet of that name with another template: a hash collision.
            status = dict(d.get("status") or {}, collisionCount=(collisions or 0) + 1)
            self.write_status(DEPLOYMENTS, d, status)
            return None
        size = created["spec"]["replicas"]
        if size > 0:
            self.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {created['metadata']['name']} from 0 to {size}",
            )
        status = copy.deepcopy(d.get("status") or {})
        msg = f'Created new replica set "{created["metadata"]["name"]}"'
        dstatus.set_condition(
            status,
            dstatus.new_condition(dstatus.PROGRESSING, "True", dstatus.NEW_RS_CREATED, msg, time.time()),
        )
        self.write_status(DEPLOYMENTS, self.get(DEPLOYMENTS, f"{ns}/{d['metadata']['name']}") or d, status)
        return created

    def set_annotation(self, d: dict, key: str, value: str) -> dict:
        annotations = d["metadata"].get("annotations") or {}
        if annotations.get(key) == value:
            return d
        d = self.get(DEPLOYMENTS, f"{d['metadata']['namespace']}/{d['metadata']['name']}") or d
        meta = dict(d["metadata"], annotations=dict(d["metadata"].get("annotations") or {}, **{key: value}))
        return self.store.update(DEPLOYMENTS, dict(d, metadata=meta), meta["namespace"], meta["name"])

    # --- resizing --------------------------------------------------------------------
    def scale(self, d: dict, rs: dict, size: int) -> bool:
        """Set a ReplicaSet's size and its replicas annotations; True if it changed."""
        annotations = dict(rs["metadata"].get("annotations") or {})
        want = dict(
            annotations, **{rm.DESIRED: str(rm.replicas(d)), rm.MAX: str(rm.replicas(d) + rm.max_surge(d))}
        )
        before = rm.replicas(rs)
        if before == size and want == annotations:
            return False
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = size
        new["metadata"]["annotations"] = want
        self.store.update(REPLICASETS, new, rs["metadata"]["namespace"], rs["metadata"]["name"])
        if before != size:
            way = "up" if size > before else "down"
            self.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {way} replica set {rs['metadata']['name']} from {before} to {size}",
            )
        return before != size

    def apply_plan(self, d: dict, rss: list[dict], plan: dict[str, int]) -> bool:
        changed = False
        for rs in rss:
            if rs["metadata"]["name"] in plan:
                changed |= self.scale(d, rs, plan[rs["metadata"]["name"]])
        return changed

    def scale_event(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        """sync's scale(): resize for a new spec.replicas, or while paused."""
        active = [rs for rs in [*old_rss, new_rs] if rs is not None and rm.replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new_rs or (rm.oldest_first(old_rss)[-1] if old_rss else None))
            if target is not None:
                self.scale(d, target, rm.replicas(d))
            return
        if new_rs is not None and self.saturated(d, new_rs):
            self.apply_plan(d, old_rss, {rs["metadata"]["name"]: 0 for rs in old_rss})
            return
        if rm.is_rolling(d):
            self.apply_plan(d, active, rm.proportional(d, active))

    @staticmethod
    def saturated(d: dict, rs: dict) -> bool:
        desired = (rs["metadata"].get("annotations") or {}).get(rm.DESIRED)
        return (
            rm.replicas(rs) == rm.replicas(d)
            and desired == str(rm.replicas(d))
            and rm.status_of(rs, "availableReplicas") == rm.replicas(d)
        )

    @staticmethod
    def is_scaling_event(d: dict, rss: list[dict]) -> bool:
        for rs in rss:
            desired = (rs["metadata"].get("annotations") or {}).get(rm.DESIRED)
            if rm.replicas(rs) > 0 and desired is not None and desired != str(rm.replicas(d)):
                return True
        return False

    # --- the reconcile -----------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        d = self.get(DEPLOYMENTS, key)
        if d is None:
            return None
        rss = self.claim(d)
        now = time.time()
        if d["metadata"].get("deletionTimestamp"):
            return self.finish(d, now)
        status = copy.deepcopy(d.get("status") or {})
        dstatus.paused_condition(d, status, now)
        d = self.write_status(DEPLOYMENTS, d, status)
        new_rs, old_rss = self.split(d, rss)
        if d["spec"].get("paused") or self.is_scaling_event(d, rss):
            d, new_rs = self.sync_revision(d, new_rs, old_rss, create=False)
            self.scale_event(d, new_rs, old_rss)
            if d["spec"].get("paused"):
                self.clean_history(d, old_rss)
            return self.finish(d, now)
        if rm.is_rolling(d):
            self.roll(d, new_rs, old_rss)
        else:
            self.recreate(d, new_rs, old_rss)
        return self.finish(d, now)

    def roll(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        d, new_rs = self.sync_revision(d, new_rs, old_rss, create=True)
        if new_rs is None:
            return  # a hash collision: the next look uses the new collisionCount
        want = rm.replicas(d)
        if rm.replicas(new_rs) != want:
            size = want if rm.replicas(new_rs) > want else rm.new_rs_replicas(d, [*old_rss, new_rs], new_rs)
            if self.scale(d, new_rs, size):
                return
        if self.apply_plan(d, old_rss, rm.scale_down_old(d, old_rss, new_rs)):
            return
        if dstatus.is_complete(d, dstatus.calculate(d, [*old_rss, new_rs], new_rs, time.time())):
            self.clean_history(d, old_rss)

    def recreate(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        d, new_rs = self.sync_revision(d, new_rs, old_rss, create=False)
        if self.apply_plan(d, old_rss, {rs["metadata"]["name"]: 0 for rs in old_rss if rm.replicas(rs) > 0}):
            return
        old_uids = {rs["metadata"]["uid"] for rs in old_rss}
        ns = d["metadata"]["namespace"]
        for (p_ns, _), pod in list(self.store.objects[PODS.key].items()):
            ref = controller_of(pod)
            phase = (pod.get("status") or {}).get("phase")
            if p_ns == ns and ref and ref.get("uid") in old_uids and phase not in ("Succeeded", "Failed"):
                return  # old pods still running: the new ones wait
        if new_rs is None:
            d, new_rs = self.sync_revision(d, None, old_rss, create=True)
            if new_rs is None:
                return
        if not self.scale(d, new_rs, rm.replicas(d)):
            if dstatus.is_complete(d, dstatus.calculate(d, [*old_rss, new_rs], new_rs, time.time())):
                self.clean_history(d, old_rss)

    def clean_history(self, d: dict, old_rss: list[dict]) -> None:
        for rs in rm.history_to_delete(d, old_rss):
            self.store.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])

    def finish(self, d: dict, now: float) -> float | None:
        """Step 5: status and conditions from the ReplicaSets as they are now."""
        meta = d["metadata"]
        d = self.get(DEPLOYMENTS, f"{meta['namespace']}/{meta['name']}") or d
        rss = [
            rs
            for (ns, _), rs in list(self.store.objects[REPLICASETS.key].items())
            if ns == meta["namespace"] and (controller_of(rs) or {}).get("uid") == meta["uid"]
        ]
        new_rs, _ = self.split(d, rss)
        status = dstatus.calculate(d, rss, new_rs, now)
        dstatus.progress(d, status, new_rs, now)
        self.write_status(DEPLOYMENTS, d, status)
        return dstatus.check_again(d, status, now)
