"""The StatefulSet controller: pods with stable names, each with its own
claims, started and stopped in order.

Steps of reconcile(key), in order (pkg/controller/statefulset):
    1. read the StatefulSet; gone or being deleted: nothing to do;
    2. its pods by ordinal (`web-0`, `web-1`...): those it owns;
    3. for each ordinal below replicas, lowest first: make its claims from
       volumeClaimTemplates (`<template>-<set>-<ordinal>`, kept when the
       pod goes, as Retain keeps them), then its pod; a Failed pod is
       deleted to be made again. With podManagementPolicy OrderedReady it
       stops at the first pod that is not yet Running and Ready; Parallel
       goes on;
    4. ordinals at or above replicas go, the highest first (OrderedReady:
       one at a time, once the others are ready);
    5. RollingUpdate: once every pod is there and ready, the highest pod
       at or above `partition` whose revision is old is deleted (and made
       again from the new template by step 3); OnDelete: only pods
       deleted by hand get the new template;
    6. write status.
"""

import copy
import re

from minipod.controllers import pods_state
from minipod.controllers.owners import owner_ref
from minipod.controllers.reconciler import Reconciler
from minipod.controllers.template_hash import compute_hash
from minipod.objects import resources as kinds
from minipod.storage.pod_claims import claim_from_template

PODS = kinds.builtin("", "v1", "pods")
CLAIMS = kinds.builtin("", "v1", "persistentvolumeclaims")
STATEFULSETS = kinds.builtin("apps", "v1", "statefulsets")
REVISION = "controller-revision-hash"


def revision(sts: dict) -> str:
    return f"{sts['metadata']['name']}-{compute_hash(sts['spec']['template'])}"


def claim_name(template: dict, sts: dict, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"


def stateful_pod(sts: dict, ordinal: int) -> dict:
    """(pure) The pod of an ordinal, with its identity and its claims."""
    name = f"{sts['metadata']['name']}-{ordinal}"
    template = copy.deepcopy(sts["spec"]["template"])
    meta, spec = template.get("metadata") or {}, template["spec"]
    labels = dict(meta.get("labels") or {})
    labels.update(
        {
            REVISION: revision(sts),
            "statefulset.kubernetes.io/pod-name": name,
            "apps.kubernetes.io/pod-index": str(ordinal),
        }
    )
    spec["hostname"] = name
    if sts["spec"].get("serviceName"):
        spec["subdomain"] = sts["spec"]["serviceName"]
    claims = {
        t["metadata"]["name"]: claim_name(t, sts, ordinal)
        for t in sts["spec"].get("volumeClaimTemplates") or []
    }
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    volumes += [{"name": v, "persistentVolumeClaim": {"claimName": c}} for v, c in claims.items()]
    if volumes:
        spec["volumes"] = volumes
    body: dict = {"name": name, "labels": labels, "ownerReferences": [owner_ref(sts)]}
    if meta.get("annotations"):
        body["annotations"] = meta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": body, "spec": spec}


def ordinal_of(sts: dict, pod: dict) -> int | None:
    m = re.fullmatch(re.escape(sts["metadata"]["name"]) + r"-(\d+)", pod["metadata"]["name"])
    return int(m.group(1)) if m else None


def running_and_ready(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pods_state.is_ready(pod)


class StatefulSetController(Reconciler):
    name = "statefulset-controller"
    primary = STATEFULSETS
    secondary = (PODS,)

    def reconcile(self, key: str) -> float | None:
        sts = self.get(STATEFULSETS, key)  # 1
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return None
        ns, uid = sts["metadata"]["namespace"], sts["metadata"]["uid"]
        pods: dict[int, dict] = {}  # 2
        for (p_ns, _), p in list(self.store.objects[PODS.key].items()):
            ordinal = ordinal_of(sts, p)
            owners = p["metadata"].get("ownerReferences") or []
            if p_ns == ns and ordinal is not None and any(r.get("uid") == uid for r in owners):
                pods[ordinal] = p
        replicas = sts["spec"].get("replicas", 1)
        ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        blocked = False
        for ordinal in range(replicas):  # 3
            pod = pods.get(ordinal)
            if pod is not None and (pod.get("status") or {}).get("phase") == "Failed":
                if not pod["metadata"].get("deletionTimestamp"):
                    self.delete_pod(sts, pod)
                if ordered:
                    blocked = True
                    break
                continue
            if pod is None:
                self.make_claims(sts, ordinal)
                made = self.store.create(PODS, stateful_pod(sts, ordinal), ns)
                self.event(
                    sts,
                    "Normal",
                    "SuccessfulCreate",
                    f"create Pod {made['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful",
                )
                pods[ordinal] = made
                if ordered:
                    blocked = True
                    break
            elif ordered and not running_and_ready(pod):
                blocked = True
                break
        extra = sorted((o for o in pods if o >= replicas), reverse=True)  # 4
        if extra and not blocked:
            for ordinal in extra[:1] if ordered else extra:
                if not pods[ordinal]["metadata"].get("deletionTimestamp"):
                    self.delete_pod(sts, pods[ordinal])
        elif not extra and not blocked:
            self.roll(sts, pods, replicas)  # 5
        self.write_status(STATEFULSETS, sts, self.status(sts, pods, replicas))  # 6
        return None

    def make_claims(self, sts: dict, ordinal: int) -> None:
        ns = sts["metadata"]["namespace"]
        selector_labels = (sts["spec"].get("selector") or {}).get("matchLabels") or {}
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            name = claim_name(template, sts, ordinal)
            if self.store.exists(CLAIMS, ns, name):
                continue
            claim = claim_from_template(template, name, ns, None)
            claim["metadata"]["labels"] = {**selector_labels, **(claim["metadata"].get("labels") or {})}
            self.store.create(CLAIMS, claim, ns)
            pod = f"{sts['metadata']['name']}-{ordinal}"
            self.event(
                sts,
                "Normal",
                "SuccessfulCreate",
                f"create Claim {name} Pod {pod} in StatefulSet {sts['metadata']['name']} success",
            )

    def delete_pod(self, sts: dict, pod: dict) -> None:
        self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.event(
            sts,
            "Normal",
            "SuccessfulDelete",
            f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful",
        )

    def roll(self, sts: dict, pods: dict[int, dict], replicas: int) -> None:
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        if any(o not in pods or not running_and_ready(pods[o]) for o in range(replicas)):
            return  # one at a time: wait until every pod is back and ready
        partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
        current = revision(sts)
        for ordinal in sorted(range(partition, replicas), reverse=True):
            if (pods[ordinal]["metadata"].get("labels") or {}).get(REVISION) != current:
                self.delete_pod(sts, pods[ordinal])
                return

    def status(self, sts: dict, pods: dict[int, dict], replicas: int) -> dict:
        current = revision(sts)
        live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
        updated = [p for p in live if (p["metadata"].get("labels") or {}).get(REVISION) == current]
        old = [p for p in live if p not in updated]
        status = dict(sts.get("status") or {})
        status.update(
            replicas=len(live),
            readyReplicas=sum(1 for p in live if pods_state.is_ready(p)),
            availableReplicas=sum(1 for p in live if pods_state.is_ready(p)),
            currentReplicas=len(old) if old else len(updated),
            updatedReplicas=len(updated),
            updateRevision=current,
            currentRevision=current
            if not old
            else (old[0]["metadata"].get("labels") or {}).get(REVISION, current),
            observedGeneration=sts["metadata"].get("generation", 1),
            collisionCount=0,
        )
        return {
            k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas", "collisionCount")
        }
