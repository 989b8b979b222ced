"""The pod verbs of the `minipod` CLI: run, apply, get, describe, logs, exec,
delete, events (get and describe also show the node, through node_commands,
and every other kind the object store serves, through object_commands).

Each is a thin layer over the API, as kubectl's: read the manifest or the
arguments, send the request(s), print the answer as kubectl would; `delete`
asks the daemon to delete every pod first, then waits for all of them.
commands.py registers them on the `minipod` group. No heavy imports here at
module level: the CLI starts in a few tens of ms.
"""

import sys

import click

from minipod.cli import node_commands, pod_listing, printers
from minipod.cli.client import pod_path, quote
from minipod.cli.context import Ctx, namespace_opt, pass_ctx
from minipod.cli.fast_path import OUTPUT_CHOICES
from minipod.errors import MinipodError, NotFound

OUTPUTS = click.Choice(OUTPUT_CHOICES)  # the fast path accepts the same


def _apply(c: Ctx, path: str, namespace: str, query: dict, trace: tuple[str, str] | None = None) -> dict:
    source = click.get_current_context().get_parameter_source("namespace")
    explicit = source in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    query = pod_listing.apply_query(namespace, explicit, query)
    if trace:
        body = pod_listing.read_manifest(path).encode()
        result = _traced(c, "POST", "/minipod/v1/apply", body, query, trace, "application/yaml")
    else:
        manifest = pod_listing.read_manifest(path)
        result = c.client.json(
            "POST", "/minipod/v1/apply", manifest, query=query, content_type="application/yaml"
        )
    pod_listing.print_warnings(result)
    return result


def _traced(
    c: Ctx, method: str, path: str, body, query: dict, trace: tuple[str, str], content_type: str
) -> dict:
    """A request with ?trace=true: its steps printed to the trace file as
    they happen (trace_printer.py); returns its result."""
    from minipod.cli.client import ApiError
    from minipod.cli.trace_printer import TracePrinter, follow, open_output

    out = open_output(trace[0])
    printer = TracePrinter(out, trace[1])
    try:
        resp = c.client.request(method, path, body, {**query, "trace": "true"}, content_type)
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


TRACE_HELP = "Write every kernel-level step of each pod, with its duration, to this file (- for stdout)."
TRACE_FORMAT = click.Choice(["json"])


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the pods.")
@click.option("--trace", "trace_file", metavar="FILE", help=TRACE_HELP)
@click.option("-o", "--output", type=TRACE_FORMAT, help="With --trace: the trace as JSON.")
@namespace_opt
@pass_ctx
def run(c: Ctx, file, timeout, trace_file, output, namespace):
    """Create the pods in FILE and wait until they are Running."""
    trace = (trace_file, output or "text") if trace_file else None
    result = _apply(c, file, namespace, {"wait": "running", "timeout": str(timeout)}, trace)
    sys.exit(pod_listing.print_run(result, timeout))


@click.command()
@click.option("-f", "--filename", "file", required=True, help="The manifest (- for stdin).")
@click.option("--trace", "trace_file", metavar="FILE", help=TRACE_HELP + " Waits for the pods to start.")
@click.option("-o", "--output", type=TRACE_FORMAT, help="With --trace: the trace as JSON.")
@namespace_opt
@pass_ctx
def apply(c: Ctx, file, trace_file, output, namespace):
    """Create or update the objects in a manifest."""
    trace = (trace_file, output or "text") if trace_file else None
    for i in _apply(c, file, namespace, {}, trace)["items"]:
        click.echo(f"{pod_listing.what(i)} {i['action']}")


POD_KINDS = ("pods", "pod", "po")


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@click.option("-l", "--selector", help="Label selector (a=b,c!=d).")
@click.option("-o", "--output", type=OUTPUTS)
@click.option("-A", "--all-namespaces", is_flag=True)
@namespace_opt
@pass_ctx
def get(c: Ctx, kind, name, selector, output, all_namespaces, namespace):
    """List objects of a kind (pods, configmaps, deployments...), or show one."""
    if kind in node_commands.NODE_KINDS:
        return node_commands.get_nodes(c, name, output)
    if kind not in POD_KINDS:
        from minipod.cli import object_commands

        res = object_commands.resolve(kind)
        return object_commands.get(c, res, name, selector, output, all_namespaces, namespace)
    from minipod.cli.pod_listing import print_pods

    print_pods(c.client, name, selector, output, all_namespaces, namespace)


@click.command()
@click.argument("kind")
@click.argument("name")
@namespace_opt
@pass_ctx
def describe(c: Ctx, kind, name, namespace):
    """Show an object (a pod, the node, a configmap...) in detail, with its recent events."""
    if kind in node_commands.NODE_KINDS:
        return node_commands.describe_node(c, name)
    if kind not in POD_KINDS:
        from minipod.cli import object_commands

        return object_commands.describe(c, object_commands.resolve(kind), name, namespace)
    pod = c.client.json("GET", pod_path(namespace, name))
    events = c.client.json(
        "GET",
        f"/api/v1/namespaces/{quote(namespace)}/events",
        query={"fieldSelector": f"involvedObject.name={name}"},
    )["items"]
    events = [e for e in events if e["involvedObject"].get("uid") == pod["metadata"]["uid"]]
    click.echo(printers.describe_pod(pod, events), nl=False)


@click.command()
@click.argument("pod")
@click.option("-c", "--container")
@click.option("-f", "--follow", is_flag=True)
@click.option("-p", "--previous", is_flag=True)
@click.option("--tail", type=int, default=-1, help="Lines from the end to show (-1: all).")
@click.option("--limit-bytes", type=int, default=0, help="Stop after this many bytes (0: no limit).")
@click.option("--since", help="Only lines newer than this duration, e.g. 10s, 5m, 1h30m.")
@click.option("--since-time", help="Only lines written at or after this RFC 3339 time.")
@click.option("--timestamps", is_flag=True, help="Put each line's time (RFC 3339, ns) before it.")
@namespace_opt
@pass_ctx
def logs(
    c: Ctx, pod, container, follow, previous, tail, limit_bytes, since, since_time, timestamps, namespace
):
    """Print a container's logs."""
    if since and since_time:
        raise click.UsageError("--since and --since-time: only one of them may be given")
    resp = c.client.request(
        "GET",
        pod_path(namespace, pod) + "/log",
        query={
            "container": container,
            "follow": str(follow).lower(),
            "previous": str(previous).lower(),
            "tailLines": str(tail) if tail >= 0 else None,
            "limitBytes": str(limit_bytes) if limit_bytes > 0 else None,
            "sinceSeconds": str(duration_seconds(since)) if since else None,
            "sinceTime": since_time,
            "timestamps": "true" if timestamps else None,
        },
    )
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


def duration_seconds(text: str) -> int:
    """A Go duration as kubectl --since takes it (1h30m, 10s, 500ms), in
    whole seconds rounded up, at least 1."""
    import math
    import re

    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise click.BadParameter(
            f'"{text}": expected a duration such as 10s, 5m or 1h30m', param_hint="--since"
        )
    return max(1, math.ceil(sum(float(n) * units[u] for n, u in parts)))


@click.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.option("-i", "--stdin", is_flag=True, help="Pass stdin to the command.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a terminal.")
@click.option("-c", "--container")
@namespace_opt
@click.argument("pod")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_ctx
def exec_(c: Ctx, stdin, tty, container, namespace, pod, command):
    """Run a command in a container: minipod exec POD -- CMD..."""
    from minipod.cli.exec_client import run_exec

    sys.exit(run_exec(c.client, namespace, pod, container, list(command), stdin, tty))


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@click.option("-f", "--filename", "file", help="Delete the objects in this manifest.")
@click.option("--grace-period", type=int, default=None, help="Seconds before SIGKILL (0: now).")
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--ignore-not-found", is_flag=True)
@click.option(
    "--cascade",
    type=click.Choice(["background", "foreground", "orphan"]),
    default="background",
    show_default=True,
    help="What happens to the objects this one owns.",
)
@click.option("--trace", "trace_file", metavar="FILE", help=TRACE_HELP + " One pod after another.")
@click.option("-o", "--output", type=TRACE_FORMAT, help="With --trace: the trace as JSON.")
@namespace_opt
@pass_ctx
def delete(
    c: Ctx, kind, names, file, grace_period, wait, ignore_not_found, cascade, trace_file, output, namespace
):
    """Delete objects by kind and name (pod web, configmap/x) or by manifest."""
    from minipod.cli import object_commands

    targets: list[tuple[str, str, str]] = []  # (namespace, name, kind): pods
    others: list = []  # (Resource, namespace, name): every other kind
    if file:
        from minipod.kube.yaml_load import load_documents
        from minipod.objects import resources as kinds

        for doc in load_documents(pod_listing.read_manifest(file)):
            listed = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
            objs = [o for o in (listed if isinstance(listed, list) else []) if isinstance(o, dict)]
            for obj in objs:
                meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
                if not isinstance(meta.get("name"), str):
                    continue
                ns = str(meta.get("namespace") or namespace)
                res = kinds.by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
                if obj.get("kind") == "Pod":
                    targets.append((ns, meta["name"], obj["kind"]))
                elif res is not None:
                    others.append((res, ns, meta["name"]))
    else:
        pairs = [tuple(n.split("/", 1)) for n in (kind,) + names] if kind and "/" in kind else []
        pairs += [(kind, n) for n in names] if kind and "/" not in kind else []
        for what, name in pairs:
            if what in POD_KINDS:
                targets.append((namespace, name, "Pod"))
            else:
                others.append((object_commands.resolve(what), namespace, name))
    if not targets and not others:
        raise MinipodError("nothing to delete", hint="minipod delete pod NAME... or minipod delete -f FILE")
    failed = not object_commands.delete(c, others, ignore_not_found, cascade)
    # As kubectl: first ask the daemon to delete every pod (it records the
    # deletion at once and carries them out concurrently, also if this
    # command dies), then wait for all of them together.
    pending = []
    for ns, name, what in targets:
        try:
            if trace_file:
                # Traced: one pod at a time, each to its end (the steps of
                # several at once would interleave).
                grace = {"gracePeriodSeconds": None if grace_period is None else str(grace_period)}
                _traced(c, "DELETE", pod_path(ns, name), None, grace, (trace_file, output or "text"), "")
            else:
                pod = c.client.json(
                    "DELETE",
                    pod_path(ns, name),
                    query={
                        "gracePeriodSeconds": None if grace_period is None else str(grace_period),
                        "wait": "false",
                    },
                )
                pending.append((ns, name, pod["metadata"].get("uid")))
            click.echo(f'{what.lower()} "{name}" deleted')
        except NotFound as e:
            if not ignore_not_found:
                click.echo(f"Error from server (NotFound): {e}", err=True)
                failed = True
    if wait:
        _wait_gone(c, pending)
    sys.exit(1 if failed else 0)


def _wait_gone(c: Ctx, pods: list[tuple[str, str, str]], poll: float = 0.05) -> None:
    """Wait until none of these pods (namespace, name, uid) exists any more."""
    import time

    while pods:
        time.sleep(poll)
        left = []
        for ns, name, uid in pods:
            try:
                if c.client.json("GET", pod_path(ns, name))["metadata"].get("uid") == uid:
                    left.append((ns, name, uid))
            except NotFound:
                pass
        pods = left
        poll = min(poll * 2, 0.5)


@click.command()
@click.option("-w", "--watch", is_flag=True)
@click.option("-A", "--all-namespaces", is_flag=True)
@namespace_opt
@pass_ctx
def events(c: Ctx, watch, all_namespaces, namespace):
    """List events (-w to keep watching)."""
    path = "/api/v1/events" if all_namespaces else f"/api/v1/namespaces/{quote(namespace)}/events"
    if not watch:
        items = c.client.json("GET", path)["items"]
        if not items:
            click.echo("No events found.", err=True)
            return
        printers.table(printers.event_rows(items, all_namespaces))
        return
    import json

    resp = c.client.request("GET", path, query={"watch": "true"})
    try:
        for line in resp:
            rows = printers.event_rows([json.loads(line)], all_namespaces)
            click.echo("   ".join(rows[1]))
    except KeyboardInterrupt:
        pass


COMMANDS = (run, apply, get, describe, logs, exec_, delete, events)
