"""ConfigMaps, Secrets and the downward API without a daemon: the atomic
writer's layout, volume payloads, env resolution with the kubelet's
messages, the API server's checks of ConfigMaps, Secrets and config volumes."""

import base64
import os
import threading
import time

import pytest

from minipod.kube import downward_api
from minipod.kube.validate import validate_pod
from minipod.objects import config_objects
from minipod.objects.errors import ApiError
from minipod.pod import atomic_writer, config_volumes, env_sources
from minipod.pod.atomic_writer import FileProjection
from minipod.pod.config_refs import ConfigLookup, ConfigRefError
from minipod.pod.config_volumes import FailedMount, PodFacts


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


OBJECTS = {
    ("ConfigMap", "default", "cm"): {
        "kind": "ConfigMap",
        "data": {"a": "1", "b": "2"},
        "binaryData": {"bin": b64("\x00\x01")},
    },
    ("Secret", "default", "sec"): {"kind": "Secret", "data": {"pw": b64("hunter2")}},
}


def lookup() -> ConfigLookup:
    return ConfigLookup(lambda kind, ns, name: OBJECTS.get((kind, ns, name)))


def a_pod(**spec) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u-1", "labels": {"b": "2", "a": 'x"y'}},
        "spec": dict({"containers": [{"name": "c", "resources": {"limits": {"cpu": "1500m"}}}]}, **spec),
    }


# --- the atomic writer ---------------------------------------------------------


def test_atomic_writer_layout_and_update(tmp_path):
    target = str(tmp_path / "vol")
    assert atomic_writer.write(target, {"a": FileProjection(b"1", 0o600), "d/b": FileProjection(b"2")})
    first = os.readlink(os.path.join(target, "..data"))
    assert first.startswith("..20")
    assert os.readlink(os.path.join(target, "a")) == "..data/a"
    assert os.readlink(os.path.join(target, "d")) == "..data/d"
    assert open(os.path.join(target, "d", "b")).read() == "2"
    assert os.stat(os.path.join(target, "a")).st_mode & 0o777 == 0o600
    # The same payload: nothing written.
    assert not atomic_writer.write(target, {"a": FileProjection(b"1", 0o600), "d/b": FileProjection(b"2")})
    # A key gone, one changed: a new version, the old one removed.
    assert atomic_writer.write(target, {"a": FileProjection(b"3", 0o600)})
    second = os.readlink(os.path.join(target, "..data"))
    assert sorted(os.listdir(target)) == sorted(["..data", "a", first, second])  # the previous kept once
    assert open(os.path.join(target, "a")).read() == "3"
    atomic_writer.write(target, {"a": FileProjection(b"4", 0o600)})
    assert first not in os.listdir(target) and second in os.listdir(target)


def test_atomic_writer_readers_never_see_a_partial_value(tmp_path):
    target = str(tmp_path / "vol")
    values = [b"A" * 50000, b"B" * 50000]
    atomic_writer.write(target, {"k": FileProjection(values[0])})
    bad, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                data = open(os.path.join(target, "k"), "rb").read()
            except FileNotFoundError:
                bad.append("missing")
                continue
            if data not in values:
                bad.append(len(data))

    t = threading.Thread(target=reader)
    t.start()
    for i in range(150):
        atomic_writer.write(target, {"k": FileProjection(values[i % 2])})
        time.sleep(0.002)  # updates come one after another, not all in the same instant
    stop.set()
    t.join()
    assert bad == []


@pytest.mark.parametrize("path", ["/abs", "../up", "a/../b", "..hidden", ""])
def test_atomic_writer_refuses_paths_out_of_the_volume(tmp_path, path):
    with pytest.raises(ValueError):
        atomic_writer.write(str(tmp_path / "v"), {path: FileProjection(b"x")})


# --- volume payloads --------------------------------------------------------------


def test_configmap_volume_all_keys_items_and_modes():
    pod = a_pod()
    whole = config_volumes.payload({"name": "v", "configMap": {"name": "cm"}}, pod, lookup(), PodFacts())
    assert {k: (f.data, f.mode) for k, f in whole.items()} == {
        "a": (b"1", 0o644),
        "b": (b"2", 0o644),
        "bin": (b"\x00\x01", 0o644),
    }
    vol = {
        "name": "v",
        "configMap": {
            "name": "cm",
            "defaultMode": 0o400,
            "items": [{"key": "a", "path": "x/a", "mode": 0o640}, {"key": "b", "path": "b"}],
        },
    }
    got = config_volumes.payload(vol, pod, lookup(), PodFacts())
    assert got == {"x/a": FileProjection(b"1", 0o640), "b": FileProjection(b"2", 0o400)}


def test_missing_sources_and_keys():
    pod = a_pod()
    with pytest.raises(ConfigRefError, match='^configmap "nope" not found$'):
        config_volumes.payload({"name": "v", "configMap": {"name": "nope"}}, pod, lookup(), PodFacts())
    assert (
        config_volumes.payload(
            {"name": "v", "configMap": {"name": "nope", "optional": True}}, pod, lookup(), PodFacts()
        )
        == {}
    )
    vol = {"name": "v", "secret": {"secretName": "sec", "items": [{"key": "zz", "path": "z"}]}}
    with pytest.raises(ConfigRefError, match="^secret references non-existent secret key: zz$"):
        config_volumes.payload(vol, pod, lookup(), PodFacts())
    with pytest.raises(
        FailedMount, match='MountVolume.SetUp failed for volume "v" : secret "gone" not found'
    ):
        config_volumes.write_volume(
            {"name": "v", "secret": {"secretName": "gone"}},
            pod,
            {"run": "/nonexistent"},
            lookup(),
            PodFacts(),
        )


def test_downward_and_projected_payload():
    pod = a_pod()
    vol = {
        "name": "v",
        "projected": {
            "sources": [
                {"secret": {"name": "sec"}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                            {
                                "path": "cpu",
                                "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"},
                            },
                            {
                                "path": "mem",
                                "resourceFieldRef": {
                                    "containerName": "c",
                                    "resource": "limits.memory",
                                    "divisor": "1Mi",
                                },
                            },
                        ]
                    }
                },
            ]
        },
    }
    got = config_volumes.payload(vol, pod, lookup(), PodFacts(allocatable={"memory": 512 * 2**20}))
    assert got["pw"].data == b"hunter2"
    assert got["labels"].data == b'a="x\\"y"\nb="2"'  # sorted, quoted
    assert got["cpu"].data == b"2"  # 1500m rounded up to whole cores
    assert got["mem"].data == b"512"  # no limit: the node's allocatable


def test_resource_values_and_divisors():
    c = {"resources": {"requests": {"memory": "100Mi"}, "limits": {"cpu": "250m"}}}
    assert downward_api.resource_value(c, "limits.cpu", "1m", {}) == "250"
    assert downward_api.resource_value(c, "requests.cpu", "1m", {}) == "250"  # defaulted to the limit
    assert downward_api.resource_value(c, "requests.memory", "1Mi", {}) == "100"
    assert downward_api.resource_value(c, "requests.memory", None, {}) == str(100 * 2**20)
    assert downward_api.resource_value({}, "requests.cpu", None, {"cpu": 4000}) == "0"


# --- env ------------------------------------------------------------------------------


def test_env_sources_in_the_kubelets_order():
    container = {
        "name": "c",
        "envFrom": [
            {"prefix": "CM_", "configMapRef": {"name": "cm"}},
            {"secretRef": {"name": "none", "optional": True}},
        ],
        "env": [
            {"name": "A", "value": "from-$(CM_a)"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "zz", "optional": True}}},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
    }
    got = env_sources.resolve(container, a_pod(), lookup())
    assert got.declared == {
        "CM_a": "1",
        "CM_b": "2",
        "CM_bin": "\x00\x01",
        "A": "from-1",
        "PW": "hunter2",
        "NAME": "p",
    }
    assert got.warnings == []


def test_env_invalid_names_are_skipped_with_a_warning():
    container = {"name": "c", "envFrom": [{"prefix": "X=", "configMapRef": {"name": "cm"}}]}
    got = env_sources.resolve(container, a_pod(), lookup())
    assert got.declared == {}
    assert got.warnings == [
        "Keys [X=a, X=b, X=bin] from the EnvFrom configmap default/cm were skipped since they are "
        "considered invalid environment variable names."
    ]


@pytest.mark.parametrize(
    "source, message",
    [
        ({"configMapKeyRef": {"name": "x", "key": "k"}}, 'configmap "x" not found'),
        ({"configMapKeyRef": {"name": "cm", "key": "k"}}, "couldn't find key k in ConfigMap default/cm"),
        ({"secretKeyRef": {"name": "x", "key": "k"}}, 'secret "x" not found'),
        ({"secretKeyRef": {"name": "sec", "key": "k"}}, "couldn't find key k in Secret default/sec"),
    ],
)
def test_env_missing_references_have_the_kubelets_messages(source, message):
    container = {"name": "c", "env": [{"name": "V", "valueFrom": source}]}
    with pytest.raises(ConfigRefError) as e:
        env_sources.resolve(container, a_pod(), lookup())
    assert str(e.value) == message


# --- the API server's checks ----------------------------------------------------------------


def cm(**fields) -> dict:
    return {"kind": "ConfigMap", "metadata": {"name": "c"}, **fields}


def causes(e: ApiError) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in e.details["causes"]]


def test_configmap_keys_size_and_duplicates():
    config_objects.check("ConfigMap", cm(data={"a.b-C_1": "x"}, binaryData={"bin": b64("y")}))
    with pytest.raises(ApiError) as e:
        config_objects.check(
            "ConfigMap", cm(data={"bad key": "x", "..x": "y", "d": "1"}, binaryData={"d": b64("z")})
        )
    got = causes(e.value)
    assert ("data[bad key]", f'Invalid value: "bad key": {config_objects.KEY_RULE}') in got
    assert ("data[..x]", "Invalid value: \"..x\": must not start with '..'") in got
    assert ("data[d]", 'Invalid value: "d": duplicate of key present in binaryData') in got
    assert e.value.code == 422 and e.value.message.startswith('ConfigMap "c" is invalid: ')
    with pytest.raises(ApiError, match="Too long: may not be more than 1048576 bytes"):
        config_objects.check("ConfigMap", cm(data={"a": "x" * (1024 * 1024), "b": "y"}))


def test_immutable_refuses_changes():
    old = cm(data={"a": "1"}, immutable=True)
    config_objects.check("ConfigMap", cm(data={"a": "1"}, immutable=True), old)
    with pytest.raises(ApiError) as e:
        config_objects.check("ConfigMap", cm(data={"a": "2"}), old)
    assert causes(e.value) == [
        ("immutable", "Forbidden: field is immutable when `immutable` is set"),
        ("data", "Forbidden: field is immutable when `immutable` is set"),
    ]


@pytest.mark.parametrize(
    "kind, data, missing",
    [
        ("kubernetes.io/tls", {"tls.crt": b64("c")}, ["data[tls.key]"]),
        ("kubernetes.io/basic-auth", {}, ["data[username]", "data[password]"]),
        ("kubernetes.io/ssh-auth", {}, ["data[ssh-privatekey]"]),
        ("kubernetes.io/dockerconfigjson", {}, ["data[.dockerconfigjson]"]),
        (
            "kubernetes.io/service-account-token",
            {},
            ["metadata.annotations[kubernetes.io/service-account.name]"],
        ),
    ],
)
def test_secret_types_require_their_keys(kind, data, missing):
    with pytest.raises(ApiError) as e:
        config_objects.check(
            "Secret", {"kind": "Secret", "metadata": {"name": "s"}, "type": kind, "data": data}
        )
    assert [f for f, _ in causes(e.value)] == missing
    assert all(m == "Required value" for _, m in causes(e.value))


def test_secret_type_is_immutable_and_values_are_never_in_messages():
    old = {"kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque", "data": {}}
    new = {
        "kind": "Secret",
        "metadata": {"name": "s"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64("{not json hunter2")},
    }
    with pytest.raises(ApiError) as e:
        config_objects.check("Secret", new, old)
    assert "hunter2" not in e.value.message
    assert ("type", 'Invalid value: "kubernetes.io/dockerconfigjson": field is immutable') in causes(e.value)


def test_config_volumes_validated_as_the_api_server_does():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [
                {"name": "a", "configMap": {"items": [{"key": "k", "path": "../x", "mode": 0o1777}]}},
                {
                    "name": "b",
                    "downwardAPI": {"items": [{"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}}]},
                },
                {
                    "name": "c",
                    "projected": {
                        "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 60}}]
                    },
                },
            ],
        },
    }
    with pytest.raises(Exception) as e:
        validate_pod(pod)
    text = "\n".join(getattr(e.value, "errors", [str(e.value)]))
    assert "spec.volumes[0].configMap.name: required value" in text
    assert "spec.volumes[0].configMap.items[0].path: invalid value \"../x\": must not contain '..'" in text
    assert (
        "spec.volumes[0].configMap.items[0].mode: invalid value 1023: must be a number between 0 and 0777 (octal), both inclusive"
        in text
    )
    assert 'spec.volumes[1].downwardAPI.items[0].fieldRef.fieldPath: unsupported value "status.podIP"' in text
    assert "may not specify a duration less than 10 minutes" in text


# --- subPath safety (linux/subpath.py) ---------------------------------------------------


def test_subpath_open_beneath_never_follows_a_symlink(tmp_path):
    from minipod.errors import MinipodError
    from minipod.linux import subpath

    vol = tmp_path / "vol"
    (vol / "a" / "b").mkdir(parents=True)
    (vol / "inside").symlink_to("a")  # stays in the volume
    (vol / "out").symlink_to("/")  # leads out
    fd = subpath.open_beneath(str(vol), "a/b")
    os.close(fd)
    with pytest.raises(MinipodError, match="symbolic link"):
        subpath.open_beneath(str(vol), "out")
    with pytest.raises(MinipodError, match="symbolic link"):
        subpath.open_beneath(str(vol), "inside/b")  # the child opens only the resolved path
    assert subpath.within(str(vol), "inside/b") == "a/b"
    assert subpath.within(str(vol), "out") is None
    assert subpath.check(str(vol), "inside/b") == "a/b"
    with pytest.raises(MinipodError, match="leads out of the volume"):
        subpath.check(str(vol), "out/etc")
    # A missing subPath is made, with the volume's mode, inside the volume.
    os.chmod(vol, 0o777)
    assert subpath.check(str(vol), "new/dir") == "new/dir"
    assert os.stat(vol / "new" / "dir").st_mode & 0o777 == 0o777
