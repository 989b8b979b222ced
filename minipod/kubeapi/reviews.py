"""`kubectl auth can-i`: SelfSubjectAccessReview and SelfSubjectRulesReview,
answered by auth.allowed() (the admin may do everything, a ServiceAccount
may read); `kubectl auth whoami`: SelfSubjectReview, who the API took the
caller for (after impersonation).
(kubectl sends them as protobuf: rest.read_body() reads that too.)
"""

from aiohttp import web

from minipod.kubeapi import auth
from minipod.kubeapi.rest import read_body


async def self_subject_access_review(request):
    body = await read_body(request)
    user: auth.User = request["user"]
    spec = body.get("spec") or {}
    attrs = spec.get("resourceAttributes") or spec.get("nonResourceAttributes") or {}
    verb = attrs.get("verb", "")
    allowed = auth.allowed(user, verb)
    status = {"allowed": allowed}
    if allowed:
        status["reason"] = (
            "minipod: the admin may do everything" if user.admin else "minipod: ServiceAccounts may read"
        )
    body.update(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectAccessReview", status=status)
    body.setdefault("metadata", {})
    return web.json_response(body, status=201)


async def self_subject_rules_review(request):
    body = await read_body(request)
    user: auth.User = request["user"]
    verbs = ["*"] if user.admin else list(auth.READ_VERBS)
    body.update(
        apiVersion="authorization.k8s.io/v1",
        kind="SelfSubjectRulesReview",
        status={
            "resourceRules": [{"verbs": verbs, "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"] if user.admin else ["get"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        },
    )
    body.setdefault("metadata", {})
    return web.json_response(body, status=201)


async def self_subject_review(request):
    """The request's body says nothing (kubectl sends an empty review, in
    protobuf): the answer is the user this request was authenticated as."""
    user: auth.User = request["user"]
    info: dict = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": info},
    }
    return web.json_response(body, status=201)
