"""get, describe and delete for every kind but pods and the node: ConfigMaps,
Namespaces, Deployments, ... whatever the object store serves.

Each is the Kubernetes API's REST call over the daemon's socket, printed as
kubectl prints it:
    get       asks for a Table (the server computes kubectl's columns,
              objects/columns.py) and prints it; -o json|yaml|name asks
              for the objects themselves;
    describe  the object's metadata, its other fields, and its events;
    delete    DELETE each named object (the store cascades to dependents).
The kind is resolved as kubectl resolves it: plural, singular, short name
or kind, optionally with the group (deployments.apps).
"""

import click

from minipod.cli import printers
from minipod.cli.context import Ctx
from minipod.errors import MinipodError, NotFound
from minipod.objects import resources as kinds
from minipod.objects.resources import Resource

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
# kubectl describe leaves this annotation out: it repeats the manifest,
# Secret values included.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def resolve(kind: str) -> Resource:
    res = kinds.resolve(kind)
    if res is None:
        raise MinipodError(
            f'the server doesn\'t have a resource type "{kind}"',
            hint="minipod api-resources lists the kinds served",
        )
    return res


def printed_name(res: Resource, name: str) -> str:
    """kind/name as kubectl prints it: configmap/x, deployment.apps/web."""
    return f"{res.singular}{'.' + res.group if res.group else ''}/{name}"


def get(c: Ctx, res: Resource, name, selector, output, all_namespaces, namespace) -> None:
    ns = None if all_namespaces or not res.namespaced else namespace
    if output in ("json", "yaml", "name"):
        if name:
            obj = c.client.json("GET", res.path(ns, name))
            objs = [obj]
        else:
            objs = c.client.json("GET", res.path(ns), query={"labelSelector": selector})["items"]
        if output == "name":
            for o in objs:
                click.echo(printed_name(res, o["metadata"]["name"]))
        else:
            click.echo(printers.dump(objs[0] if name else printers.as_list(objs), output), nl=False)
        return
    query = {"labelSelector": selector}
    table = c.client.json("GET", res.path(ns, name), query=query, headers={"Accept": TABLE})
    rows = table_rows(table, wide=output == "wide", namespaced=all_namespaces and res.namespaced)
    if len(rows) == 1:
        where = f" in {namespace} namespace" if res.namespaced and not all_namespaces else ""
        click.echo(f"No resources found{where}.", err=True)
        return
    printers.table(rows)


def table_rows(table: dict, wide: bool = False, namespaced: bool = False) -> list[list[str]]:
    """(pure) A meta.k8s.io Table as kubectl prints it: the priority-0
    columns (all with -o wide), NAMESPACE first with -A."""
    shown = [i for i, col in enumerate(table["columnDefinitions"]) if wide or not col.get("priority")]
    head = [table["columnDefinitions"][i]["name"].upper() for i in shown]
    rows = [["NAMESPACE", *head] if namespaced else head]
    for row in table.get("rows") or []:
        cells = [_cell(row["cells"][i]) for i in shown]
        if namespaced:
            cells.insert(0, ((row.get("object") or {}).get("metadata") or {}).get("namespace", ""))
        rows.append(cells)
    return rows


def _cell(value) -> str:
    """A Table cell as kubectl prints it: <none> for nothing, true/false."""
    if value in ("", None):
        return "<none>"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def describe(c: Ctx, res: Resource, name: str, namespace: str) -> None:
    ns = namespace if res.namespaced else None
    obj = c.client.json("GET", res.path(ns, name))
    events_path = f"/api/v1/namespaces/{ns}/events" if ns else "/api/v1/events"
    events = c.client.json("GET", events_path, query={"fieldSelector": f"involvedObject.name={name}"})[
        "items"
    ]
    events = [e for e in events if e["involvedObject"].get("uid") == obj["metadata"].get("uid")]
    click.echo(describe_text(obj, events), nl=False)


def describe_text(obj: dict, events: list[dict]) -> str:
    """(pure) kubectl's generic describer: the metadata, then every other
    field as indented YAML, then the events. Secret values never show:
    only their sizes, as kubectl prints them."""
    import yaml

    meta = obj["metadata"]
    lines = [f"{'Name:':<14}{meta['name']}"]
    if meta.get("namespace"):
        lines.append(f"{'Namespace:':<14}{meta['namespace']}")
    for title, field in (("Labels:", "labels"), ("Annotations:", "annotations")):
        shown = {k: v for k, v in (meta.get(field) or {}).items() if k != LAST_APPLIED}
        pairs = [f"{k}={v}" for k, v in sorted(shown.items())] or ["<none>"]
        lines.append(f"{title:<14}{pairs[0]}")
        lines += [" " * 14 + p for p in pairs[1:]]
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if obj.get("kind") == "Secret":
        lines += ["", f"Type:  {obj.get('type', 'Opaque')}", "", "Data", "===="]
        lines += [f"{k}:  {len(_decoded(v))} bytes" for k, v in sorted((obj.get("data") or {}).items())]
        body = {}
    for field, value in body.items():
        lines.append(f"{field[:1].upper() + field[1:]}:")
        text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip("\n")
        lines += ["  " + line for line in text.splitlines()]
    lines.append("Events:" + ("" if events else "  <none>"))
    if events:
        lines += ["  " + "   ".join(r) for r in printers.event_rows(events)]
    return "\n".join(lines) + "\n"


def _decoded(value: str) -> bytes:
    import base64

    try:
        return base64.b64decode(value)
    except ValueError:
        return value.encode()


def delete(
    c: Ctx, targets: list[tuple[Resource, str | None, str]], ignore_not_found: bool, cascade: str
) -> bool:
    """DELETE each (resource, namespace, name); False if one was not found."""
    ok = True
    policy = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}[cascade]
    for res, ns, name in targets:
        try:
            c.client.json(
                "DELETE", res.path(ns if res.namespaced else None, name), query={"propagationPolicy": policy}
            )
            click.echo(f'{res.singular}{"." + res.group if res.group else ""} "{name}" deleted')
        except NotFound as e:
            if not ignore_not_found:
                click.echo(f"Error from server (NotFound): {e}", err=True)
                ok = False
    return ok


def api_resources_rows() -> list[list[str]]:
    """(pure) `kubectl api-resources`: every kind served, in kubectl's columns."""
    rows = [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]]
    for r in kinds.RESOURCES:
        rows.append([r.plural, ",".join(r.short_names), r.api_version, str(r.namespaced).lower(), r.kind])
    return rows
