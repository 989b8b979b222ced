"""Encryption at rest (minipod/objects/encryption.py): the API server's
EncryptionConfiguration, its aescbc layout, key rotation, clear errors."""

import base64
import json
import os

import pytest

from minipod.errors import MinipodError
from minipod.objects import encryption
from minipod.objects import resources as kinds
from minipod.objects.store import ObjectStore

KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(32, 64))).decode()
VALUE = "hunter2-at-rest"


def config(etc, *providers: str) -> None:
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, encryption.CONFIG_FILE), "w") as f:
        f.write(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
            "- resources: [secrets]\n  providers:\n" + "".join(providers)
        )


def aescbc(*keys: tuple[str, str]) -> str:
    return "  - aescbc:\n      keys:\n" + "".join(f"      - {{name: {n}, secret: {s}}}\n" for n, s in keys)


def store(tmp_path, etc) -> ObjectStore:
    s = ObjectStore(str(tmp_path / "lib"), encryption.load(str(etc)))
    s.ensure_defaults()
    return s


def test_secrets_are_written_encrypted_and_read_back(tmp_path):
    etc = tmp_path / "etc"
    config(etc, aescbc(("key1", KEY1)), "  - identity: {}\n")
    s = store(tmp_path, etc)
    secrets, cms = kinds.builtin("", "v1", "secrets"), kinds.builtin("", "v1", "configmaps")
    s.create(secrets, {"metadata": {"name": "db"}, "stringData": {"password": VALUE}}, "default")
    s.create(cms, {"metadata": {"name": "plain"}, "data": {"a": "b"}}, "default")
    raw = (tmp_path / "lib" / "objects" / "core_secrets" / "default_db.json").read_bytes()
    assert raw.startswith(b"k8s:enc:aescbc:v1:key1:")
    assert VALUE.encode() not in raw and base64.b64encode(VALUE.encode()) not in raw
    # The API server's layout: a 16-byte IV, then AES-CBC with PKCS#7 padding.
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    body = raw[len(b"k8s:enc:aescbc:v1:key1:") :]
    dec = Cipher(algorithms.AES(bytes(range(32))), modes.CBC(body[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(dec.update(body[16:]) + dec.finalize()) + unpadder.finalize()
    assert json.loads(plain)["metadata"]["name"] == "db"
    # ConfigMaps are not listed: plain JSON, as before.
    assert json.loads((tmp_path / "lib" / "objects" / "core_configmaps" / "default_plain.json").read_text())
    again = store(tmp_path, etc)
    got = again.get(secrets, "default", "db")
    assert base64.b64decode(got["data"]["password"]).decode() == VALUE


def test_key_rotation_and_a_missing_key(tmp_path):
    etc = tmp_path / "etc"
    config(etc, aescbc(("key1", KEY1)))
    s = store(tmp_path, etc)
    secrets = kinds.builtin("", "v1", "secrets")
    s.create(secrets, {"metadata": {"name": "db"}, "stringData": {"password": VALUE}}, "default")
    config(etc, aescbc(("key2", KEY2), ("key1", KEY1)))  # new key first, old one still listed
    s2 = store(tmp_path, etc)
    old = s2.get(secrets, "default", "db")
    s2.update(secrets, dict(old, metadata=dict(old["metadata"], labels={"rotated": "yes"})), "default", "db")
    raw = (tmp_path / "lib" / "objects" / "core_secrets" / "default_db.json").read_bytes()
    assert raw.startswith(b"k8s:enc:aescbc:v1:key2:")
    config(etc, aescbc(("key3", KEY1)))
    with pytest.raises(MinipodError, match="key 'key2', which encryption-config.yaml does not list"):
        store(tmp_path, etc)


@pytest.mark.parametrize(
    "provider, message",
    [
        (
            "  - secretbox:\n      keys:\n      - {name: k, secret: " + KEY1 + "}\n",
            "secretbox: not supported",
        ),
        (
            "  - aescbc:\n      keys:\n      - {name: k, secret: "
            + base64.b64encode(b"short").decode()
            + "}\n",
            "5 bytes; AES keys are 16, 24 or 32 bytes",
        ),
        ("  - kms: {}\n", 'unsupported provider "kms"'),
    ],
)
def test_bad_configurations_are_clear_errors(tmp_path, provider, message):
    config(tmp_path, provider)
    with pytest.raises(MinipodError, match=message):
        encryption.load(str(tmp_path))


def test_aesgcm_and_no_configuration(tmp_path):
    assert encryption.load(str(tmp_path)) is None
    config(tmp_path, "  - aesgcm:\n      keys:\n      - {name: g, secret: " + KEY1 + "}\n")
    enc = encryption.load(str(tmp_path))
    sealed = enc.encrypt("secrets", "", b"{}")
    assert sealed.startswith(b"k8s:enc:aesgcm:v1:g:") and enc.decrypt("secrets", "", sealed, "x") == b"{}"
