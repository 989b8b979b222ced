"""Object metadata as the API server fills it in. Pure functions: the
store passes in the clock, the new uid and the new resourceVersion.

On create:  name from generateName (+ 5 random characters), namespace from
            the URL, uid, creationTimestamp, generation 1; fields a client
            may not set (deletionTimestamp, ...) are dropped.
On update:  uid, creationTimestamp, namespace and name are kept from the
            stored object; generation goes up by one when anything outside
            metadata and status changed (the spec).
"""

import copy
import json
import random

from minipod.kube.names import dns_label_problems, dns_subdomain_problems
from minipod.objects import config_objects
from minipod.objects.errors import ApiError, invalid
from minipod.objects.resources import Resource

# Random suffixes as the API server's names.SimpleNameGenerator makes them.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)


def random_suffix(rng=random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(5))


def name_problems(res: Resource, name: str) -> list[str]:
    # Namespaces (and a few others) are DNS labels; most kinds are subdomains.
    if res.kind == "Namespace":
        return dns_label_problems(name)
    return dns_subdomain_problems(name)


def check_identity(res: Resource, obj: dict, namespace: str | None) -> None:
    """apiVersion/kind must match the URL's resource, and the namespace in
    the body must match the one in the URL (the API server's own checks)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
        raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
    kind = obj.get("kind")
    if kind and kind != res.kind:
        raise ApiError(
            400,
            "BadRequest",
            f"the API version in the data ({obj.get('apiVersion')}) does not match the expected API version ({res.api_version})"
            if obj.get("apiVersion") != res.api_version
            else f"the kind in the data ({kind}) does not match the expected kind ({res.kind})",
        )
    meta = obj.get("metadata") or {}
    for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        # The API server decodes into typed Go structs first: a number where
        # a string belongs never reaches validation.
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            raise ApiError(
                400,
                "BadRequest",
                f"json: cannot unmarshal {_json_type(meta[key])} into Go struct field "
                f"ObjectMeta.metadata.{key} of type string",
            )
    body_ns = meta.get("namespace")
    if res.namespaced and body_ns and namespace and body_ns != namespace:
        raise ApiError(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        )


def _json_type(value) -> str:
    """The JSON type name Go's decoder uses in its errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "string"


def prepare_create(res: Resource, obj: dict, namespace: str | None, now: str, uid: str, rng=random) -> dict:
    """The object as the store will keep it (without its resourceVersion)."""
    check_identity(res, obj, namespace)
    obj = copy.deepcopy(obj)
    obj["apiVersion"], obj["kind"] = res.api_version, res.kind
    meta = obj.setdefault("metadata", {})
    for k in SERVER_FIELDS:
        meta.pop(k, None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + random_suffix(rng)
    name = meta.get("name") or ""
    causes = []
    if not name:
        causes.append(
            ("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")
        )
    else:
        causes += [
            ("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {p}')
            for p in name_problems(res, name)
        ]
    if causes:
        raise invalid(res.kind, name, causes)
    if res.namespaced:
        meta["namespace"] = namespace or meta.get("namespace") or "default"
    else:
        meta.pop("namespace", None)
    meta["uid"] = uid
    meta["creationTimestamp"] = now
    meta["generation"] = 1
    secret_defaults(res, obj)
    config_objects.check(res.kind, obj)
    if res.kind == "Namespace":
        # What the API server and the namespace controller add.
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    return obj


def secret_defaults(res: Resource, obj: dict) -> None:
    """A Secret as the API server stores it: type Opaque by default, and
    stringData (write-only) merged into data, base64-encoded."""
    if res.kind != "Secret":
        return
    obj["type"] = obj.get("type") or "Opaque"
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        import base64

        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def spec_part(obj: dict) -> str:
    """Everything generation counts: all but metadata and status."""
    return json.dumps({k: v for k, v in obj.items() if k not in ("metadata", "status")}, sort_keys=True)


def prepare_update(res: Resource, old: dict, new: dict, namespace: str | None) -> dict:
    """The updated object: identity from the stored one, generation bumped
    when the spec changed. Status is kept from `old` unless this is the
    status subresource (the caller decides what `new` carries)."""
    check_identity(res, new, namespace)
    new = copy.deepcopy(new)
    new["apiVersion"], new["kind"] = res.api_version, res.kind
    meta = new.setdefault("metadata", {})
    old_meta = old["metadata"]
    for k in ("uid", "creationTimestamp", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if k in old_meta:
            meta[k] = old_meta[k]
        else:
            meta.pop(k, None)
    meta["name"] = old_meta["name"]
    secret_defaults(res, new)
    config_objects.check(res.kind, new, old)
    generation = old_meta.get("generation", 1)
    meta["generation"] = generation + 1 if spec_part(old) != spec_part(new) else generation
    return new


def is_same(a: dict, b: dict) -> bool:
    """Equal but for resourceVersion and managedFields' times: an update
    that changes nothing keeps the resourceVersion, as the API server does."""

    def strip(o: dict) -> str:
        o = dict(
            o,
            metadata={
                k: v for k, v in o["metadata"].items() if k not in ("resourceVersion", "managedFields")
            },
        )
        return json.dumps(o, sort_keys=True)

    return strip(a) == strip(b)


def labels_of(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def new_uid() -> str:
    import uuid

    return str(uuid.uuid4())
