"""Secrets: the v1 Secret objects a manifest carries, for imagePullSecrets.

A manifest may hold `kind: Secret` documents beside its Pods, as the ones
`kubectl create secret docker-registry NAME --dry-run=client -o yaml`
writes. minipod keeps them (root-only files under the instance's lib dir)
so that a Pod's `imagePullSecrets` can name them, as in Kubernetes:
    kubernetes.io/dockerconfigjson   data[".dockerconfigjson"]: {"auths": {...}}
    kubernetes.io/dockercfg          data[".dockercfg"]: the older {...auths...}
Other types are stored too (Opaque...), but nothing uses them yet.
"""

import base64
import binascii
import json
import os

from minipod.errors import ManifestError
from minipod.fsutil import read_json, write_json_atomic
from minipod.kube import names
from minipod.paths import object_file, path_in

SECRET_FIELDS = {"apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable"}


def validate_secret(obj: dict, default_namespace: str) -> dict:
    """Check a Secret document and return it normalized (data base64, the
    stringData merged in, namespace set), or raise ManifestError."""
    errors = []
    for key in obj:
        if key not in SECRET_FIELDS:
            errors.append(f"{key}: unknown field")
    if obj.get("apiVersion") != "v1":
        errors.append(f'apiVersion: unsupported value {obj.get("apiVersion")!r}: supported values: "v1"')
    meta: dict = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name")
    if not name:
        errors.append("metadata.name: required value")
    else:
        errors += [f"metadata.name: invalid value {name!r}: {p}" for p in names.dns_subdomain_problems(name)]
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or names.dns_label_problems(namespace)):
        for p in names.dns_label_problems(namespace) if isinstance(namespace, str) else ["must be a string"]:
            errors.append(f"metadata.namespace: invalid value {namespace!r}: {p}")
    for field in ("data", "stringData"):
        if not isinstance(obj.get(field) or {}, dict):
            errors.append(f"{field}: expected map, got {type(obj[field]).__name__}")
    if errors:
        raise ManifestError(errors)
    data = dict(obj.get("data") or {})
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            errors.append(f"data[{key}]: invalid value: not base64")
    for key, value in (obj.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    kind = obj.get("type") or "Opaque"
    if kind == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
        errors.append("data[.dockerconfigjson]: required value for type kubernetes.io/dockerconfigjson")
    if errors:
        raise ManifestError(errors)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind,
        "data": data,
        "metadata": {k: v for k, v in meta.items() if k in ("name", "labels", "annotations")}
        | {"namespace": meta.get("namespace") or default_namespace},
    }


def docker_config(secret: dict) -> dict | None:
    """The {"auths": ...} document of a registry Secret, or None."""
    data = secret.get("data") or {}
    try:
        if ".dockerconfigjson" in data:
            return json.loads(base64.b64decode(data[".dockerconfigjson"]))
        if ".dockercfg" in data:
            return {"auths": json.loads(base64.b64decode(data[".dockercfg"]))}
    except ValueError:
        return None
    return None


class SecretStore:
    """One file per Secret, mode 0600, in a root-only directory."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def _path(self, namespace: str, name: str) -> str:
        return path_in(self.directory, object_file(namespace, name))

    def get(self, namespace: str, name: str) -> dict | None:
        return read_json(self._path(namespace, name))

    def put(self, secret: dict) -> str:
        """Store it; return "created", "configured" or "unchanged"."""
        meta = secret["metadata"]
        old = self.get(meta["namespace"], meta["name"])
        if old == secret:
            return "unchanged"
        write_json_atomic(self._path(meta["namespace"], meta["name"]), secret, mode=0o600)
        return "configured" if old else "created"

    def delete(self, namespace: str, name: str) -> bool:
        try:
            os.unlink(self._path(namespace, name))
            return True
        except FileNotFoundError:
            return False
