"""Strategic merge patch (application/strategic-merge-patch+json), the
patch `kubectl apply`, `label`, `annotate` and `patch` send by default.

Like a JSON merge patch, except for lists: the schema says, per field,
how a list merges (x-kubernetes-patch-strategy: merge) and which key
identifies an item (x-kubernetes-patch-merge-key: `name` for containers,
`containerPort` for ports). Directives kubectl writes:
    {"$patch": "delete" | "replace"}     in a map or a list item
    "$retainKeys": [...]                 keep only these keys of the map
    "$setElementOrder/FIELD": [...]      the order of the merged list
    "$deleteFromPrimitiveList/FIELD": [] values to remove from a list
Pure functions over plain dicts and the OpenAPI definitions.
"""

import copy


def _resolve(defs: dict, schema: dict | None) -> dict:
    while isinstance(schema, dict):
        if "$ref" in schema:
            schema = defs.get(schema["$ref"].rsplit("/", 1)[1], {})
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return schema
    return {}


def _prop(defs: dict, schema: dict, key: str) -> dict:
    s = _resolve(defs, schema)
    props = s.get("properties") or {}
    if key in props:
        return props[key]
    extra = s.get("additionalProperties")
    return extra if isinstance(extra, dict) else {}


def strip_directives(value):
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [
            strip_directives(v) for v in value if not (isinstance(v, dict) and v.get("$patch") == "delete")
        ]
    return value


def apply_patch(defs: dict, schema: dict, original: dict, patch: dict):
    """`original` with `patch` merged in (a new object; None: delete the map)."""
    directive = patch.get("$patch")
    if directive == "replace":
        return strip_directives(patch)
    if directive == "delete":
        return None
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [x for x in result.get(field) or [] if x not in value]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        sub = _prop(defs, schema, key)
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged = apply_patch(defs, sub, current, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and "merge" in sub.get("x-kubernetes-patch-strategy", ""):
            result[key] = merge_list(defs, sub, current or [], value)
        else:
            result[key] = strip_directives(value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for key, order in patch.items():
        if key.startswith("$setElementOrder/") and isinstance(result.get(key.split("/", 1)[1]), list):
            field = key.split("/", 1)[1]
            mk = _prop(defs, schema, field).get("x-kubernetes-patch-merge-key")
            result[field] = _ordered(result[field], order, mk)
    return result


def _ordered(items: list, order: list, mk: str | None) -> list:
    def ident(x):
        return x.get(mk) if mk and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    rank = {w: i for i, w in enumerate(wanted) if isinstance(w, (str, int))}
    return sorted(items, key=lambda x: rank.get(ident(x), len(rank)))


def merge_list(defs: dict, schema: dict, original: list, patch: list) -> list:
    mk = schema.get("x-kubernetes-patch-merge-key")
    items_schema = schema.get("items") or {}
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [strip_directives(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    if not mk:  # a list of scalars that merges: a set union, in order
        return list(original) + [p for p in patch if p not in original]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            continue
        index = next(
            (i for i, o in enumerate(result) if isinstance(o, dict) and o.get(mk) == item.get(mk)), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(strip_directives(item))
        else:
            result[index] = apply_patch(defs, items_schema, result[index], item)
    return result
