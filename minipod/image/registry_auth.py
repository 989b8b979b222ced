"""Authentication for the registry client (registry.py), and the words of
its errors: a 401's challenge answered (Docker's token spec,
docs/spec/auth/token.md), and what a failed request says.

Authentication, on a 401 (authenticate(), called by registry.py's request
once per endpoint, under the registry's lock):

    WWW-Authenticate: Bearer realm="R",service="S",scope="repository:N:pull"
        -> GET R?service=S&scope=... with Basic credentials if we have some
           (Docker Hub, GHCR and Quay give anonymous tokens for public images),
           or POST R with grant_type=refresh_token for an identity token
           (docs/spec/auth/oauth.md) -> {"token" or "access_token": T}
        -> retry with Authorization: Bearer T
    WWW-Authenticate: Basic realm="R" -> retry with Basic credentials
    A second 401 -> RegistryError with the registry's own message.

A token server that fails raises _EndpointFailed: registry.py then tries
the next endpoint. Messages: parse_challenges (WWW-Authenticate headers),
error_message (the registry's own words), describe_transport_error (a
connection that failed).

Credentials and registries.json: registry_config.py.
"""

import base64
import json
import socket
import ssl
import urllib.parse
from typing import TYPE_CHECKING

import httpx

from minipod.image.layers import MAX_JSON
from minipod.image.registry_config import Endpoint, is_loopback

if TYPE_CHECKING:
    from minipod.image.registry import Registry

USER_AGENT = "minipod"


class _EndpointFailed(Exception):
    """One endpoint could not serve a request (e.g. its token server said
    no): the next endpoint is tried; the message joins the final error."""


# ---------------------------------------------------------------- auth


def authenticate(registry: "Registry", endpoint: Endpoint, resp: httpx.Response, step: str) -> bool:
    """Answer a 401's challenge: set endpoint.auth; False if we cannot."""
    challenges = parse_challenges(resp.headers.get_list("www-authenticate"))
    secret = registry.credentials.lookup(endpoint.netloc, registry.name)
    if "bearer" in challenges and challenges["bearer"].get("realm"):
        endpoint.auth = "Bearer " + _token(registry, challenges["bearer"], secret, step)
        return True
    if "basic" in challenges and secret and "username" in secret:
        raw = f"{secret['username']}:{secret['password']}".encode()
        endpoint.auth = "Basic " + base64.b64encode(raw).decode()
        return True
    return False


def _token(registry: "Registry", challenge: dict, secret: dict | None, step: str) -> str:
    """A Bearer token from the challenge's realm (token.md, oauth.md)."""
    realm = challenge["realm"]
    scope = challenge.get("scope") or f"repository:{registry.name}:pull"
    params = {"scope": scope, **({"service": challenge["service"]} if challenge.get("service") else {})}
    what = f"getting a token from {realm}"
    try:
        netloc = urllib.parse.urlsplit(realm).netloc.lower()
        client = registry.client(netloc, not (netloc in registry.config.insecure or is_loopback(netloc)))
        if secret and "identitytoken" in secret:
            resp = client.post(
                realm,
                data=dict(
                    params,
                    grant_type="refresh_token",
                    client_id=USER_AGENT,
                    refresh_token=secret["identitytoken"],
                ),
            )
        else:
            auth = (secret["username"], secret["password"]) if secret else None
            resp = client.get(realm, params=params, auth=auth)
    except httpx.HTTPError as e:
        raise _EndpointFailed(f"{what}: {describe_transport_error(e)}") from None
    if resp.status_code != 200:
        raise _EndpointFailed(f"{what}: {error_message(resp)}")
    try:
        doc = resp.json()
        token = doc.get("token") or doc.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise _EndpointFailed(f"{what}: the answer holds no token")
    return token


# ---------------------------------------------------------------- messages


def parse_challenges(values: list[str]) -> dict[str, dict]:
    """WWW-Authenticate values (RFC 7235) -> {"bearer": {"realm": ...}, ...}."""
    found: dict[str, dict] = {}
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        params, i = {}, 0
        while i < len(rest):
            eq = rest.find("=", i)
            if eq < 0:
                break
            key = rest[i:eq].strip(" ,").lower()
            if rest[eq + 1 : eq + 2] == '"':
                end = eq + 2
                while end < len(rest) and rest[end] != '"':
                    end += 2 if rest[end] == "\\" else 1
                params[key] = rest[eq + 2 : end].replace('\\"', '"')
                i = end + 1
            else:
                end = rest.find(",", eq)
                end = len(rest) if end < 0 else end
                params[key] = rest[eq + 1 : end].strip()
                i = end + 1
        found[scheme.lower()] = params
    return found


def error_message(resp: httpx.Response) -> str:
    """The registry's own words: errors[].message of the body (spec.md,
    "Error Codes"), as Docker prints them: "unauthorized: authentication
    required"; or a token server's "details"; or the HTTP status."""
    try:
        body = resp.read()[:MAX_JSON]
        doc = json.loads(body) if body else None
    except (ValueError, httpx.HTTPError):
        doc = None
    texts = []
    if isinstance(doc, dict):
        for err in doc.get("errors") or []:
            if isinstance(err, dict):
                code = str(err.get("code") or "").lower().replace("_", " ")
                message = str(err.get("message") or "")
                texts.append(
                    f"{code}: {message}" if code and message and message.lower() != code else code or message
                )
        for key in ("details", "message", "error_description", "error"):
            if not texts and isinstance(doc.get(key), str):
                texts.append(doc[key])
    return "; ".join(t for t in texts if t) or f"HTTP {resp.status_code} {resp.reason_phrase}"


def describe_transport_error(e: Exception) -> str:
    """A human line for a connection that failed: refused, no such host..."""
    if isinstance(e, httpx.TimeoutException):
        return "timed out"
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve the host name ({seen.strerror})"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({seen.verify_message})"
        if isinstance(seen, ssl.SSLError):
            return f"TLS error ({seen.reason or seen})"
        seen = seen.__cause__ or seen.__context__
    text = str(e)
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return f"cannot resolve the host name ({text.split('] ')[-1]})"
    if "Connection refused" in text:
        return "connection refused"
    return text or type(e).__name__
