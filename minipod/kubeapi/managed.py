"""managedFields: which manager set which field, for server-side apply.

A field set is a set of paths; a path is a tuple of steps, as the API
server's fieldsV1 writes them:
    "f:NAME"            a field of a map
    'k:{"name":"web"}'  the item of a keyed list (containers by name)
    "v:VALUE"           a value of a set-like list (finalizers)
fields() computes an object's set against its schema, to_v1()/from_v1()
convert to and from the nested fieldsV1 form, describe() prints a path
as conflict messages do (.spec.containers[name="web"].image).
"""

import json

from minipod.kubeapi.strategic import _prop

SKIP = {("f:apiVersion",), ("f:kind",)}
SERVER_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
)


def fields(defs: dict, schema: dict, value, prefix: tuple = ()) -> set:
    out: set = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if not prefix and k == "status":
                continue
            if prefix == ("f:metadata",) and k in SERVER_META + ("name", "namespace"):
                continue
            step = prefix + (f"f:{k}",)
            sub = _prop(defs, schema, k)
            if isinstance(v, dict) and v:
                out |= fields(defs, sub, v, step)
            elif isinstance(v, list) and v and sub.get("x-kubernetes-patch-merge-key"):
                mk = sub["x-kubernetes-patch-merge-key"]
                for item in v:
                    if isinstance(item, dict) and mk in item:
                        key = step + ("k:" + json.dumps({mk: item[mk]}, separators=(",", ":")),)
                        out.add(key + (".",))
                        out |= fields(defs, sub.get("items") or {}, item, key)
            elif isinstance(v, list) and v and "merge" in sub.get("x-kubernetes-patch-strategy", ""):
                out |= {step + ("v:" + json.dumps(x),) for x in v}
            else:
                out.add(step)
    return out - SKIP


def changed(defs: dict, schema: dict, old: dict, new: dict) -> set:
    """The paths of `new` that are not in `old`, or hold another value there."""
    before = fields(defs, schema, old)
    return {p for p in fields(defs, schema, new) if p not in before or value_at(old, p) != value_at(new, p)}


def to_v1(paths: set) -> dict:
    root: dict = {}
    for path in sorted(paths):
        node = root
        for step in path:
            node = node.setdefault(step, {})
    return root


def from_v1(tree: dict, prefix: tuple = ()) -> set:
    out: set = set()
    for step, sub in (tree or {}).items():
        if step == ".":
            out.add(prefix + (".",))
            continue
        if sub:
            out |= from_v1(sub, prefix + (step,))
        else:
            out.add(prefix + (step,))
    return out


def describe(path: tuple) -> str:
    text = ""
    for step in path:
        if step == ".":
            continue
        kind, _, rest = step.partition(":")
        if kind == "f":
            text += f".{rest}"
        elif kind == "k":
            keys = json.loads(rest)
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        else:
            text += f"[{rest}]"
    return text


def value_at(obj, path: tuple):
    cur = obj
    for step in path:
        if step == ".":
            return cur
        kind, _, rest = step.partition(":")
        if kind == "f":
            cur = cur.get(rest) if isinstance(cur, dict) else None
        elif kind == "k":
            keys = json.loads(rest)
            cur = next(
                (i for i in cur or [] if isinstance(i, dict) and all(i.get(k) == v for k, v in keys.items())),
                None,
            )
        else:
            return json.loads(rest) if json.loads(rest) in (cur or []) else None
    return cur


def remove_at(obj, path: tuple) -> None:
    """Remove the field at path (a field a manager stopped applying)."""
    parent, last = obj, path[-1]
    if last == ".":
        path, last = path[:-1], path[-2]
        parent = value_at(obj, path[:-1])
    else:
        parent = value_at(obj, path[:-1])
    kind, _, rest = last.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k" and isinstance(parent, list):
        keys = json.loads(rest)
        parent[:] = [
            i for i in parent if not (isinstance(i, dict) and all(i.get(k) == v for k, v in keys.items()))
        ]
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(rest)
        parent[:] = [i for i in parent if i != value]


def entry(manager: str, operation: str, api_version: str, now: str, paths: set, sub: str = "") -> dict:
    e = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_v1(paths),
    }
    if sub:
        e["subresource"] = sub
    return e
