"""POST serviceaccounts/NAME/token: a TokenRequest, as `kubectl create
token` sends it; the API server's TokenRequest REST, in order:
    1. the ServiceAccount must exist (404 otherwise);
    2. the spec is checked and defaulted: expirationSeconds at least 600
       and at most 2^32 (default 3600); audiences default to the API's;
       a boundObjectRef must name an existing Pod or Secret of the
       namespace, and its uid must match when given;
    3. a token is signed (tokens.py) for the ServiceAccount, bound to the
       object when one is named: it stops working when the ServiceAccount
       (by uid) or that object is deleted;
    4. the answer is the TokenRequest with its status: the token and its
       expirationTimestamp.
"""

import time

from minipod.kube.times import rfc3339
from minipod.kubeapi import tokens
from minipod.objects.errors import ApiError, invalid
from minipod.objects.resources import builtin

MIN_SECONDS, MAX_SECONDS, DEFAULT_SECONDS = 600, 1 << 32, 3600
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets"}


def create(store, sa_key: bytes, namespace: str, name: str, body: dict, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    accounts = builtin("", "v1", "serviceaccounts")
    if not store.exists(accounts, namespace, name):  # step 1
        raise ApiError(
            404, "NotFound", f'serviceaccounts "{name}" not found', {"name": name, "kind": "serviceaccounts"}
        )
    sa = store.get(accounts, namespace, name)
    spec = dict(body.get("spec") or {})
    seconds = spec.get("expirationSeconds", DEFAULT_SECONDS)  # step 2
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise invalid(
            "TokenRequest",
            name,
            [
                (
                    "FieldValueInvalid",
                    "spec.expirationSeconds",
                    f"Invalid value: {seconds}: may not specify a duration less than 10 minutes"
                    if isinstance(seconds, int) and seconds < MIN_SECONDS
                    else f"Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds",
                )
            ],
        )
    audiences = [a for a in spec.get("audiences") or [] if isinstance(a, str)] or [tokens.ISSUER]
    bound = _bound_object(store, namespace, spec.get("boundObjectRef"), name)
    claims = tokens.account_claims(namespace, name, sa["metadata"]["uid"], audiences, now, seconds, bound)
    token = tokens.sign(sa_key, claims)  # step 3
    spec.update(audiences=audiences, expirationSeconds=seconds, boundObjectRef=spec.get("boundObjectRef"))
    return {  # step 4
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": rfc3339(now + seconds)},
    }


def _bound_object(store, namespace: str, ref, sa_name: str) -> dict | None:
    """The claim for the object a token is bound to (step 2), or None."""
    if not ref:
        return None
    kind, obj_name = ref.get("kind"), ref.get("name") or ""
    if kind not in BOUND_KINDS:
        raise invalid(
            "TokenRequest",
            sa_name,
            [
                (
                    "FieldValueNotSupported",
                    "spec.boundObjectRef.kind",
                    f'Unsupported value: "{kind}": supported values: "Pod", "Secret"',
                )
            ],
        )
    res = builtin("", "v1", BOUND_KINDS[kind])
    if not store.exists(res, namespace, obj_name):
        raise ApiError(
            404, "NotFound", f'{res.plural} "{obj_name}" not found', {"name": obj_name, "kind": res.plural}
        )
    uid = store.get(res, namespace, obj_name)["metadata"]["uid"]
    if ref.get("uid") and ref["uid"] != uid:
        raise ApiError(
            409,
            "Conflict",
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in record. The object might have been deleted and then recreated",
        )
    return {kind.lower(): {"name": obj_name, "uid": uid}}
