"""The ReplicaSet controller: keeps spec.replicas pods matching the selector.

Steps of reconcile(key), in order (pkg/controller/replicaset):
    1. read the ReplicaSet; gone or being deleted: nothing to do (the
       garbage collector deletes its pods);
    2. claim pods (decide_claims): adopt the orphans whose labels match
       (add a controller ownerReference), release the owned pods whose
       labels no longer match (remove it);
    3. count the active pods it owns (not deleting, not finished) and
       create the missing ones from the template (named by generateName
       `<rs>-` + 5 random characters), or delete the surplus, the
       cheapest first (pods_state.deletion_order); an event for each
       (SuccessfulCreate, SuccessfulDelete; FailedCreate when the API
       refuses the pod, and the key comes back rate-limited);
    4. write status: replicas, fullyLabeledReplicas, readyReplicas,
       availableReplicas (ready for minReadySeconds), observedGeneration;
       look again when a ready pod will have been ready minReadySeconds.
"""

import copy
import time

from minipod.controllers import pods_state
from minipod.controllers.owners import controller_of, owner_ref
from minipod.controllers.reconciler import Reconciler, key_of
from minipod.kube import label_selector
from minipod.objects import resources as kinds
from minipod.objects.errors import ApiError

PODS = kinds.builtin("", "v1", "pods")
REPLICASETS = kinds.builtin("apps", "v1", "replicasets")


def pod_from_template(rs: dict) -> dict:
    template = copy.deepcopy(rs["spec"]["template"])
    meta = template.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"{rs['metadata']['name']}-",
            **{k: meta[k] for k in ("labels", "annotations") if meta.get(k)},
            "ownerReferences": [owner_ref(rs)],
        },
        "spec": template["spec"],
    }


def replica_status(rs: dict, pods: list[dict], now: float) -> dict:
    """The status of a ReplicaSet whose active pods are `pods`. Pure."""
    template_labels = ((rs["spec"]["template"].get("metadata") or {}).get("labels")) or {}
    min_ready = rs["spec"].get("minReadySeconds") or 0
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(
            1 for p in pods if template_labels.items() <= (p["metadata"].get("labels") or {}).items()
        ),
        "readyReplicas": sum(1 for p in pods if pods_state.is_ready(p)),
        "availableReplicas": sum(1 for p in pods if pods_state.is_available(p, min_ready, now)),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    # Zero counts are omitted, as Go's omitempty does.
    return {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}


class ReplicaSetController(Reconciler):
    name = "replicaset-controller"
    primary = REPLICASETS
    secondary = (PODS,)

    def keys_for(self, res, obj: dict) -> list[str]:
        owner = super().keys_for(res, obj)
        if owner or controller_of(obj) is not None:
            return owner
        # An orphan pod: every ReplicaSet of its namespace that might adopt it.
        ns, labels = obj["metadata"].get("namespace"), obj["metadata"].get("labels") or {}
        return [
            key_of(rs)
            for (rs_ns, _), rs in list(self.store.objects[REPLICASETS.key].items())
            if rs_ns == ns and label_selector.matches(rs["spec"].get("selector"), labels)
        ]

    def reconcile(self, key: str) -> float | None:
        rs = self.get(REPLICASETS, key)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return None
        ns = rs["metadata"]["namespace"]
        owned = self.claim_owned(rs, PODS)
        active = [p for p in owned if pods_state.is_active(p)]
        want = rs["spec"].get("replicas", 1)
        if len(active) < want:
            for _ in range(want - len(active)):
                try:
                    created = self.store.create(PODS, pod_from_template(rs), ns)
                except ApiError as e:
                    # Refused (PodSecurity, a missing ServiceAccount...): say why;
                    # the queue tries again later, backing off.
                    self.event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}")
                    raise
                self.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
                active.append(created)
        elif len(active) > want:
            for pod in pods_state.deletion_order(active)[: len(active) - want]:
                self.store.delete(PODS, ns, pod["metadata"]["name"])
                self.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
                active.remove(pod)
        now = time.time()
        rs = self.get(REPLICASETS, key) or rs
        self.write_status(REPLICASETS, rs, replica_status(rs, active, now))
        min_ready = rs["spec"].get("minReadySeconds") or 0
        waits = [w for p in active if (w := pods_state.available_in(p, min_ready, now)) is not None]
        return min(waits) + 0.05 if waits else None
