"""The `minipod` command line: kubectl's verbs, talking to the daemon's API.

A thin layer on purpose: it parses arguments, sends one request, prints the
answer the way kubectl would. No syscalls and no heavy imports happen here
(the daemon does the work), so a command starts in a few tens of ms.

Here: the `minipod` group and `main` (errors as one line, never a
traceback), inspect, version, daemon, kubeconfig and the image verbs. The
pod verbs (run, apply, get, describe, logs, exec, delete, events) are in
pod_commands.py, the node's (top, and the daemon's kubelet flags) in
node_commands.py, and so on: the group knows them by name (LAZY below) and
imports a verb's module only when that verb runs, so `minipod logs` never
loads `create`'s module nor `minipod inspect` the pod verbs'.
"""

import os
import sys

import click

from minipod.cli.client import pod_path
from minipod.cli.context import Ctx, namespace_opt, pass_ctx
from minipod.cli.node_commands import node_options, resource_config
from minipod.errors import MinipodError, NotFound

# The verbs that live in other modules: name -> "module:attribute".
LAZY = {
    **{name: f"minipod.cli.pod_commands:{name}" for name in ("run", "apply", "get", "describe", "logs")},
    "exec": "minipod.cli.pod_commands:exec_",
    "delete": "minipod.cli.pod_commands:delete",
    "events": "minipod.cli.pod_commands:events",
    **{name: f"minipod.cli.label_commands:{name}" for name in ("label", "taint", "cordon", "uncordon")},
    "scale": "minipod.cli.scale_command:scale",
    "create": "minipod.cli.create_commands:create",
    "top": "minipod.cli.node_commands:top",
}


class LazyGroup(click.Group):
    """A click group that imports a verb's module when the verb is looked up
    (to run it, or for --help), not when the CLI starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY and cmd_name not in self.commands:
            import importlib

            module, attribute = LAZY[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
        from minipod.cli import printers

        click.echo(printers.dump({"items": data} if all_pods else data[0], output), nl=False)
    else:
        from minipod.cli.printers import describe_inspect

        click.echo("".join(describe_inspect(d) for d in data), nl=False)


@cli.command(name="api-resources")
def api_resources():
    """List the kinds served, as kubectl api-resources does."""
    from minipod.cli import printers
    from minipod.cli.object_commands import api_resources_rows

    printers.table(api_resources_rows())


@cli.command()
@pass_ctx
def version(c: Ctx):
    """Print the client and daemon versions."""
    from minipod.cli.pod_listing import print_version

    print_version(c.inst)


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
@click.option(
    "--service-cidr",
    envvar="MINIPOD_SERVICE_CIDR",
    default=None,
    help="Range of the Services' virtual IPs, on first start (default 10.96.0.0/16).",
)
@click.option(
    "--cri",
    envvar="MINIPOD_CRI",
    is_flag=True,
    help="Also serve the Container Runtime Interface (gRPC) on RUN/cri.sock, for a kubelet.",
)
@node_options
@pass_ctx
def daemon(c: Ctx, backoff_base, bridge, subnet, api_address, api_port, service_cidr, cri, **node_flags):
    """Run the daemon in the foreground."""
    from minipod.api import daemon as d

    d.main(
        c.inst,
        backoff_base,
        bridge,
        subnet,
        api_address,
        api_port,
        resource_config(**node_flags),
        service_cidr,
        cri,
    )


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


@cli.group()
def image():
    """Manage the local image store."""


@image.command("ls")
@pass_ctx
def image_ls(c: Ctx):
    items = c.client.json("GET", "/minipod/v1/images")["items"]
    rows = [["REPOSITORY", "TAG", "DIGEST", "SIZE"]]
    rows += [[i["repository"], i["tag"] or "<none>", i["digest"][:19], _size(i["size"])] for i in items]
    from minipod.cli import printers

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
    """click's half of entry.main(): its own exceptions, then entry.report()."""
    from minipod.cli.entry import report

    try:
        cli.main(prog_name="minipod", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.ClickException as e:
        e.show()
        sys.exit(1 if e.exit_code == 2 else e.exit_code)
    except Exception as e:  # noqa: BLE001 - a user never sees a traceback
        sys.exit(report(e))
    except KeyboardInterrupt:
        sys.exit(130)
