"""Who is asking, and may they?

Authentication, as the API server does it, in order:
    1. a client certificate signed by the instance's CA (the TLS layer has
       checked it): the user is its CN, the groups its O fields; a
       certificate from another CA never gets past the TLS handshake;
    2. `Authorization: Bearer TOKEN`: a ServiceAccount token (tokens.py)
       whose pod still exists;
    3. anything else: 401 Unauthorized.
Authorization: minipod has no RBAC. The admin (group system:masters)
may do everything; a ServiceAccount may read (get, list, watch) and
nothing else: no create, update, patch, delete, exec, attach or
port-forward.
"""

from aiohttp import web

from minipod.api.status import StatusError, status_response
from minipod.kubeapi import tokens

READ_VERBS = ("get", "list", "watch")


class User:
    def __init__(self, name: str, groups: list[str], uid: str = ""):
        self.name, self.groups, self.uid = name, groups, uid

    @property
    def admin(self) -> bool:
        return "system:masters" in self.groups


def from_certificate(peercert: dict | None) -> User | None:
    if not peercert:
        return None
    name, groups = "", []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    return User(name, [*groups, "system:authenticated"]) if name else None


def from_token(request, token: str) -> User | None:
    cluster = request.app["cluster"]
    claims = tokens.decode(request.app["sa_key"], token)
    if claims is None:
        return None
    k8s = claims.get("kubernetes.io") or {}
    ns, pod = k8s.get("namespace"), (k8s.get("pod") or {})
    store = cluster.store
    from minipod.objects.resources import builtin

    pods = builtin("", "v1", "pods")
    if not store.exists(pods, ns, pod.get("name", "")):
        return None
    if store.get(pods, ns, pod["name"])["metadata"].get("uid") != pod.get("uid"):
        return None  # a new pod of the same name: not the one the token was for
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    return User(claims["sub"], groups)


@web.middleware
async def authenticate(request, handler):
    user = from_certificate(request.transport.get_extra_info("peercert") if request.transport else None)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if user is None and scheme.lower() == "bearer" and token.strip():  # the scheme is case-insensitive
        user = from_token(request, token.strip())
    if user is None:
        return status_response(401, "Unauthorized", "Unauthorized")
    request["user"] = user
    return await handler(request)


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
