"""Errors as the Kubernetes API answers them: a v1 Status with a 4xx code.

Every error the API gives is a Status object, the shape kubectl and client
libraries parse:

    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
     "message": "...", "reason": "BadRequest", "code": 400}

What this module offers, in the order a request meets it:
    1. request parsers for handlers: query_int(), query_float(), query_required(),
       body_text(), body_json(); bad input raises StatusError(400) naming
       the parameter, before anything is done;
    2. errors_middleware: turns what a handler raised into a Status:
       StatusError as it says, NotFound 404, ManifestError 422 Invalid,
       another MinipodError 400 (or its own `code`), aiohttp's own errors
       (unknown path 404, body too large 413, ...) with their code;
    3. anything else is a bug: its traceback goes to the daemon's log under
       a short id, and the client gets a 500 naming that id, never the
       traceback or the exception's text.

Used by every API server of the daemon, so it depends on aiohttp and
minipod.errors only.
"""

import json
import traceback
import uuid

from aiohttp import web

from minipod.errors import ManifestError, MinipodError, NotFound

# Reasons of apimachinery's metav1.StatusReason, by HTTP code.
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class StatusError(Exception):
    """A client error a handler found: becomes a Status with this code."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """A v1 Status object, the API's error shape."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def status_response(code: int, message: str, reason: str | None = None, details=None) -> web.Response:
    return web.json_response(
        status_body(code, reason or REASONS.get(code, "Unknown"), message, details), status=code
    )


# --- 1. request parsers: bad input is refused before anything is done --------------


def query_int(request, name: str, default: int | None = None, minimum: int | None = None) -> int | None:
    """An integer query parameter, e.g. ?tailLines=10; absent or empty: default."""
    return _query_number(request, name, default, minimum, int, "an integer")


def query_float(request, name: str, default: float | None = None, minimum: float | None = None):
    """A number query parameter, e.g. ?timeout=2.5; absent or empty: default."""
    return _query_number(request, name, default, minimum, float, "a number")


def _query_number(request, name: str, default, minimum, kind, what: str):
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(raw)  # nan and inf are not numbers a client means
    except ValueError:
        raise StatusError(
            400, f"invalid value {json.dumps(raw)} for query parameter {name}: must be {what}"
        ) from None
    if minimum is not None and value < minimum:
        raise StatusError(
            400,
            f"invalid value {raw} for query parameter {name}: must be greater than or equal to {minimum}",
        )
    return value


def query_required(request, name: str) -> str:
    """A query parameter that must be present and not empty, e.g. ?ref=busybox."""
    value = request.query.get(name, "")
    if not value:
        raise StatusError(400, f"query parameter {name} is required")
    return value


async def body_text(request) -> str:
    """The request body as text; it must be UTF-8, as YAML and JSON are."""
    data = await request.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StatusError(
            400, f"the request body is not valid UTF-8 (byte {e.start}): YAML and JSON must be UTF-8"
        ) from None


async def body_json(request, *required: str) -> dict:
    """A JSON object body with these string fields present."""
    text = await body_text(request)
    try:
        body = json.loads(text)
    except ValueError as e:
        raise StatusError(400, f"the request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise StatusError(400, "the request body must be a JSON object")
    for field in required:
        if not isinstance(body.get(field), str) or not body[field]:
            raise StatusError(400, f"{field}: required value: a non-empty string")
    return body


# --- 2 and 3. the middleware ---------------------------------------------------------


@web.middleware
async def errors_middleware(request, handler):
    try:
        return await handler(request)
    except StatusError as e:
        return status_response(e.code, e.message, e.reason, e.details)
    except web.HTTPException as e:
        if e.status < 400:
            raise  # a redirect or a success: not an error
        # aiohttp's own: unknown path, wrong method, a body over the limit.
        return status_response(e.status, e.text or e.reason)
    except NotFound as e:
        return status_response(404, str(e))
    except ManifestError as e:
        causes = {"causes": [{"message": m} for m in e.errors]}
        return status_response(422, str(e), "Invalid", dict(causes, hint=e.hint) if e.hint else causes)
    except MinipodError as e:
        code = getattr(e, "code", 400)
        return status_response(code, str(e), None, {"hint": e.hint} if e.hint else None)
    except Exception:  # noqa: BLE001 - a bug: log it whole, tell the client only where to look
        incident = uuid.uuid4().hex[:8]
        log = request.app.get("log", print)
        log(f"internal error {incident} on {request.method} {request.path}:\n{traceback.format_exc()}")
        return status_response(
            500, f"Internal error occurred: the daemon's log has the details (look for {incident})"
        )
