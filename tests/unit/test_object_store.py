"""The generic object store, on files in a temporary directory (no root,
no daemon): metadata, resourceVersions, optimistic concurrency,
finalizers, watches and 410 Gone, the system namespaces."""

import asyncio
import os
import stat

import pytest

from minipod.objects import resources
from minipod.objects.errors import ApiError
from minipod.objects.revision import BLOCK
from minipod.objects.store import ObjectStore

CM = resources.find("", "v1", "configmaps")
SECRET = resources.find("", "v1", "secrets")
NS = resources.find("", "v1", "namespaces")
SA = resources.find("", "v1", "serviceaccounts")


@pytest.fixture
def store(tmp_path):
    s = ObjectStore(str(tmp_path))
    s.ensure_defaults()
    return s


def cm(name: str, **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_system_namespaces_and_default_serviceaccounts(store):
    names = [n["metadata"]["name"] for n in store.list(NS, None)[0]]
    assert names == sorted(["default", "kube-system", "kube-public", "kube-node-lease"])
    for ns in names:
        assert store.get(SA, ns, "default")["metadata"]["namespace"] == ns
    store.create(NS, {"metadata": {"name": "team"}}, None)
    assert store.get(SA, "team", "default")
    assert store.get(NS, None, "team")["status"]["phase"] == "Active"


def test_create_fills_metadata(store):
    obj = store.create(CM, cm("a", k="v"), "default")
    meta = obj["metadata"]
    assert meta["namespace"] == "default" and meta["generation"] == 1
    assert len(meta["uid"]) == 36 and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    gen = store.create(CM, {"metadata": {"generateName": "web-"}}, "default")
    assert gen["metadata"]["name"].startswith("web-") and len(gen["metadata"]["name"]) == 9


def test_create_twice_is_already_exists(store):
    store.create(CM, cm("a"), "default")
    with pytest.raises(ApiError) as e:
        store.create(CM, cm("a"), "default")
    assert (e.value.code, e.value.reason, str(e.value)) == (
        409,
        "AlreadyExists",
        'configmaps "a" already exists',
    )


def test_invalid_name_names_the_field(store):
    with pytest.raises(ApiError) as e:
        store.create(CM, cm("Bad_Name"), "default")
    assert e.value.code == 422 and e.value.details["causes"][0]["field"] == "metadata.name"
    assert not store.exists(CM, "default", "Bad_Name")


def test_a_number_where_metadata_wants_a_string_is_a_400(store):
    # The API server decodes into Go structs before validating: a number
    # for metadata.name is a decode error, never a crash in the name check.
    for key in ("name", "generateName", "namespace"):
        body = cm("a")
        body["metadata"][key] = 2147483648
        with pytest.raises(ApiError) as err:
            store.create(CM, body, "default")
        assert err.value.code == 400
        assert f"ObjectMeta.metadata.{key} of type string" in str(err.value)


def test_missing_namespace_is_not_found(store):
    with pytest.raises(ApiError) as e:
        store.create(CM, cm("a"), "nowhere")
    assert str(e.value) == 'namespaces "nowhere" not found'


def test_update_conflict_and_generation(store):
    a = store.create(CM, cm("a", k="1"), "default")
    b = store.update(CM, dict(a, data={"k": "2"}), "default", "a")
    assert b["metadata"]["generation"] == 2
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    with pytest.raises(ApiError) as e:
        store.update(CM, dict(a, data={"k": "3"}), "default", "a")  # a's resourceVersion is stale
    assert e.value.code == 409 and "the object has been modified" in str(e.value)
    same = store.update(CM, b, "default", "a")
    assert same["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]


def test_finalizers_hold_a_deletion(store):
    a = cm("a")
    a["metadata"]["finalizers"] = ["example.com/keep"]
    store.create(CM, a, "default")
    obj, gone = store.delete(CM, "default", "a")
    assert not gone and obj["metadata"]["deletionTimestamp"]
    obj["metadata"]["finalizers"] = []
    store.update(CM, obj, "default", "a")
    assert not store.exists(CM, "default", "a")


def test_delete_preconditions(store):
    store.create(CM, cm("a"), "default")
    with pytest.raises(ApiError) as e:
        store.delete(CM, "default", "a", preconditions={"uid": "not-its-uid"})
    assert e.value.code == 409 and "Precondition failed: UID in precondition: not-its-uid" in str(e.value)
    assert store.delete(CM, "default", "a")[1]


def test_dry_run_changes_nothing(store):
    rv = store.rev.current
    store.create(CM, cm("a"), "default", dry_run=True)
    assert not store.exists(CM, "default", "a") and store.rev.current == rv


def test_secrets_are_0600_and_survive_a_restart(tmp_path, store):
    store.create(SECRET, {"metadata": {"name": "s"}, "data": {"k": "dg=="}}, "default")
    path = os.path.join(str(tmp_path), "objects", "core_secrets", "default_s.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    last = store.rev.current
    again = ObjectStore(str(tmp_path))
    assert again.get(SECRET, "default", "s")["data"] == {"k": "dg=="}
    # resourceVersions never go backwards, even after a crash: the next
    # one is above everything handed out before.
    assert again.rev.next() > last


def test_resource_version_ceiling_is_on_disk_before_use(tmp_path):
    s = ObjectStore(str(tmp_path))
    for _ in range(BLOCK + 5):
        s.rev.next()
    handed = s.rev.current
    # a SIGKILL now: only the file is left
    assert ObjectStore(str(tmp_path)).rev.next() > handed


def test_watch_from_a_resource_version(store):
    a = store.create(CM, cm("a"), "default")
    since = int(a["metadata"]["resourceVersion"])
    store.update(CM, dict(a, data={"k": "2"}), "default", "a")
    store.create(CM, cm("b"), "kube-system")
    w = store.watch(CM, "default", None, None, since)
    changes = []
    while not w.queue.empty():
        changes.append(w.queue.get_nowait())
    assert [(c.type, c.obj["metadata"]["name"]) for c in changes] == [("MODIFIED", "a")]
    store.delete(CM, "default", "a")
    ch = w.queue.get_nowait()
    assert ch.type == "DELETED" and ch.rv > changes[0].rv


def test_watch_label_selector_filters(store):
    w = store.watch(CM, None, "app=web", None, store.rev.current)
    other = cm("x")
    web = cm("y")
    web["metadata"]["labels"] = {"app": "web"}
    store.create(CM, other, "default")
    store.create(CM, web, "default")
    assert w.queue.get_nowait().obj["metadata"]["name"] == "y" and w.queue.empty()


def test_too_old_resource_version_is_gone(store):
    start = store.rev.current
    store.hub.size = 5  # the same logic as a window of WINDOW changes, faster
    for i in range(store.hub.size + 2):
        store.create(CM, cm(f"c{i}"), "default")
    with pytest.raises(ApiError) as e:
        store.watch(CM, None, None, None, start)
    assert e.value.code == 410 and e.value.reason == "Expired"


def test_restarted_store_refuses_watches_from_before(tmp_path, store):
    a = store.create(CM, cm("a"), "default")
    again = ObjectStore(str(tmp_path))
    with pytest.raises(ApiError) as e:
        again.watch(CM, None, None, None, int(a["metadata"]["resourceVersion"]))
    assert e.value.code == 410


def test_namespace_deletion_empties_it(store):
    store.create(NS, {"metadata": {"name": "team"}}, None)
    store.create(CM, cm("a"), "team")
    from minipod.objects.collector import Collector

    collector = Collector(store)
    store.delete(NS, None, "team")
    assert store.get(NS, None, "team")["status"]["phase"] == "Terminating"
    with pytest.raises(ApiError) as e:
        store.create(CM, cm("b"), "team")
    assert e.value.code == 403
    collector.finish_namespaces()
    collector.finish_namespaces()
    assert not store.exists(NS, None, "team") and not store.exists(CM, "team", "a")


def test_owner_references_are_collected(store):
    from minipod.objects.collector import Collector

    Collector(store)
    owner = store.create(CM, cm("owner"), "default")
    dep = cm("dep")
    dep["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    ]
    store.create(CM, dep, "default")
    store.delete(CM, "default", "owner")
    assert not store.exists(CM, "default", "dep")


def test_watch_queue_is_asyncio(store):
    async def main():
        w = store.watch(CM, None, None, None, store.rev.current)
        store.create(CM, cm("late"), "default")
        return await asyncio.wait_for(w.queue.get(), 1)

    assert asyncio.run(main()).obj["metadata"]["name"] == "late"


def test_secret_defaults(store):
    body = {"metadata": {"name": "sd"}, "stringData": {"user": "admin"}}
    got = store.create(SECRET, body, "default")
    assert got["type"] == "Opaque" and got["data"] == {"user": "YWRtaW4="} and "stringData" not in got
