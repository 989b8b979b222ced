"""Watches: a stream of JSON lines {"type": ..., "object": ...}.

Steps of watch(), in order:
    1. subscribe to the store's changes after `resourceVersion` (absent
       or "0": first send every current object as ADDED, as the API
       server does); too old a resourceVersion ends the stream with an
       ERROR event carrying a 410 Expired Status, which clients answer
       by listing again;
    2. send each change as it comes (as a one-row Table when kubectl asks
       for tables), and a BOOKMARK every BOOKMARK_EVERY seconds when the
       client allows them;
    3. stop at timeoutSeconds, when the client goes away, or when the
       daemon stops.
"""

import asyncio
import json

from aiohttp import web

from minipod.api.status import query_int
from minipod.kubeapi import tables
from minipod.objects.errors import ApiError
from minipod.objects.events import to_events_v1

BOOKMARK_EVERY = 10.0
LOOK_EVERY = 1.0  # seconds between looks at whether the client is still there
DEFAULT_TIMEOUT = 1800


def _line(kind: str, obj: dict) -> bytes:
    return (json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n").encode()


async def watch(request, t) -> web.StreamResponse:
    store = request.app["cluster"].store
    q = request.query
    timeout = query_int(request, "timeoutSeconds", minimum=0) or DEFAULT_TIMEOUT
    rv = q.get("resourceVersion", "")
    if rv and not rv.isdigit():
        raise ApiError(400, "BadRequest", f'resourceVersion: Invalid value: "{rv}": must be an integer')
    initial: list[dict] = []
    try:
        if rv in ("", "0"):
            initial, start = store.list(t.res, t.namespace, q.get("labelSelector"), q.get("fieldSelector"))
            since = int(start)
        else:
            since = int(rv)
        watcher = store.watch(t.res, t.namespace, q.get("labelSelector"), q.get("fieldSelector"), since)
        gone = None
    except ApiError as e:
        if e.code != 410:
            raise
        watcher, gone = None, e
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include = q.get("includeObject", "Metadata")

    def shape(obj: dict) -> dict:
        if t.res.group == "events.k8s.io":
            obj = to_events_v1(obj)
        if as_table:
            return tables.table(t.res, [obj], obj["metadata"]["resourceVersion"], include)
        return obj

    resp = web.StreamResponse(headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    await resp.prepare(request)
    if gone is not None:
        await resp.write(_line("ERROR", gone.status_dict()))
        return resp
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    try:
        for obj in initial:
            await resp.write(_line("ADDED", shape(obj)))
        last_rv = since
        next_bookmark = loop.time() + BOOKMARK_EVERY
        while True:
            left = deadline - loop.time()
            if left <= 0:
                break
            if request.transport is None or request.transport.is_closing():
                break  # the client went away: aiohttp does not cancel us, so look
            try:
                ch = await asyncio.wait_for(watcher.queue.get(), min(left, LOOK_EVERY))
            except asyncio.TimeoutError:
                if bookmarks and loop.time() >= next_bookmark:
                    next_bookmark = loop.time() + BOOKMARK_EVERY
                    mark = {"kind": t.res.kind, "apiVersion": t.res.api_version}
                    mark["metadata"] = {"resourceVersion": str(max(last_rv, store.rev.current))}
                    await resp.write(_line("BOOKMARK", mark))
                continue
            if ch is None:
                break  # the store closed this watcher: it fell too far behind
            last_rv = ch.rv
            await resp.write(_line(ch.type, shape(ch.obj)))
    except ConnectionResetError:
        pass
    finally:
        store.hub.close(watcher)
    return resp
