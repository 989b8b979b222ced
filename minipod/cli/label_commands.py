"""label, taint, cordon and uncordon: kubectl's verbs that change an
object's labels or the node's scheduling, as merge patches over the API.

    label KIND NAME k=v... k-...   set or remove labels (--overwrite to change one)
    taint node NAME k=v:Effect... k[:Effect]-...
    cordon NAME / uncordon NAME    spec.unschedulable
The edits are pure functions (new_labels, new_taints); the commands send
the result as an application/merge-patch+json PATCH, as kubectl does.
"""

import json
import re

import click

from minipod.cli.context import Ctx, namespace_opt, pass_ctx
from minipod.errors import MinipodError

MERGE_PATCH = "application/merge-patch+json"
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def new_labels(current: dict, changes: tuple[str, ...], overwrite: bool) -> dict:
    """(pure) The labels patch for `k=v` and `k-` arguments: {k: v or None}."""
    patch: dict = {}
    for arg in changes:
        if arg.endswith("-") and "=" not in arg:
            patch[arg[:-1]] = None
            continue
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise MinipodError(f"invalid label spec: {arg}", hint="key=value to set, key- to remove")
        if key in current and current[key] != value and not overwrite:
            raise MinipodError(
                f"'{key}' already has a value ({current[key]}), and --overwrite is false",
                hint="add --overwrite to change it",
            )
        patch[key] = value
    return patch


TAINT = re.compile(r"^(?P<key>[^=:]+?)(=(?P<value>[^:]*))?(:(?P<effect>[A-Za-z]+))?(?P<remove>-)?$")


def new_taints(current: list[dict], changes: tuple[str, ...]) -> list[dict]:
    """(pure) The node's taints after `k=v:Effect` (add or replace) and
    `k-` / `k:Effect-` (remove) arguments, as kubectl taint computes them."""
    taints = [dict(t) for t in current]
    for arg in changes:
        m = TAINT.match(arg)
        if not m or (m["effect"] and m["effect"] not in EFFECTS) or (not m["remove"] and not m["effect"]):
            raise MinipodError(
                f"invalid taint spec: {arg}",
                hint="key=value:Effect to add (Effect: NoSchedule, PreferNoSchedule, NoExecute), key- to remove",
            )
        if m["remove"]:
            kept = [
                t for t in taints if not (t["key"] == m["key"] and m["effect"] in (None, t.get("effect")))
            ]
            if len(kept) == len(taints):
                raise MinipodError(f'taint "{m["key"]}" not found')
            taints = kept
            continue
        taint = {"key": m["key"], "effect": m["effect"]}
        if m["value"]:
            taint["value"] = m["value"]
        taints = [t for t in taints if (t["key"], t.get("effect")) != (taint["key"], taint["effect"])] + [
            taint
        ]
    return taints


def _patch(c: Ctx, path: str, body: dict) -> dict:
    return c.client.json("PATCH", path, json.dumps(body), content_type=MERGE_PATCH)


@click.command()
@click.argument("kind")
@click.argument("name")
@click.argument("changes", nargs=-1, required=True)
@click.option("--overwrite", is_flag=True, help="Allow changing a label that has a value.")
@namespace_opt
@pass_ctx
def label(c: Ctx, kind, name, changes, overwrite, namespace):
    """Set (k=v) or remove (k-) labels of an object: minipod label node NAME disk=ssd."""
    from minipod.cli.object_commands import printed_name, resolve

    res = resolve(kind)
    path = res.path(namespace if res.namespaced else None, name)
    current = (c.client.json("GET", path)["metadata"].get("labels")) or {}
    _patch(c, path, {"metadata": {"labels": new_labels(current, changes, overwrite)}})
    click.echo(
        f"{printed_name(res, name)} labeled"
        if any("=" in a for a in changes)
        else f"{printed_name(res, name)} unlabeled"
    )


@click.command()
@click.argument("kind", type=click.Choice(["node", "nodes", "no"]))
@click.argument("name")
@click.argument("changes", nargs=-1, required=True)
@pass_ctx
def taint(c: Ctx, kind, name, changes):
    """Add (k=v:Effect) or remove (k-) taints of the node."""
    path = f"/api/v1/nodes/{name}"
    current = (c.client.json("GET", path).get("spec") or {}).get("taints") or []
    _patch(c, path, {"spec": {"taints": new_taints(current, changes) or None}})
    click.echo(f"node/{name} {'untainted' if all(a.endswith('-') for a in changes) else 'tainted'}")


def _cordon(c: Ctx, name: str, on: bool) -> None:
    _patch(c, f"/api/v1/nodes/{name}", {"spec": {"unschedulable": True if on else None}})
    click.echo(f"node/{name} {'cordoned' if on else 'uncordoned'}")


@click.command()
@click.argument("name")
@pass_ctx
def cordon(c: Ctx, name):
    """Mark the node unschedulable: new pods wait, running ones stay."""
    _cordon(c, name, True)


@click.command()
@click.argument("name")
@pass_ctx
def uncordon(c: Ctx, name):
    """Mark the node schedulable again."""
    _cordon(c, name, False)


COMMANDS = (label, taint, cordon, uncordon)
