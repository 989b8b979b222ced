"""Owner references between what a controller owns and what it creates. Pure.

owner_ref()      the controller reference put on a created object
                 (controller: true, blockOwnerDeletion: true), which the
                 garbage collector follows when the owner is deleted
decide_claims()  which objects of a namespace a controller owns, which
                 orphans it adopts (their labels match its selector) and
                 which it releases (they no longer match)
"""

from minipod.kube import label_selector


def controller_of(obj: dict) -> dict | None:
    """The ownerReference with controller: true, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_ref(owner: dict) -> dict:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def decide_claims(owner: dict, candidates: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(owned, to_adopt, to_release): adopt matching orphans, release owned
    objects that no longer match. A controller being deleted adopts nothing."""
    uid = owner["metadata"]["uid"]
    selector = owner["spec"].get("selector")
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    owned: list[dict] = []
    adopt: list[dict] = []
    release: list[dict] = []
    for obj in candidates:
        ref = controller_of(obj)
        labels = obj["metadata"].get("labels") or {}
        if ref is not None and ref.get("uid") == uid:
            (owned if label_selector.matches(selector, labels) else release).append(obj)
        elif (
            ref is None
            and label_selector.matches(selector, labels)
            and not deleting
            and not obj["metadata"].get("deletionTimestamp")
        ):
            adopt.append(obj)
    return owned, adopt, release


def with_owner(obj: dict, ref: dict | None, drop_uid: str = "") -> dict:
    """obj adopted (ref) or released (drop_uid)."""
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != drop_uid]
    if ref is not None:
        refs.append(ref)
    meta = dict(obj["metadata"], ownerReferences=refs)
    if not refs:
        del meta["ownerReferences"]
    return dict(obj, metadata=meta)
