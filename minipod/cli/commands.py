"""The `minipod` command line: kubectl's verbs, talking to the daemon's API.

A thin layer on purpose: it parses arguments, sends one request, prints the
answer the way kubectl would. No syscalls and no heavy imports happen here
(the daemon does the work), so a command starts in a few tens of ms.
"""

import os
import sys

import click

from minipod import __version__
from minipod.cli import node_commands, printers
from minipod.cli.client import Client, pod_path, quote
from minipod.cli.node_commands import node_options, resource_config
from minipod.errors import MinipodError, NotFound
from minipod.paths import instance

OUTPUTS = click.Choice(["wide", "json", "yaml", "name"])


class Ctx:
    current: "Ctx | None" = None  # this command's, for error messages after click is done

    def __init__(self, root: str | None):
        self.inst = instance(root)
        self.client = Client(self.inst)
        Ctx.current = self


pass_ctx = click.make_pass_decorator(Ctx)
namespace_opt = click.option(
    "-n", "--namespace", default="default", show_default=True, help="The namespace of the pods."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    envvar="MINIPOD_ROOT",
    default=None,
    metavar="DIR",
    help="Instance root: all state, sockets and run files live under DIR "
    "(default: /var/lib/minipod, /run/minipod).",
)
@click.pass_context
def cli(ctx, root):
    """minipod runs Kubernetes Pods on this host with real Linux namespaces."""
    ctx.obj = Ctx(root)


def _read_manifest(path: str) -> str:
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise MinipodError(f"{path}: {e.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = "stdin" if path == "-" else path
        raise MinipodError(
            f"{where}: not valid UTF-8 (byte {e.start}): a manifest is UTF-8 text (YAML or JSON)"
        ) from None


def _apply(c: Ctx, path: str, namespace: str, query: dict) -> dict:
    # As kubectl: with -n given, an object naming another namespace is refused.
    source = click.get_current_context().get_parameter_source("namespace")
    if source in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT):
        query = dict(query, enforceNamespace="true")
    result = c.client.json(
        "POST",
        "/minipod/v1/apply",
        _read_manifest(path),
        query={"namespace": namespace, **query},
        content_type="application/yaml",
    )
    for w in result.get("warnings", []):
        click.echo(f"Warning: {w}", err=True)
    return result


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the pods.")
@namespace_opt
@pass_ctx
def run(c: Ctx, file, timeout, namespace):
    """Create the pods in FILE and wait until they are Running."""
    result = _apply(c, file, namespace, {"wait": "running", "timeout": str(timeout)})
    pods = [i["pod"] for i in result["items"] if i["kind"] == "Pod"]
    for i in result["items"]:
        click.echo(f"{_what(i)} {i['action']}", err=True)
    printers.table(printers.pod_rows(pods, with_ip=True))
    failed = False
    for name, (outcome, why) in result.get("outcomes", {}).items():
        if outcome == "failed":
            click.echo(f"error: pod/{name}: {why}", err=True)
            failed = True
        elif outcome == "pending":
            click.echo(
                f"error: pod/{name}: not Running after {timeout:g}s (see: minipod describe pod {name})",
                err=True,
            )
            failed = True
    sys.exit(1 if failed else 0)


@cli.command()
@click.option("-f", "--filename", "file", required=True, help="The manifest (- for stdin).")
@namespace_opt
@pass_ctx
def apply(c: Ctx, file, namespace):
    """Create or update the objects in a manifest."""
    for i in _apply(c, file, namespace, {})["items"]:
        click.echo(f"{_what(i)} {i['action']}")


def _what(item: dict) -> str:
    """kind/name, as kubectl prints an object it acted on."""
    name = item["pod"]["metadata"]["name"] if item["kind"] == "Pod" else item["name"]
    return f"{item['kind'].lower()}/{name}"


@cli.command()
@click.argument("kind", type=click.Choice(["pods", "pod", "po", *node_commands.NODE_KINDS]))
@click.argument("name", required=False)
@click.option("-l", "--selector", help="Label selector (a=b,c!=d).")
@click.option("-o", "--output", type=OUTPUTS)
@click.option("-A", "--all-namespaces", is_flag=True)
@namespace_opt
@pass_ctx
def get(c: Ctx, kind, name, selector, output, all_namespaces, namespace):
    """List pods (or the node), or show one."""
    if kind in node_commands.NODE_KINDS:
        return node_commands.get_nodes(c, name, output)
    if name:
        pods = [c.client.json("GET", pod_path(namespace, name))]
    else:
        path = "/api/v1/pods" if all_namespaces else pod_path(namespace)
        pods = c.client.json("GET", path, query={"labelSelector": selector})["items"]
    if output in ("json", "yaml"):
        click.echo(printers.dump(pods[0] if name else printers.as_list(pods), output), nl=False)
    elif output == "name":
        for p in pods:
            click.echo(f"pod/{p['metadata']['name']}")
    elif not pods:
        where = "" if all_namespaces else f" in {namespace} namespace"
        click.echo(f"No resources found{where}.", err=True)
    else:
        printers.table(printers.pod_rows(pods, wide=output == "wide", all_namespaces=all_namespaces))


@cli.command()
@click.argument("kind", type=click.Choice(["pod", "pods", "po", *node_commands.NODE_KINDS]))
@click.argument("name")
@namespace_opt
@pass_ctx
def describe(c: Ctx, kind, name, namespace):
    """Show a pod (or the node) in detail, with its recent events."""
    if kind in node_commands.NODE_KINDS:
        return node_commands.describe_node(c, name)
    pod = c.client.json("GET", pod_path(namespace, name))
    events = c.client.json(
        "GET",
        f"/api/v1/namespaces/{quote(namespace)}/events",
        query={"fieldSelector": f"involvedObject.name={name}"},
    )["items"]
    events = [e for e in events if e["involvedObject"].get("uid") == pod["metadata"]["uid"]]
    click.echo(printers.describe_pod(pod, events), nl=False)


@cli.command()
@click.argument("pod")
@click.option("-c", "--container")
@click.option("-f", "--follow", is_flag=True)
@click.option("-p", "--previous", is_flag=True)
@click.option("--tail", type=int, default=-1, help="Lines from the end to show (-1: all).")
@click.option("--limit-bytes", type=int, default=0, help="Stop after this many bytes (0: no limit).")
@namespace_opt
@pass_ctx
def logs(c: Ctx, pod, container, follow, previous, tail, limit_bytes, namespace):
    """Print a container's logs."""
    resp = c.client.request(
        "GET",
        pod_path(namespace, pod) + "/log",
        query={
            "container": container,
            "follow": str(follow).lower(),
            "previous": str(previous).lower(),
            "tailLines": str(tail) if tail >= 0 else None,
            "limitBytes": str(limit_bytes) if limit_bytes > 0 else None,
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


@cli.command(name="exec", context_settings={"ignore_unknown_options": True})
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


@cli.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@click.option("-f", "--filename", "file", help="Delete the pods and secrets in this manifest.")
@click.option("--grace-period", type=int, default=None, help="Seconds before SIGKILL (0: now).")
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--ignore-not-found", is_flag=True)
@namespace_opt
@pass_ctx
def delete(c: Ctx, kind, names, file, grace_period, wait, ignore_not_found, namespace):
    """Delete pods by name or by manifest."""
    targets: list[tuple[str, str, str]] = []  # (namespace, name, kind)
    if file:
        from minipod.kube.yaml_load import load_documents

        for doc in load_documents(_read_manifest(file)):
            listed = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
            objs = [o for o in (listed if isinstance(listed, list) else []) if isinstance(o, dict)]
            for obj in objs:
                meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
                if obj.get("kind") in ("Pod", "Secret") and isinstance(meta.get("name"), str):
                    targets.append((str(meta.get("namespace") or namespace), meta["name"], obj["kind"]))
    elif kind in ("pod", "pods", "po"):
        targets = [(namespace, n, "Pod") for n in names]
    elif kind in ("secret", "secrets"):
        targets = [(namespace, n, "Secret") for n in names]
    elif kind and "/" in kind:
        targets = [(namespace, n.split("/", 1)[1], n.split("/", 1)[0].capitalize()) for n in (kind,) + names]
    if not targets:
        raise MinipodError("nothing to delete", hint="minipod delete pod NAME... or minipod delete -f FILE")
    # As kubectl: first ask the daemon to delete every pod (it records the
    # deletion at once and carries them out concurrently, also if this
    # command dies), then wait for all of them together.
    failed, pending = False, []
    for ns, name, what in targets:
        try:
            if what == "Secret":
                c.client.json("DELETE", f"/api/v1/namespaces/{quote(ns)}/secrets/{quote(name)}")
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


@cli.command()
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


@cli.command()
@click.argument("pod", required=False)
@click.option("--all", "all_pods", is_flag=True, help="Every pod of the instance, in every namespace.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "dot", "svg", "png"]), default=None)
@namespace_opt
@pass_ctx
def inspect(c: Ctx, pod, all_pods, output, namespace):
    """Show the kernel objects a pod is made of (-o dot|svg|png: as a picture)."""
    if bool(pod) == all_pods:
        raise MinipodError(
            "give one POD or --all", hint="minipod inspect POD, or minipod inspect --all -o dot"
        )
    if all_pods:
        found = c.client.json("GET", "/api/v1/pods")["items"]
        pods = [pod_path(p["metadata"]["namespace"], p["metadata"]["name"]) for p in found]
    else:
        pods = [pod_path(namespace, pod)]
    data = []
    for path in pods:
        try:
            data.append(c.client.json("GET", "/minipod/v1" + path.removeprefix("/api/v1") + "/inspect"))
        except NotFound:
            if not all_pods:
                raise
            # deleted since it was listed: nothing to draw
    if output in ("dot", "svg", "png"):
        from minipod.cli import inspect_graph

        dot = inspect_graph.to_dot(inspect_graph.node_graph(data))
        if output == "dot":
            click.echo(dot, nl=False)
        else:
            sys.stdout.buffer.write(inspect_graph.render(dot, output))
    elif output:
        click.echo(printers.dump({"items": data} if all_pods else data[0], output), nl=False)
    else:
        from minipod.cli.printers import describe_inspect

        click.echo("".join(describe_inspect(d) for d in data), nl=False)


@cli.command()
@pass_ctx
def version(c: Ctx):
    """Print the client and daemon versions."""
    click.echo(f"Client Version: v{__version__}")
    try:
        server = Client(c.inst, autostart=False).json("GET", "/version")
        click.echo(f"Server Version: {server['gitVersion']}")
    except MinipodError:
        click.echo("Server Version: (daemon not running)")


@cli.command()
@click.option(
    "--backoff-base",
    type=float,
    default=None,
    envvar="MINIPOD_BACKOFF_BASE",
    help="First restart back-off in seconds (Kubernetes: 10).",
)
@click.option(
    "--bridge",
    envvar="MINIPOD_BRIDGE",
    default=None,
    help="Bridge of the instance's pod network, on first start (default minipod0).",
)
@click.option(
    "--subnet",
    envvar="MINIPOD_SUBNET",
    default=None,
    help="Pod subnet, on first start (default 10.85.0.0/16).",
)
@click.option(
    "--api-address",
    envvar="MINIPOD_API_ADDRESS",
    default=None,
    help="Address of the Kubernetes API (default 127.0.0.1; kept for later starts).",
)
@click.option(
    "--api-port",
    envvar="MINIPOD_API_PORT",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the Kubernetes API (default 6443; kept for later starts).",
)
@node_options
@pass_ctx
def daemon(c: Ctx, backoff_base, bridge, subnet, api_address, api_port, **node_flags):
    """Run the daemon in the foreground."""
    from minipod.cli.client import restore_ssl

    restore_ssl()
    from minipod.api import daemon as d

    d.main(c.inst, backoff_base, bridge, subnet, api_address, api_port, resource_config(**node_flags))


@cli.command()
@click.option("--merge", is_flag=True, help="Add a minipod cluster, user and context to ~/.kube/config.")
@pass_ctx
def kubeconfig(c: Ctx, merge):
    """Print the admin kubeconfig of this instance's Kubernetes API."""
    import os

    path = os.path.join(c.inst.etc, "admin.kubeconfig")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        raise MinipodError(
            f"no kubeconfig at {path}: the daemon writes it when it starts",
            hint="start it: minipod daemon (or any minipod command)",
        ) from None
    if not merge:
        click.echo(text, nl=False)
        return
    import yaml

    from minipod.kubeapi.kubeconfig import merge as merge_docs
    from minipod.kubeapi.kubeconfig import write_kubeconfig

    target = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
    existing = None
    if os.path.exists(target):
        with open(target) as f:
            existing = yaml.safe_load(f)
    write_kubeconfig(target, merge_docs(existing, yaml.safe_load(text)))
    click.echo(f'cluster, user and context "minipod" written to {target}')


cli.add_command(node_commands.top)


@cli.group()
def image():
    """Manage the local image store."""


@image.command("ls")
@pass_ctx
def image_ls(c: Ctx):
    items = c.client.json("GET", "/minipod/v1/images")["items"]
    rows = [["REPOSITORY", "TAG", "DIGEST", "SIZE"]]
    rows += [[i["repository"], i["tag"] or "<none>", i["digest"][:19], _size(i["size"])] for i in items]
    printers.table(rows)


@image.command("import")
@click.argument("file", type=click.Path(exists=True))
@pass_ctx
def image_import(c: Ctx, file):
    """Import a docker/podman save archive or an OCI layout (archive)."""
    refs = c.client.json("POST", "/minipod/v1/images/import", {"path": os.path.abspath(file)})["refs"]
    for r in refs:
        click.echo(f"Loaded image: {r}")


@image.command("build-base")
@pass_ctx
def image_build_base(c: Ctx):
    """Build docker.io/library/busybox:1.35 offline from the host's busybox."""
    for r in c.client.json("POST", "/minipod/v1/images/build-base", {})["refs"]:
        click.echo(f"Loaded image: {r}")


@image.command("pull")
@click.argument("ref")
@pass_ctx
def image_pull(c: Ctx, ref):
    """Pull an image from its registry (progress per layer on a terminal)."""
    import json

    from minipod.cli.progress import Progress

    resp = c.client.request("POST", "/minipod/v1/images/pull", b"", query={"ref": ref})
    progress, end = Progress(sys.stderr), {}
    for line in resp:
        end = json.loads(line)
        progress.feed(end)
    progress.close()
    if end.get("event") != "done":
        raise MinipodError(end.get("message", "the pull failed"))
    click.echo(f"{end['ref']}@{end['digest']}" if "@" not in end["ref"] else end["ref"])


@image.command("prune")
@pass_ctx
def image_prune(c: Ctx):
    """Remove layers and blobs no image uses."""
    freed = c.client.json("POST", "/minipod/v1/images/prune", {})
    click.echo(
        f"Deleted {freed.get('blobs', 0)} blobs and {freed.get('layers', 0)} layers; "
        f"reclaimed {_size(freed.get('bytes', 0))}"
        + (" (more after the pulls under way end)" if freed.get("deferred") else "")
    )


@image.command("rm")
@click.argument("refs", nargs=-1, required=True)
@pass_ctx
def image_rm(c: Ctx, refs):
    for r in refs:
        c.client.json("DELETE", "/minipod/v1/images", query={"ref": r})
        click.echo(f"Untagged: {r}")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n:.3g}TB"


def main() -> None:
    try:
        cli.main(prog_name="minipod", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.ClickException as e:
        e.show()
        sys.exit(1 if e.exit_code == 2 else e.exit_code)
    except NotFound as e:
        click.echo(f"Error from server (NotFound): {e}", err=True)
        sys.exit(1)
    except MinipodError as e:
        click.echo(f"error: {e}", err=True)
        if e.hint:
            click.echo(f"hint: {e.hint}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - a user never sees a traceback
        from minipod.cli.client import lost_daemon

        lost = lost_daemon(e)
        if lost:
            click.echo(f"error: {lost}", err=True)
            click.echo(
                f"hint: check with minipod get pods; the daemon's log may say why: {_daemon_log()}", err=True
            )
            sys.exit(1)
        if os.environ.get("MINIPOD_DEBUG"):
            raise
        click.echo(f"error: internal error in the minipod command: {type(e).__name__}: {e}", err=True)
        click.echo("hint: run again with MINIPOD_DEBUG=1 for the details, and report it", err=True)
        sys.exit(1)


def _daemon_log() -> str:
    return (Ctx.current.inst if Ctx.current else instance()).daemon_log
