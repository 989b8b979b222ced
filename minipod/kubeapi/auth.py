"""Who is asking, and may they?

Authentication, as the API server does it, in order:
    1. a client certificate (the TLS layer asks for one and takes any):
       signed by the instance's CA and within its validity, the user is its
       CN, the groups its O fields; any other certificate is no credential;
    2. `Authorization: Bearer TOKEN`: a ServiceAccount token (tokens.py)
       whose pod still exists;
    3. anything else: 401 Unauthorized;
    4. impersonation (`kubectl --as USER --as-group GROUP`): the admin may
       act as anyone (Impersonate-User, Impersonate-Group headers), and
       the request is then authorized as that user; anyone else asking is
       403, as the API server answers without an RBAC rule allowing it.
Authorization: minipod has no RBAC. The admin (group system:masters)
may do everything; a ServiceAccount may read (get, list, watch) and
nothing else: no create, update, patch, delete, exec, attach or
port-forward.
"""

import datetime

from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from minipod.api.status import StatusError, status_response
from minipod.kubeapi import tokens
from minipod.objects import audit

READ_VERBS = ("get", "list", "watch")


class User:
    def __init__(self, name: str, groups: list[str], uid: str = ""):
        self.name, self.groups, self.uid = name, groups, uid

    @property
    def admin(self) -> bool:
        return "system:masters" in self.groups


def from_certificate(der: bytes | None, ca: x509.Certificate) -> User | None:
    """The user a client certificate names, if the CA signed it and it is
    valid now (what Go's x509 verification does in the API server)."""
    if not der:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return None
    now = datetime.datetime.now(datetime.timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    groups = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if not names or not names[0].value:
        return None
    return User(str(names[0].value), [*groups, "system:authenticated"])


def peer_certificate(request) -> bytes | None:
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    return ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None


def from_token(request, token: str) -> User | None:
    """Step 2: a token this instance signed, for this API (its audience),
    whose ServiceAccount and bound pod or secret still exist (by uid)."""
    claims = tokens.decode(request.app["sa_key"], token)
    if claims is None or tokens.ISSUER not in (claims.get("aud") or []):
        return None
    k8s = claims.get("kubernetes.io") or {}
    ns = k8s.get("namespace")
    from minipod.objects.resources import builtin

    store = request.app["cluster"].store
    bound = [("pods", k8s.get("pod")), ("secrets", k8s.get("secret"))]
    if not k8s.get("pod"):  # a TokenRequest's token: its ServiceAccount must still be the same
        bound.append(("serviceaccounts", k8s.get("serviceaccount")))
    for plural, ref in bound:
        if ref is None:
            continue
        res = builtin("", "v1", plural)
        name = ref.get("name", "") if isinstance(ref, dict) else ""
        if not store.exists(res, ns, name) or store.get(res, ns, name)["metadata"].get("uid") != ref.get(
            "uid"
        ):
            return None  # deleted, or a new one of the same name: not the one the token was for
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    return User(claims["sub"], groups)


@web.middleware
async def authenticate(request, handler):
    user = from_certificate(peer_certificate(request), request.app["ca_cert"])
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if user is None and scheme.lower() == "bearer" and token.strip():  # the scheme is case-insensitive
        user = from_token(request, token.strip())
    if user is None:
        return status_response(401, "Unauthorized", "Unauthorized")
    as_user, as_groups = (
        request.headers.get("Impersonate-User"),
        request.headers.getall("Impersonate-Group", []),
    )
    if as_user or as_groups:
        user = impersonated(user, as_user, as_groups)  # step 4
    request["user"] = user
    # Who asks, for the audit log (objects/audit.py), while this request is served.
    token = audit.set_requester(
        audit.Requester(
            user.name,
            list(user.groups),
            user.uid,
            request.remote or "",
            request.headers.get("User-Agent", ""),
            request.path_qs,
        )
    )
    try:
        return await handler(request)
    finally:
        audit.reset_requester(token)


def impersonated(user: User, as_user: str | None, as_groups: list[str]) -> User:
    """Step 4: the user the admin acts as, with the groups the API server
    adds (a ServiceAccount's, system:authenticated)."""
    if not as_user:
        raise StatusError(400, f"requested {as_groups} without impersonating a user", "BadRequest")
    if not user.admin:
        raise StatusError(
            403,
            f'users "{as_user}" is forbidden: User "{user.name}" cannot impersonate resource "users"'
            ' in API group "" at the cluster scope',
            "Forbidden",
            {"name": as_user, "kind": "users"},
        )
    groups = list(as_groups)
    parts = as_user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{parts[2]}"]
    if as_user != "system:anonymous" and "system:authenticated" not in groups:
        groups.append("system:authenticated")
    return User(as_user, groups)


def verb_of(request, target) -> str:
    method = request.method
    if target.sub in ("exec", "attach", "portforward"):
        return "create"
    if method == "GET":
        if target.name is None:
            return "watch" if request.query.get("watch") in ("true", "1") else "list"
        return "get"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(
        method, "delete" if target.name else "deletecollection"
    )


def allowed(user: User, verb: str) -> bool:
    return user.admin or verb in READ_VERBS


def authorize(request, target) -> None:
    user: User = request["user"]
    verb = verb_of(request, target)
    if allowed(user, verb):
        return
    res = target.res
    what = f"{res.plural}/{target.sub}" if target.sub else res.plural
    where = f' in the namespace "{target.namespace}"' if target.namespace else ""
    raise StatusError(
        403,
        f'{what} is forbidden: User "{user.name}" cannot {verb} resource "{what}" in API group "{res.group}"{where}',
        "Forbidden",
        {"kind": res.plural},
    )
