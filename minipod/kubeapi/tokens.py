"""ServiceAccount tokens: JSON Web Tokens signed with the instance's key
(ES256), bound to a pod as the kubelet's projected tokens are.

claims_for() makes a pod's claims, account_claims() those of a TokenRequest
(`kubectl create token`); sign() signs them; decode() checks the signature,
the issuer and the expiry. auth.from_token() then checks that what the
token is bound to (its pod or secret, and its ServiceAccount, by uid)
still exists: a token is worthless once they are deleted.
"""

import base64
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

ISSUER = "https://kubernetes.default.svc.cluster.local"
LIFETIME = 3607  # seconds, as the kubelet asks for (an hour and 7 s)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_for(pod: dict, sa_uid: str, now: float) -> dict:
    """A projected token's claims: bound to the pod, for the API."""
    meta = pod["metadata"]
    sa = pod["spec"].get("serviceAccountName") or "default"
    bound = {"pod": {"name": meta["name"], "uid": meta["uid"]}}
    return account_claims(meta["namespace"], sa, sa_uid, [ISSUER], now, LIFETIME, bound)


def account_claims(
    namespace: str, sa: str, sa_uid: str, audiences: list[str], now: float, seconds: int, bound: dict | None
) -> dict:
    """A ServiceAccount token's claims, bound to a pod or secret when
    BOUND is {"pod"|"secret": {"name", "uid"}} (token_request.py)."""
    return {
        "aud": audiences,
        "iss": ISSUER,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + seconds,
        "sub": f"system:serviceaccount:{namespace}:{sa}",
        "kubernetes.io": {
            "namespace": namespace,
            **(bound or {}),
            "serviceaccount": {"name": sa, "uid": sa_uid},
        },
    }


def _ec_key(key_pem: bytes) -> ec.EllipticCurvePrivateKey:
    """The instance's signing key, an EC one (ES256); ValueError if not."""
    key = serialization.load_pem_private_key(key_pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the service account signing key is not an EC key")
    return key


def sign(key_pem: bytes, claims: dict) -> str:
    key = _ec_key(key_pem)
    header = _b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    der = key.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{header}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def decode(key_pem: bytes, token: str, now: float | None = None) -> dict | None:
    """The claims of a token this instance signed and that has not expired; else None."""
    try:
        header, body, sig = token.split(".")
        raw = _unb64(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key = _ec_key(key_pem).public_key()
        key.verify(der, f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(_unb64(body))
    except (ValueError, InvalidSignature, TypeError):
        return None
    now = time.time() if now is None else now
    if not isinstance(claims, dict) or claims.get("exp", 0) < now or claims.get("iss") != ISSUER:
        return None
    return claims
