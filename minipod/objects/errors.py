"""API errors, each one a v1 Status with the reason kubectl expects.

kubectl prints `Error from server (REASON): MESSAGE` from these fields, so
the messages follow the API server's wording:
    pods "web" not found
    pods "web" already exists
    Operation cannot be fulfilled on pods "web": the object has been modified; ...
"""

from minipod.api.status import StatusError


class ApiError(StatusError):
    """An error the API answers with a Status object and an HTTP code
    (minipod/api/status.py turns it into the response)."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(code, message, reason, details)

    def status_dict(self) -> dict:
        """The v1 Status of this error (a watch's ERROR event carries one)."""
        from minipod.api.status import status_body

        return status_body(self.code, self.reason, self.message, self.details)


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', {"name": name, "kind": plural})


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409, "AlreadyExists", f'{qualified} "{name}" already exists', {"name": name, "kind": plural}
    )


def conflict(plural: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {plural} "{name}": {why}',
        {"name": name, "kind": plural},
    )


def invalid(kind: str, name: str, causes: list[tuple[str, str, str]], group: str = "") -> ApiError:
    """causes: (reason, field, message), e.g.
    ("FieldValueRequired", "metadata.name", "Required value"). A kind of a
    named group is named as the API server names it: Kind.group."""
    text = "; ".join(f"{f}: {m}" if f else m for _, f, m in causes)
    details: dict = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return ApiError(
        422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {text}', details
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
