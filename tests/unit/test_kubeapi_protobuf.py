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


def test_a_kind_minipod_does_not_read_is_refused():
    body = protobuf.MAGIC + _field(1, _field(1, b"apps/v1") + _field(2, b"Deployment")) + _field(2, b"")
    with pytest.raises(ValueError, match="send it as JSON"):
        protobuf.decode(body)


def test_not_protobuf():
    with pytest.raises(ValueError):
        protobuf.decode(b'{"kind": "ConfigMap"}')
