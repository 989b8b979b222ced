"""The garbage collector on a store in a temporary directory (no root, no
daemon): the finalizers each propagationPolicy puts on an owner, Foreground
(the owner waits for its blocking dependents), Orphan (the dependents lose
their reference), Background with a second owner, and finalizers in
general (held until an update removes them; none may be added then)."""

import pytest

from minipod.objects import resources
from minipod.objects.collector import FOREGROUND, ORPHAN, Collector, deletion_finalizers
from minipod.objects.errors import ApiError
from minipod.objects.store import ObjectStore

CM = resources.find("", "v1", "configmaps")
SECRET = resources.find("", "v1", "secrets")


@pytest.fixture
def store(tmp_path):
    s = ObjectStore(str(tmp_path))
    s.ensure_defaults()
    return s


@pytest.fixture
def gc(store):
    return Collector(store)


def make(store, res, name: str, *owners: dict, block: bool = False) -> dict:
    refs = [
        {
            "apiVersion": "v1",
            "kind": o["kind"],
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
            **({"blockOwnerDeletion": True} if block else {}),
        }
        for o in owners
    ]
    meta: dict = {"name": name}
    if refs:
        meta["ownerReferences"] = refs
    return store.create(res, {"metadata": meta}, "default")


def test_deletion_finalizers_per_policy():
    assert deletion_finalizers(["a"], None) == ["a"]
    assert deletion_finalizers(["a", ORPHAN], "Background") == ["a"]
    assert deletion_finalizers([FOREGROUND], "Orphan") == [ORPHAN]
    assert deletion_finalizers([ORPHAN], "Foreground") == [FOREGROUND]
    assert deletion_finalizers([ORPHAN], None) == [ORPHAN]


def test_foreground_waits_for_blocking_dependents(store, gc):
    owner = make(store, CM, "owner")
    make(store, CM, "blocker", owner, block=True)
    make(store, SECRET, "free", owner)
    obj, gone = store.delete(CM, "default", "owner", propagation="Foreground")
    assert not gone and obj["metadata"]["finalizers"] == [FOREGROUND] and obj["metadata"]["deletionTimestamp"]
    # The blocker has a finalizer of its own: the owner waits for it.
    blocker = store.get(CM, "default", "blocker")
    blocker["metadata"]["finalizers"] = ["example.com/hold"]
    store.update(CM, blocker, "default", "blocker")
    gc.finish_deletions()
    assert not store.exists(SECRET, "default", "free")
    assert store.get(CM, "default", "blocker")["metadata"]["deletionTimestamp"]
    gc.finish_deletions()
    assert store.get(CM, "default", "owner")["metadata"]["finalizers"] == [FOREGROUND]
    blocker = store.get(CM, "default", "blocker")
    blocker["metadata"]["finalizers"] = []
    store.update(CM, blocker, "default", "blocker")
    gc.finish_deletions()
    assert not store.exists(CM, "default", "blocker") and not store.exists(CM, "default", "owner")


def test_orphan_keeps_dependents_without_the_reference(store, gc):
    owner = make(store, CM, "owner")
    other = make(store, CM, "other")
    make(store, CM, "dep", owner, other)
    obj, gone = store.delete(CM, "default", "owner", propagation="Orphan")
    assert not gone and obj["metadata"]["finalizers"] == [ORPHAN]
    gc.finish_deletions()
    assert not store.exists(CM, "default", "owner")
    refs = store.get(CM, "default", "dep")["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["other"]


def test_background_keeps_a_dependent_with_another_owner(store, gc):
    a, b = make(store, CM, "a"), make(store, CM, "b")
    make(store, CM, "shared", a, b)
    make(store, CM, "only-a", a)
    assert store.delete(CM, "default", "a")[1]
    assert not store.exists(CM, "default", "only-a")
    assert [r["name"] for r in store.get(CM, "default", "shared")["metadata"]["ownerReferences"]] == ["b"]
    store.delete(CM, "default", "b", propagation="Background")
    assert not store.exists(CM, "default", "shared")


def test_no_new_finalizer_on_an_object_being_deleted(store, gc):
    store.create(CM, {"metadata": {"name": "held", "finalizers": ["example.com/a"]}}, "default")
    obj, gone = store.delete(CM, "default", "held")
    assert not gone
    obj["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    with pytest.raises(ApiError) as e:
        store.update(CM, obj, "default", "held")
    assert e.value.code == 422
    assert (
        'no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/b"}'
        in str(e.value)
    )
    gc.finish_deletions()  # not a collector's finalizer: it stays
    assert store.exists(CM, "default", "held")
    # A second delete with a policy changes the finalizers, not the timestamp.
    again, _ = store.delete(CM, "default", "held", propagation="Orphan")
    assert again["metadata"]["finalizers"] == ["example.com/a", ORPHAN]
    assert again["metadata"]["deletionTimestamp"] == obj["metadata"]["deletionTimestamp"]
