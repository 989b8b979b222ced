"""Which PersistentVolume a claim binds to, and what binding writes: the
decisions of kube-controller-manager's PV controller, as pure functions.

In order:
    1. label_selector_matches(): a claim's spec.selector (matchLabels and
       matchExpressions) against a volume's labels;
    2. volume_satisfies(): could this volume serve this claim? Same class,
       same volumeMode, every access mode asked for, at least the storage
       asked for, the selector, not bound to another claim, not going away;
    3. find_volume(): the volume for a claim: the one it names
       (spec.volumeName), else one already promised to it (claimRef with
       its uid: a restart between "volume made" and "claim bound"), else
       the smallest that satisfies it;
    4. bound_volume() / bound_claim(): the two objects once bound
       (claimRef, volumeName, the controller's annotations, phase Bound,
       the claim's status capacity and access modes);
    5. released(): a volume whose claim is gone (Released, or Available
       again when only pre-bound by name).
"""

import copy
from typing import Any

from minipod.kube import quantity

Obj = dict[str, Any]

BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def label_selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Step 1: a metav1.LabelSelector; none (or an empty one) matches everything."""
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def claim_class(claim: Obj) -> str:
    return (claim.get("spec") or {}).get("storageClassName") or ""


def requested(claim: Obj) -> int:
    storage = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "0")
    return quantity.value(storage)


def capacity(volume: Obj) -> int:
    return quantity.value(((volume.get("spec") or {}).get("capacity") or {}).get("storage", "0"))


def claim_ref_matches(volume: Obj, claim: Obj) -> bool:
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = claim["metadata"]
    same_name = ref.get("namespace") == meta.get("namespace") and ref.get("name") == meta["name"]
    return same_name and ref.get("uid") in (None, "", meta.get("uid"))


def volume_satisfies(volume: Obj, claim: Obj) -> bool:
    """Step 2."""
    spec, cspec = volume.get("spec") or {}, claim.get("spec") or {}
    if volume["metadata"].get("deletionTimestamp"):
        return False
    if spec.get("claimRef") and not claim_ref_matches(volume, claim):
        return False
    if (volume.get("status") or {}).get("phase") in ("Released", "Failed"):
        return False
    if (spec.get("storageClassName") or "") != claim_class(claim):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    if capacity(volume) < requested(claim):
        return False
    return label_selector_matches(cspec.get("selector"), volume["metadata"].get("labels") or {})


def find_volume(claim: Obj, volumes: list[Obj]) -> Obj | None:
    """Step 3."""
    wanted = (claim.get("spec") or {}).get("volumeName")
    if wanted:
        named = [v for v in volumes if v["metadata"]["name"] == wanted]
        return named[0] if named and volume_satisfies(named[0], claim) else None
    fitting = [v for v in volumes if volume_satisfies(v, claim)]
    promised = [v for v in fitting if claim_ref_matches(v, claim)]
    if promised:
        return promised[0]
    # A volume pre-bound to another claim is not ours (volume_satisfies);
    # an unbound one is, the smallest first, as findMatchingVolume picks.
    fitting.sort(key=lambda v: (capacity(v), v["metadata"]["name"]))
    return fitting[0] if fitting else None


def claim_ref(claim: Obj) -> Obj:
    meta = claim["metadata"]
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }


def bound_volume(volume: Obj, claim: Obj) -> Obj:
    """Step 4, the volume's half (its spec; the phase goes in through status)."""
    volume = copy.deepcopy(volume)
    if not claim_ref_matches(volume, claim) or not volume["spec"]["claimRef"].get("uid"):
        annotations = volume["metadata"].setdefault("annotations", {})
        if not volume["spec"].get("claimRef"):
            annotations[BOUND_BY_CONTROLLER] = "yes"
        volume["spec"]["claimRef"] = claim_ref(claim)
    return volume


def bound_claim(claim: Obj, volume: Obj) -> Obj:
    """Step 4, the claim's half: spec.volumeName and the annotations."""
    claim = copy.deepcopy(claim)
    annotations = claim["metadata"].setdefault("annotations", {})
    if not claim["spec"].get("volumeName"):
        annotations[BOUND_BY_CONTROLLER] = "yes"
        claim["spec"]["volumeName"] = volume["metadata"]["name"]
    annotations[BIND_COMPLETED] = "yes"
    return claim


def bound_claim_status(volume: Obj) -> Obj:
    spec = volume.get("spec") or {}
    return {
        "phase": "Bound",
        "accessModes": list(spec.get("accessModes") or []),
        "capacity": dict(spec.get("capacity") or {}),
    }


def volume_phase(volume: Obj, claim_exists: bool) -> str:
    """Step 5: the phase a volume's claimRef gives it. A volume whose
    claim (with that uid) is gone is Released; one promised by name only
    to a claim that does not exist yet is Available."""
    ref = (volume.get("spec") or {}).get("claimRef")
    current = (volume.get("status") or {}).get("phase", "Pending")
    if not ref:
        return "Available"
    if claim_exists:
        return "Bound" if current != "Released" else "Released"
    return "Released" if ref.get("uid") else "Available"
