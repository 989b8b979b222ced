"""The Status machinery every API server of the daemon uses (minipod.api.status):
client errors are 4xx Statuses; a bug is a 500 whose traceback goes to the
log and never to the client. Pure: an in-process aiohttp server, no root."""

import asyncio
import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from minipod.api.status import StatusError, body_json, errors_middleware, query_int
from minipod.errors import ManifestError, MinipodError, NotFound


async def _call(handler, method="GET", path="/x", **kw):
    logged: list[str] = []
    app = web.Application(middlewares=[errors_middleware], client_max_size=1024)
    app["log"] = logged.append
    app.router.add_route("*", "/x", handler)
    async with TestClient(TestServer(app)) as client:
        resp = await client.request(method, path, **kw)
        return resp.status, json.loads(await resp.text()), logged


def call(handler, method="GET", path="/x", **kw):
    return asyncio.run(_call(handler, method, path, **kw))


def test_a_bug_is_a_500_logged_with_its_traceback_and_not_shown():
    async def broken(request):
        raise RuntimeError("secret internal detail")

    code, body, logged = call(broken)
    assert code == 500 and body["reason"] == "InternalError" and body["kind"] == "Status"
    assert "secret internal detail" not in body["message"] and "Traceback" not in body["message"]
    assert len(logged) == 1
    assert "Traceback (most recent call last)" in logged[0] and "secret internal detail" in logged[0]
    incident = body["message"].rsplit(" ", 1)[1].rstrip(")")
    assert incident in logged[0]


def test_query_parameters_are_checked_and_named():
    async def handler(request):
        return web.json_response({"n": query_int(request, "tailLines", minimum=0)})

    assert call(handler, path="/x?tailLines=5")[:2] == (200, {"n": 5})
    code, body, _ = call(handler, path="/x?tailLines=ten")
    assert (code, body["reason"], body["code"]) == (400, "BadRequest", 400)
    assert body["message"] == 'invalid value "ten" for query parameter tailLines: must be an integer'


def test_json_bodies_are_checked():
    async def handler(request):
        return web.json_response(await body_json(request, "path"))

    assert call(handler, "POST", data=b'{"path": "/a"}')[0] == 200
    for data, says in [(b"\xff", "UTF-8"), (b"{", "JSON"), (b"1", "JSON object"), (b'{"path": 3}', "path")]:
        code, body, _ = call(handler, "POST", data=data)
        assert code == 400 and says in body["message"], body


def test_errors_map_to_kubernetes_codes_and_reasons():
    cases = [
        (NotFound('pods "x" not found'), 404, "NotFound"),
        (ManifestError(["spec: required value"]), 422, "Invalid"),
        (MinipodError("bad", hint="do this"), 400, "BadRequest"),
        (StatusError(409, "taken"), 409, "Conflict"),
    ]
    for error, code, reason in cases:

        async def handler(request, error=error):
            raise error

        got, body, logged = call(handler)
        assert (got, body["code"], body["reason"]) == (code, code, reason)
        assert not logged


def test_aiohttp_errors_become_statuses():
    async def handler(request):
        await request.read()
        return web.json_response({})

    code, body, _ = call(handler, "POST", data=b"x" * 4096)  # over client_max_size
    assert (code, body["reason"]) == (413, "RequestEntityTooLarge")
