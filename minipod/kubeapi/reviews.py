"""`kubectl auth can-i`: SelfSubjectAccessReview and SelfSubjectRulesReview,
answered by auth.allowed() (the admin may do everything, a ServiceAccount
may read).

kubectl sends these reviews as protobuf (application/vnd.kubernetes.protobuf,
accepting JSON back): from_protobuf() reads the few fields a review has,
with a minimal reader of protobuf's wire format.
"""

from aiohttp import web

from minipod.kubeapi import auth
from minipod.kubeapi.rest import read_body
from minipod.objects.errors import bad_request

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"  # the prefix of every Kubernetes protobuf body


def _fields(data: bytes) -> dict[int, list]:
    """{field number: [values]}: varints as ints, length-delimited as bytes."""
    out: dict[int, list] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire == 2:
            size = varint()
            value, i = data[i : i + size], i + size
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _text(fields: dict, number: int) -> str:
    return fields.get(number, [b""])[0].decode()


def from_protobuf(body: bytes) -> dict:
    """A SelfSubjectAccessReview's spec from its protobuf form."""
    if not body.startswith(MAGIC):
        raise ValueError("no k8s protobuf prefix")
    unknown = _fields(body[len(MAGIC) :])
    review = _fields(unknown.get(2, [b""])[0])
    spec = _fields(review.get(2, [b""])[0])
    out: dict = {}
    if 1 in spec:
        ra = _fields(spec[1][0])
        names = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
        out["resourceAttributes"] = {n: _text(ra, i + 1) for i, n in enumerate(names) if i + 1 in ra}
    if 2 in spec:
        nra = _fields(spec[2][0])
        out["nonResourceAttributes"] = {"path": _text(nra, 1), "verb": _text(nra, 2)}
    return {"spec": out}


async def review_body(request) -> dict:
    if request.content_type == PROTOBUF:
        try:
            return from_protobuf(await request.read())
        except (ValueError, IndexError, UnicodeDecodeError) as e:
            raise bad_request(f"the protobuf body could not be decoded: {e}") from None
    return await read_body(request)


async def self_subject_access_review(request):
    body = await review_body(request)
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
    body = await review_body(request)
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
