"""Encryption at rest, as the API server's EncryptionConfiguration does it.

An instance encrypts what it stores when ETC/encryption-config.yaml holds
an EncryptionConfiguration (apiserver.config.k8s.io/v1), the file
kube-apiserver reads with --encryption-provider-config:

    apiVersion: apiserver.config.k8s.io/v1
    kind: EncryptionConfiguration
    resources:
    - resources: [secrets]
      providers:
      - aescbc:
          keys:
          - {name: key1, secret: <base64 of 32 random bytes>}
      - identity: {}

In order:
    1. load(): the file checked (kinds, key sizes, provider names), or a
       clear error naming the field; no file: nothing is encrypted;
    2. encrypt(): the first provider of the resource writes: `identity`
       plainly, `aescbc` as k8s:enc:aescbc:v1:KEYNAME: + a random 16-byte
       IV + AES-CBC (PKCS#7) of the object, `aesgcm` as
       k8s:enc:aesgcm:v1:KEYNAME: + a 12-byte nonce + AES-GCM, the API
       server's own layout;
    3. decrypt(): any listed key reads (so keys can be rotated: add the
       new key first, rewrite, then drop the old one); plain JSON reads as
       identity.
`secretbox` (XSalsa20-Poly1305) is refused with a hint: the library minipod
uses for its crypto (cryptography) has no XSalsa20.
"""

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Any

from minipod.errors import MinipodError

PREFIX = b"k8s:enc:"
CONFIG_FILE = "encryption-config.yaml"
CIPHERS = ("aescbc", "aesgcm")


@dataclass(frozen=True)
class Provider:
    kind: str  # identity, aescbc, aesgcm
    keys: tuple[tuple[str, bytes], ...] = ()  # (name, secret)


@dataclass
class Encryption:
    by_resource: dict[str, list[Provider]] = field(default_factory=dict)

    def providers(self, plural: str, group: str = "") -> list[Provider] | None:
        qualified = f"{plural}.{group}" if group else plural
        for name in (qualified, f"*.{group}" if group else "*.", "*.*"):
            if name in self.by_resource:
                return self.by_resource[name]
        return None

    def encrypt(self, plural: str, group: str, data: bytes) -> bytes:
        """Step 2."""
        providers = self.providers(plural, group)
        if not providers or providers[0].kind == "identity":
            return data
        p = providers[0]
        name, key = p.keys[0]
        head = PREFIX + f"{p.kind}:v1:{name}:".encode()
        if p.kind == "aescbc":
            from cryptography.hazmat.primitives import padding
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

            iv = os.urandom(16)
            padder = padding.PKCS7(128).padder()
            padded = padder.update(data) + padder.finalize()
            enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
            return head + iv + enc.update(padded) + enc.finalize()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        return head + nonce + AESGCM(key).encrypt(nonce, data, None)

    def decrypt(self, plural: str, group: str, data: bytes, where: str) -> bytes:
        """Step 3."""
        if not data.startswith(PREFIX):
            return data
        try:
            kind, version, name, body = data[len(PREFIX) :].split(b":", 3)
        except ValueError:
            raise MinipodError(f"{where}: not an encrypted object the configuration can read") from None
        keys = {
            n: k for p in self.providers(plural, group) or [] if p.kind == kind.decode() for n, k in p.keys
        }
        key = keys.get(name.decode())
        if key is None:
            raise MinipodError(
                f"{where}: encrypted with {kind.decode()} key {name.decode()!r}, which "
                f"{CONFIG_FILE} does not list",
                hint="keep the old key listed (after the new one) until every object is rewritten",
            )
        try:
            if kind == b"aescbc":
                from cryptography.hazmat.primitives import padding
                from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

                dec = Cipher(algorithms.AES(key), modes.CBC(body[:16])).decryptor()
                padded = dec.update(body[16:]) + dec.finalize()
                unpadder = padding.PKCS7(128).unpadder()
                return unpadder.update(padded) + unpadder.finalize()
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            return AESGCM(key).decrypt(body[:12], body[12:], None)
        except ValueError as e:
            raise MinipodError(f"{where}: cannot decrypt with key {name.decode()!r}: {e}") from None
        except Exception as e:  # noqa: BLE001 - cryptography's InvalidTag has no message
            raise MinipodError(
                f"{where}: cannot decrypt with key {name.decode()!r} ({type(e).__name__})"
            ) from None


def _provider(raw: Any, where: str) -> Provider:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise MinipodError(f"{where}: exactly one provider per entry (aescbc, aesgcm, identity)")
    [(kind, spec)] = raw.items()
    if kind == "identity":
        return Provider("identity")
    if kind == "secretbox":
        raise MinipodError(
            f"{where}.secretbox: not supported by minipod (no XSalsa20-Poly1305 in its crypto library)",
            hint="use aescbc or aesgcm",
        )
    if kind not in CIPHERS:
        raise MinipodError(f'{where}: unsupported provider "{kind}": supported: aescbc, aesgcm, identity')
    keys = []
    for i, k in enumerate((spec or {}).get("keys") or []):
        try:
            secret = base64.b64decode(str(k.get("secret", "")), validate=True)
        except (binascii.Error, ValueError):
            raise MinipodError(f"{where}.{kind}.keys[{i}].secret: must be base64") from None
        if len(secret) not in (16, 24, 32):
            raise MinipodError(
                f"{where}.{kind}.keys[{i}].secret: {len(secret)} bytes; AES keys are 16, 24 or 32 bytes",
                hint="head -c 32 /dev/urandom | base64",
            )
        if not k.get("name"):
            raise MinipodError(f"{where}.{kind}.keys[{i}].name: required value")
        keys.append((str(k["name"]), secret))
    if not keys:
        raise MinipodError(f"{where}.{kind}.keys: at least one key is required")
    return Provider(kind, tuple(keys))


def load(etc_dir: str) -> Encryption | None:
    """Step 1: the instance's configuration, or None without one."""
    import yaml

    path = os.path.join(etc_dir, CONFIG_FILE)
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as e:
        raise MinipodError(f"{path}: cannot read it: {e}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration":
        raise MinipodError(f"{path}: kind: expected EncryptionConfiguration")
    out = Encryption()
    for i, entry in enumerate(doc.get("resources") or []):
        where = f"{path}: resources[{i}]"
        providers = [
            _provider(p, f"{where}.providers[{j}]") for j, p in enumerate(entry.get("providers") or [])
        ]
        if not providers:
            raise MinipodError(f"{where}.providers: at least one provider is required")
        for name in entry.get("resources") or []:
            out.by_resource.setdefault(str(name), providers)
    return out
