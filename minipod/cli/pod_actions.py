"""What `minipod run`, `apply`, `delete pod` and `logs` do, without click:
the click commands (pod_commands.py) and the fast path (fast_path.py) both
call these, so the two ways in act and print the same.

    apply_manifest()  the manifest as it is (the daemon parses YAML), one POST
    delete_pods()     ask the daemon to delete every pod, then wait for all
    stream_logs()     a container's log, copied to stdout as it arrives
"""

import sys

from minipod.cli import pod_listing
from minipod.cli.client import ApiError, Client, pod_path
from minipod.errors import NotFound


def apply_manifest(
    client: Client,
    path: str,
    namespace: str,
    explicit_namespace: bool,
    query: dict,
    trace: tuple[str, str] | None = None,
) -> dict:
    """POST the manifest at `path` (- for stdin) to the apply endpoint;
    its result, after printing the server's warnings."""
    query = pod_listing.apply_query(namespace, explicit_namespace, query)
    manifest = pod_listing.read_manifest(path)
    if trace:
        result = traced(
            client, "POST", "/minipod/v1/apply", manifest.encode(), query, trace, "application/yaml"
        )
    else:
        result = client.json(
            "POST", "/minipod/v1/apply", manifest, query=query, content_type="application/yaml"
        )
    pod_listing.print_warnings(result)
    return result


def print_applied(result: dict) -> None:
    """`minipod apply`'s output: kind/name and what happened, one a line."""
    for i in result["items"]:
        print(f"{pod_listing.what(i)} {i['action']}")


def traced(
    client: Client, method: str, path: str, body, query: dict, trace: tuple[str, str], content_type: str
) -> dict:
    """A request with ?trace=true: its steps printed to the trace file as
    they happen (trace_printer.py); returns its result."""
    from minipod.cli.trace_printer import TracePrinter, follow, open_output

    out = open_output(trace[0])
    printer = TracePrinter(out, trace[1])
    try:
        resp = client.request(method, path, body, {**query, "trace": "true"}, content_type)
        end = follow(resp, printer)
    finally:
        printer.close()
        if out is not sys.stdout:
            out.close()
    if "error" in end:
        if end["error"].get("code") == 404:
            raise NotFound(end["error"].get("message", "not found"))
        raise ApiError(end["error"].get("code", 500), end["error"])
    return end["result"]


def delete_pods(
    client: Client,
    targets: list[tuple[str, str, str]],
    grace_period: int | None,
    ignore_not_found: bool,
    wait: bool,
    trace: tuple[str, str] | None = None,
) -> bool:
    """DELETE each (namespace, name, kind) pod; False if one was not found.

    As kubectl: first ask the daemon to delete every pod (it records the
    deletion at once and carries them out concurrently, also if this
    command dies), then wait for all of them together."""
    grace = {"gracePeriodSeconds": None if grace_period is None else str(grace_period)}
    ok, pending = True, []
    for ns, name, kind in targets:
        try:
            if trace:
                # Traced: one pod at a time, each to its end (the steps of
                # several at once would interleave).
                traced(client, "DELETE", pod_path(ns, name), None, grace, trace, "")
            else:
                pod = client.json("DELETE", pod_path(ns, name), query={**grace, "wait": "false"})
                pending.append((ns, name, pod["metadata"].get("uid")))
            print(f'{kind.lower()} "{name}" deleted', flush=True)
        except NotFound as e:
            if not ignore_not_found:
                print(f"Error from server (NotFound): {e}", file=sys.stderr, flush=True)
                ok = False
    if wait:
        wait_gone(client, pending)
    return ok


def wait_gone(client: Client, pods: list[tuple[str, str, str]], poll: float = 0.05) -> None:
    """Wait until none of these pods (namespace, name, uid) exists any more."""
    import time

    while pods:
        time.sleep(poll)
        left = []
        for ns, name, uid in pods:
            try:
                if client.json("GET", pod_path(ns, name))["metadata"].get("uid") == uid:
                    left.append((ns, name, uid))
            except NotFound:
                pass
        pods = left
        poll = min(poll * 2, 0.5)


def logs_query(
    container: str | None,
    follow: bool,
    previous: bool,
    tail: int = -1,
    limit_bytes: int = 0,
    since_seconds: int | None = None,
    since_time: str | None = None,
    timestamps: bool = False,
) -> dict:
    """(pure) The log request's query, as kubectl sends it."""
    return {
        "container": container,
        "follow": str(follow).lower(),
        "previous": str(previous).lower(),
        "tailLines": str(tail) if tail >= 0 else None,
        "limitBytes": str(limit_bytes) if limit_bytes > 0 else None,
        "sinceSeconds": str(since_seconds) if since_seconds else None,
        "sinceTime": since_time,
        "timestamps": "true" if timestamps else None,
    }


def stream_logs(client: Client, namespace: str, pod: str, query: dict) -> None:
    """Copy the log to stdout as it arrives, until its end (or Ctrl-C with -f)."""
    resp = client.request("GET", pod_path(namespace, pod) + "/log", query=query)
    out = sys.stdout.buffer
    try:
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        pass
