"""Kubernetes protobuf bodies (what kubectl's typed clients send), read
into the dicts JSON gives."""

import pytest

from minipod.kubeapi import protobuf


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_a_configmap_as_kubectl_create_sends_it():
    meta = _field(1, b"cfg") + _field(3, b"default") + _field(11, _field(1, b"app") + _field(2, b"web"))
    cm = (
        _field(1, meta)
        + _field(2, _field(1, b"k") + _field(2, b"v"))
        + _field(3, _field(1, b"bin") + _field(2, b"\x00\xff"))
    )
    body = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + _field(2, cm)
    assert protobuf.decode(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default", "labels": {"app": "web"}},
        "data": {"k": "v"},
        "binaryData": {"bin": "AP8="},
    }


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _deployment(container: bytes) -> bytes:
    labels = _field(11, _field(1, b"app") + _field(2, b"web"))
    template = _field(1, labels) + _field(2, _field(2, container) + _field(3, b""))
    spec = (
        _int(1, 3)
        + _field(2, _field(1, _field(1, b"app") + _field(2, b"web")))
        + _field(3, template)
        + _field(4, b"")
        + _int(5, 0)
    )
    status = _int(1, 0) + _int(2, 0)
    obj = _field(1, _field(1, b"web") + labels) + _field(2, spec) + _field(3, status)
    return protobuf.MAGIC + _field(1, _field(1, b"apps/v1") + _field(2, b"Deployment")) + _field(2, obj)


def test_a_deployment_as_kubectl_create_deployment_sends_it():
    container = _field(1, b"busybox") + _field(2, b"busybox:1.35") + _field(3, b"sleep") + _field(3, b"9")
    container += _field(5, b"") + _field(8, b"") + _field(6, _int(3, 8080) + _field(4, b"TCP"))
    assert protobuf.decode(_deployment(container)) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "busybox",
                            "image": "busybox:1.35",
                            "command": ["sleep", "9"],
                            "resources": {},
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        }
                    ]
                },
            },
            "strategy": {},
        },
    }


def test_a_deployment_field_minipod_does_not_read_is_refused_not_dropped():
    probe = _field(10, _field(1, _field(1, _field(1, b"true"))))  # livenessProbe.exec.command
    container = _field(1, b"c") + _field(2, b"busybox:1.35") + probe
    with pytest.raises(ValueError, match="Container field 10 in protobuf is not read by minipod"):
        protobuf.decode(_deployment(container))
    # A varint where a message belongs is refused, not a crash.
    container = _field(1, b"c") + _field(15, _int(1, 1))  # securityContext
    with pytest.raises(ValueError, match="wrong wire type"):
        protobuf.decode(_deployment(container))


def test_a_kind_minipod_does_not_read_is_refused():
    body = (
        protobuf.MAGIC
        + _field(1, _field(1, b"autoscaling/v2") + _field(2, b"HorizontalPodAutoscaler"))
        + _field(2, b"")
    )
    with pytest.raises(ValueError, match="send it as JSON"):
        protobuf.decode(body)


def test_not_protobuf():
    with pytest.raises(ValueError):
        protobuf.decode(b'{"kind": "ConfigMap"}')
