"""API handlers that stream: container logs and events.

Logs: every container instance's stdout and stderr go through its monitor
into its own file (LOGS/CONTAINER/RESTARTCOUNT.log, rotated to .1, .2, ...
past containerLogMaxSize), so logs survive a daemon restart and
`--previous` is simply the file before. `logs` reads the current file, as
kubectl does.

Steps of pod_log(), in order; memory stays bounded whatever the file's size:
    1. check the query (tailLines, limitBytes, sinceSeconds or sinceTime,
       timestamps) before answering anything;
    2. find where to start: the beginning, or for tailLines=N the start of
       the N-th line from the end, found by reading blocks backwards from
       the end (tail_start()), never the whole file; with a since time, not
       before the first line written then (log_times.py: the monitor marks
       when each piece was written);
    3. send the file from there in CHUNK-sized pieces, each write waiting
       for the client to take it (so a slow reader holds one chunk, not the
       file, and the event loop serves other requests between chunks),
       each line after its time with timestamps=true, stopping after
       limitBytes;
    4. with `follow=true`, keep sending what is appended until the
       container stops or the client goes away, across rotations (the
       container's monitor renames a full log to LOG.1 and starts a new
       one: the old file is read to its end, then the new one).
"""

import asyncio
import json
import os
import time

from aiohttp import web

from minipod.api import log_times
from minipod.api.status import StatusError, query_int

POLL = 0.1  # seconds between looks at a followed log file
CHUNK = 64 * 1024  # bytes read and sent at a time


def _flag(request, name: str) -> bool:
    return request.query.get(name, "false").lower() in ("true", "1", "yes")


def tail_start(f, size: int, lines: int, block: int = CHUNK) -> int:
    """The offset where the last `lines` lines of the open file begin.

    Reads blocks backwards from the end, counting newlines, so the cost is
    the size of those lines, not of the file. A final newline ends the last
    line; it does not begin another one."""
    if lines <= 0:
        return size
    end = size
    if size:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            end = size - 1
    found, pos = 0, end
    while pos > 0:
        start = max(0, pos - block)
        f.seek(start)
        buf = f.read(pos - start)
        i = len(buf)
        while (i := buf.rfind(b"\n", 0, i)) >= 0:
            found += 1
            if found == lines:
                return start + i + 1
        pos = start
    return 0


def since_ns(request) -> int | None:
    """sinceSeconds or sinceTime (at most one, as the API server checks) in ns."""
    seconds = query_int(request, "sinceSeconds", minimum=1)
    text = request.query.get("sinceTime")
    if seconds is not None and text:
        raise StatusError(400, "at most one of `sinceTime` or `sinceSeconds` may be specified")
    if seconds is not None:
        return time.time_ns() - seconds * 10**9
    return log_times.parse_since_time(text) if text else None


async def pod_log(request):
    tail = query_int(request, "tailLines", minimum=0)
    limit = query_int(request, "limitBytes", minimum=1)
    since = since_ns(request)
    stamps = _flag(request, "timestamps")
    manager = request.app["manager"]
    ns, name = request.match_info["ns"], request.match_info["name"]
    path, c = manager.log_path(ns, name, request.query.get("container"), _flag(request, "previous"))
    follow = _flag(request, "follow") and not _flag(request, "previous")
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await resp.prepare(request)
    left = limit if limit is not None else float("inf")
    f = marks = None
    try:
        f, marks = open(path, "rb"), log_times.Marks(path)
        size = f.seek(0, 2)
        start = tail_start(f, size, tail) if tail is not None else 0
        if since is not None:
            start = max(start, marks.since_offset(since, size))
        f.seek(start)
        stamper = log_times.Stamper(marks, start) if stamps else None
        rotated = False
        while left > 0:
            chunk = f.read(int(min(CHUNK, left)) if stamper is None else CHUNK)
            if chunk:
                data = stamper.feed(chunk) if stamper is not None else chunk
                data = data[: int(min(len(data), left))]
                left -= len(data)
                await resp.write(data)  # waits for the client: one chunk in memory
                continue
            if rotated:  # the old file is read to its end: go on in the new one
                f.close()
                marks.close()
                f, marks, rotated = open(path, "rb"), log_times.Marks(path), False
                stamper = log_times.Stamper(marks, 0) if stamps else None
                continue
            if not follow or not c.active or c.log_path != path:
                break
            # The monitor rotated the log (PATH is now PATH.1): read what is
            # left of the old file first, as it may have been written to
            # after our last read and before the rename.
            rotated = _replaced(f, path)
            if not rotated:
                await asyncio.sleep(POLL)
    except FileNotFoundError:
        pass
    except (ConnectionResetError, asyncio.CancelledError):
        return resp
    finally:
        if f is not None:
            f.close()
        if marks is not None:
            marks.close()
    await resp.write_eof()
    return resp


def _replaced(f, path: str) -> bool:
    """Is `path` now another file than the open `f` (a rotation)?"""
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False  # between the rename and the new file: look again later


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
