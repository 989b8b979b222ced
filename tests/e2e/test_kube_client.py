"""Issue 12: the official Python client (`kubernetes` from PyPI) drives
minipod: list, create, patch, delete, a watch stream, pod logs."""

import threading

from helpers.kubectl import client
from helpers.pods import ctr, pod


def test_create_list_patch_log_delete(mp, pods):
    api = client(mp)
    pods.add("pc-web")
    created = api.create_namespaced_pod(
        "default", pod("pc-web", ctr("main", "echo from-client; exec sleep 3600"))
    )
    assert created.metadata.name == "pc-web" and created.metadata.uid
    names = [p.metadata.name for p in api.list_namespaced_pod("default").items]
    assert "pc-web" in names
    patched = api.patch_namespaced_pod("pc-web", "default", {"metadata": {"labels": {"via": "client"}}})
    assert patched.metadata.labels == {"via": "client"}
    assert [
        p.metadata.name for p in api.list_namespaced_pod("default", label_selector="via=client").items
    ] == ["pc-web"]
    mp.wait_for("pc-web", lambda p: p["status"]["phase"] == "Running")
    assert api.read_namespaced_pod_log("pc-web", "default") == "from-client\n"
    api.delete_namespaced_pod("pc-web", "default", grace_period_seconds=0)


def test_configmaps_round_trip(mp):
    import kubernetes

    api = client(mp)
    cm = kubernetes.client.V1ConfigMap(metadata=kubernetes.client.V1ObjectMeta(name="pc-cm"), data={"k": "v"})
    api.create_namespaced_config_map("default", cm)
    try:
        assert api.read_namespaced_config_map("pc-cm", "default").data == {"k": "v"}
        try:
            api.create_namespaced_config_map("default", cm)
            raise AssertionError("a second create must fail")
        except kubernetes.client.ApiException as e:
            assert e.status == 409 and '"reason":"AlreadyExists"' in e.body.replace(" ", "")
    finally:
        api.delete_namespaced_config_map("pc-cm", "default")
    try:
        api.read_namespaced_config_map("pc-cm", "default")
        raise AssertionError("the ConfigMap must be gone")
    except kubernetes.client.ApiException as e:
        assert e.status == 404


def test_watch_stream(mp, pods):
    import kubernetes

    api = client(mp)
    start = api.list_namespaced_config_map("default").metadata.resource_version
    seen = []

    def watch():
        w = kubernetes.watch.Watch()
        for ev in w.stream(
            api.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=20
        ):
            seen.append((ev["type"], ev["object"].metadata.name, int(ev["object"].metadata.resource_version)))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=watch)
    t.start()
    api.create_namespaced_config_map("default", {"metadata": {"name": "pc-watched"}, "data": {"a": "1"}})
    api.patch_namespaced_config_map("pc-watched", "default", {"data": {"a": "2"}})
    api.delete_namespaced_config_map("pc-watched", "default")
    t.join(30)
    assert [(kind, name) for kind, name, _ in seen] == [
        ("ADDED", "pc-watched"),
        ("MODIFIED", "pc-watched"),
        ("DELETED", "pc-watched"),
    ]
    versions = [rv for _, _, rv in seen]
    assert versions == sorted(versions) and len(set(versions)) == 3
