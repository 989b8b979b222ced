"""Issue 11, defect 3: bad input to the API is a 4xx with a v1 Status naming
what is wrong, never a 500; a 500 would be a bug, logged, not shown."""

import json

import pytest
from helpers.api import request, status_of
from helpers.pods import pod_yaml

PODS = "/api/v1/namespaces/default/pods"


@pytest.mark.parametrize(
    "method, path, body, code, says",
    [
        ("POST", "/minipod/v1/apply", b"kind: Pod\nname: \xff\xfe\n", 400, "UTF-8"),
        ("POST", "/minipod/v1/apply", b"kind: List\nitems: [null]\n", 422, "items[0]"),
        ("POST", "/minipod/v1/apply", b"kind: List\nitems: [3, 'x']\n", 422, "items[0]"),
        ("POST", "/minipod/v1/apply", b"kind: List\nitems: 7\n", 422, "items"),
        ("POST", "/minipod/v1/apply?wait=running&timeout=abc", b"kind: Pod\n", 400, "timeout"),
        ("DELETE", PODS + "/x?gracePeriodSeconds=abc", None, 400, "gracePeriodSeconds"),
        ("DELETE", PODS + "/x?gracePeriodSeconds=-5", None, 400, "gracePeriodSeconds"),
        ("GET", PODS + "/x/log?tailLines=abc", None, 400, "tailLines"),
        ("GET", PODS + "/x/log?limitBytes=abc", None, 400, "limitBytes"),
        ("POST", "/minipod/v1/images/import", b"not json", 400, "JSON"),
        ("POST", "/minipod/v1/images/import", b"[1]", 400, "JSON object"),
        ("POST", "/minipod/v1/images/import", b"{}", 400, "path"),
        ("DELETE", "/minipod/v1/images", None, 400, "ref"),
        ("POST", "/minipod/v1/images/pull", b"", 400, "ref"),
        ("GET", "/api/v1/nothing/here", None, 404, "the server could not find the requested resource"),
        ("POST", "/minipod/v1/apply", b"# " + b"x" * (4 << 20), 413, "3145728"),
    ],
)
def test_client_errors_are_4xx_statuses_naming_the_parameter(mp, method, path, body, code, says):
    status, headers, raw = request(mp, method, path, body)
    assert status == code, raw
    assert headers["Content-Type"].startswith("application/json"), headers
    st = status_of(raw)
    assert st["code"] == code and says in st["message"], st


def test_a_bad_query_on_a_real_pod_does_nothing(mp, pod_name):
    """The parameter is checked before the delete starts."""

    mp.apply(pod_yaml(pod_name, "sleep 3600"))
    try:
        status, _, raw = request(mp, "DELETE", f"{PODS}/{pod_name}?gracePeriodSeconds=soon")
        assert status == 400, raw
        assert not mp.pod(pod_name)["metadata"].get("deletionTimestamp")
    finally:
        mp.delete(pod_name)


def test_status_shape_of_a_not_found(mp):
    status, _, raw = request(mp, "GET", PODS + "/no-such-pod")
    assert status == 404
    assert json.loads(raw) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "no-such-pod" not found',
        "reason": "NotFound",
        "code": 404,
    }
