"""API handlers that stream: container logs and events.

Logs: every container instance writes its stdout and stderr straight into
its own file (LOGS/CONTAINER/RESTARTCOUNT.log), opened before exec, so logs
survive a daemon restart and `--previous` is simply the file before. With
`follow=true` the handler keeps sending what is appended until the
container stops or the client goes away.
"""

import asyncio
import json

from aiohttp import web

POLL = 0.1  # seconds between looks at a followed log file


def _flag(request, name: str) -> bool:
    return request.query.get(name, "false").lower() in ("true", "1", "yes")


async def pod_log(request):
    manager = request.app["manager"]
    ns, name = request.match_info["ns"], request.match_info["name"]
    path, c = manager.log_path(ns, name, request.query.get("container"), _flag(request, "previous"))
    follow = _flag(request, "follow") and not _flag(request, "previous")
    tail = int(request.query.get("tailLines", "-1"))
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await resp.prepare(request)
    try:
        with open(path, "rb") as f:
            data = f.read()
            if tail >= 0:
                data = b"".join(data.splitlines(keepends=True)[-tail:]) if tail else b""
            await resp.write(data)
            while follow:
                chunk = f.read(65536)
                if chunk:
                    await resp.write(chunk)
                    continue
                if c["state"] not in ("running", "starting") or c.get("logPath") != path:
                    break
                await asyncio.sleep(POLL)
    except FileNotFoundError:
        pass
    except (ConnectionResetError, asyncio.CancelledError):
        return resp
    await resp.write_eof()
    return resp


async def events(request):
    """GET events; ?fieldSelector=involvedObject.name=X; ?watch=true streams
    one JSON object per line as they happen."""
    recorder = request.app["manager"].events
    ns = request.match_info.get("ns")
    want = {}
    for term in filter(None, request.query.get("fieldSelector", "").split(",")):
        k, _, v = term.partition("=")
        want[k] = v

    def match(ev: dict) -> bool:
        obj = ev["involvedObject"]
        return (ns is None or obj["namespace"] == ns) and all(
            obj.get(k.split(".", 1)[1]) == v for k, v in want.items() if k.startswith("involvedObject.")
        )

    items = [e for e in recorder.events if match(e)]
    if not _flag(request, "watch"):
        return web.json_response({"kind": "EventList", "apiVersion": "v1", "items": items})
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    q = recorder.watch()
    try:
        for ev in items:
            await resp.write((json.dumps(ev) + "\n").encode())
        while True:
            ev = await q.get()
            if match(ev):
                await resp.write((json.dumps(ev) + "\n").encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        recorder.unwatch(q)
    return resp
