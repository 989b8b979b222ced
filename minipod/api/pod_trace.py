"""Traced requests (`minipod run --trace`, `delete --trace`): the steps of
each pod, streamed to the client as they happen (minipod/trace.py).

Steps of a traced request, in order:
    1. begin(): a sink in RUN/traces/, current in the request's context,
       before any pod is created or deleted (so the pods' workers take it);
    2. the handler does what it does untraced (create, or mark deleted);
    3. stream(): answer with a stream of JSON lines, one {"span": {...}}
       per step as the sink grows, while the rest of the request (the wait
       for Running, or for the pod to be gone) goes on; then one
       {"result": ...} or {"error": Status};
    4. the sink is closed, whatever happened (a client that went away
       too): later steps of these pods are not traced.
"""

import asyncio
import dataclasses
import json
import os
import time
import uuid
from collections.abc import Awaitable

from aiohttp import web

from minipod import trace
from minipod.api.status import REASONS, StatusError
from minipod.errors import MinipodError, NotFound

# How often the stream looks at the sink while the request goes on.
POLL = 0.02


def wanted(request: web.Request) -> bool:
    value = request.query.get("trace", "")
    if value not in ("", "true", "false"):
        raise StatusError(400, f'invalid value "{value}" for query parameter trace: must be true or false')
    return value == "true"


def begin(request: web.Request) -> trace.TraceSink:
    """Step 1."""
    run_dir = request.app["manager"].inst.run
    return trace.open_sink(os.path.join(run_dir, "traces", f"{uuid.uuid4().hex}.trace"))


async def stream(request: web.Request, sink: trace.TraceSink, work: Awaitable[dict]) -> web.StreamResponse:
    """Steps 3 and 4."""
    task = asyncio.ensure_future(work)
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        with open(sink.path, "rb") as f:
            rest = b""
            while True:
                finished = task.done()
                rest += f.read()
                *lines, rest = rest.split(b"\n")
                for line in lines:
                    span = trace.parse_line(line.decode(errors="replace"))
                    if span is not None:
                        await resp.write(_json({"span": dataclasses.asdict(span)}))
                if finished:
                    break
                await asyncio.wait({task}, timeout=POLL)
        await resp.write(_json(_end(task)))
        await resp.write_eof()
        return resp
    finally:
        sink.close()
        if not task.done():
            task.cancel()


def _end(task: asyncio.Future) -> dict:
    try:
        return {"result": task.result()}
    except NotFound as e:
        return {"error": _status(404, str(e))}
    except MinipodError as e:
        return {"error": _status(getattr(e, "code", 400), str(e))}


def _status(code: int, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, "Unknown"),
        "code": code,
    }


def _json(obj: dict) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def created(sink: trace.TraceSink, result: dict, began: int) -> list[dict]:
    """A traced `run` or `apply`: each new pod's first step is the request
    that created it (validate, admit, record); returns their metadata."""
    created = [
        i["pod"]["metadata"] for i in result["items"] if i["kind"] == "Pod" and i["action"] == "created"
    ]
    for meta in created:
        trace.PodTrace(sink, f"{meta['namespace']}/{meta['name']}").record(
            "create pod", "the API request: validate, admit, record", began, time.monotonic_ns()
        )
    return created


async def wait_traced(
    sink: trace.TraceSink, created: list[dict], result: dict, wait: Awaitable[dict]
) -> dict:
    """...and its last, the end of the wait for Running (or failed, or
    the timeout)."""
    await wait
    for meta in created:
        outcome, why = result["outcomes"].get(meta["name"], ["pending", ""])
        now = time.monotonic_ns()
        trace.PodTrace(sink, f"{meta['namespace']}/{meta['name']}").record(
            f"pod {outcome}", why, now, now, outcome != "failed"
        )
    return result
