"""A pod's claims, as the scheduler and the kubelet see them. Pure.

In order:
    1. claim_names(): the claim behind each persistentVolumeClaim volume
       (its claimName) and each generic ephemeral volume (<pod>-<volume>);
    2. claim_from_template(): a claim made from a volumeClaimTemplate,
       owned by the object that asked for it (ephemeral volumes here;
       a StatefulSet's volumeClaimTemplates can use it the same way);
    3. scheduling_refusal(): why the scheduler would not place the pod
       yet, in its plugins' words:
         VolumeBinding PreFilter  persistentvolumeclaim "x" not found /
                                  is being deleted / was not created for
                                  the pod; pod has unbound immediate
                                  PersistentVolumeClaims;
         VolumeRestrictions       another pod on the node uses a
                                  ReadWriteOncePod claim;
         VolumeBinding PreBind    an unbound WaitForFirstConsumer claim:
                                  not a refusal, the pod waits (WAITING)
                                  while its volume is provisioned;
    4. uses_claim(): does a pod hold a claim (the pvc-protection
       controller keeps a claim while one does).
"""

import copy
from typing import Any

from minipod.pod.admission import WAITING_FOR_VOLUMES, Refusal, unschedulable
from minipod.storage import binding

Obj = dict[str, Any]

WAITING = Refusal("Pending", WAITING_FOR_VOLUMES, "waiting for the pod's volumes to be provisioned")
SELECTED_NODE = "volume.kubernetes.io/selected-node"
RWOP_CONFLICT = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"


def claim_names(pod: Obj) -> dict[str, str]:
    """Step 1: {volume name: claim name}."""
    out = {}
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if v.get("persistentVolumeClaim") is not None:
            out[v["name"]] = v["persistentVolumeClaim"].get("claimName", "")
        elif v.get("ephemeral") is not None:
            out[v["name"]] = f"{pod['metadata']['name']}-{v['name']}"
    return out


def owner_reference(owner: Obj) -> Obj:
    return {
        "apiVersion": owner.get("apiVersion") or "v1",
        "kind": owner.get("kind") or "Pod",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def claim_from_template(template: Obj, name: str, namespace: str, owner: Obj | None) -> Obj:
    """Step 2: the claim's labels and annotations from the template's
    metadata, its spec as is, an ownerReference to `owner`."""
    meta = copy.deepcopy(template.get("metadata") or {})
    claim: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {k: v for k, v in meta.items() if k in ("labels", "annotations")},
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
    claim["metadata"].update(name=name, namespace=namespace)
    if owner is not None:
        claim["metadata"]["ownerReferences"] = [owner_reference(owner)]
    return claim


def ephemeral_claims(pod: Obj) -> list[Obj]:
    """The claims of the pod's generic ephemeral volumes."""
    meta = pod["metadata"]
    return [
        claim_from_template(
            v["ephemeral"].get("volumeClaimTemplate") or {},
            f"{meta['name']}-{v['name']}",
            meta["namespace"],
            pod,
        )
        for v in (pod.get("spec") or {}).get("volumes") or []
        if v.get("ephemeral") is not None
    ]


def is_ephemeral_of(claim: Obj, pod: Obj) -> bool:
    return any(
        ref.get("uid") == pod["metadata"].get("uid") and ref.get("controller")
        for ref in claim["metadata"].get("ownerReferences") or []
    )


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def uses_claim(pod: Obj, namespace: str, claim: str) -> bool:
    """Step 4: a pod that is not finished and mounts the claim."""
    return (
        pod["metadata"].get("namespace") == namespace
        and not _terminal(pod)
        and claim in claim_names(pod).values()
    )


def scheduling_refusal(
    pod: Obj,
    claims: dict[str, Obj],
    classes: dict[str, Obj],
    other_pods: list[Obj],
) -> Refusal | None:
    """Step 3. `claims`: the pod's namespace's claims by name; `classes`
    by name; `other_pods`: the pods already placed on the node."""
    ephemeral = {v["name"] for v in pod["spec"].get("volumes") or [] if v.get("ephemeral") is not None}
    unbound_delayed = []
    for volume, name in claim_names(pod).items():
        claim = claims.get(name)
        if claim is None:
            if volume in ephemeral:
                return unschedulable_pre(
                    f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"'
                )
            return unschedulable_pre(f'persistentvolumeclaim "{name}" not found')
        if volume in ephemeral and not is_ephemeral_of(claim, pod):
            return unschedulable_pre(
                f"PVC {pod['metadata']['namespace']}/{name} was not created for pod {pod['metadata']['namespace']}/{pod['metadata']['name']} (pod is not owner)"
            )
        if claim["metadata"].get("deletionTimestamp"):
            return unschedulable_pre(f'persistentvolumeclaim "{name}" is being deleted')
        if not claim["spec"].get("volumeName") or (claim.get("status") or {}).get("phase") != "Bound":
            sc = classes.get(binding.claim_class(claim))
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                unbound_delayed.append(claim)
            else:
                return unschedulable_pre("pod has unbound immediate PersistentVolumeClaims")
    for name in claim_names(pod).values():
        claim = claims[name]
        if "ReadWriteOncePod" in (claim["spec"].get("accessModes") or []):
            ns = pod["metadata"]["namespace"]
            if any(p["spec"].get("nodeName") and uses_claim(p, ns, name) for p in other_pods):
                return unschedulable(RWOP_CONFLICT)
    return WAITING if unbound_delayed else None


def unschedulable_pre(reason: str) -> Refusal:
    """A PreFilter's UnschedulableAndUnresolvable: its reason, without a node count."""
    return Refusal("Pending", "Unschedulable", f"0/1 nodes are available: {reason}.")
