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

from minipod.cli import node_commands, pod_actions, pod_listing, printers
from minipod.cli.client import pod_path, quote
from minipod.cli.context import Ctx, namespace_opt, pass_ctx
from minipod.cli.fast_path import OUTPUT_CHOICES
from minipod.errors import MinipodError

OUTPUTS = click.Choice(OUTPUT_CHOICES)  # the fast path accepts the same


def _apply(c: Ctx, path: str, namespace: str, query: dict, trace: tuple[str, str] | None = None) -> dict:
    source = click.get_current_context().get_parameter_source("namespace")
    explicit = source in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    return pod_actions.apply_manifest(c.client, path, namespace, explicit, query, trace)


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
    pod_actions.print_applied(_apply(c, file, namespace, {}, trace))


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
    since_seconds = duration_seconds(since) if since else None
    query = pod_actions.logs_query(
        container, follow, previous, tail, limit_bytes, since_seconds, since_time, timestamps
    )
    pod_actions.stream_logs(c.client, namespace, pod, query)


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
    trace = (trace_file, output or "text") if trace_file else None
    if not pod_actions.delete_pods(c.client, targets, grace_period, ignore_not_found, wait, trace):
        failed = True
    sys.exit(1 if failed else 0)


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
