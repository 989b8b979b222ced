"""Table responses: what `kubectl get` prints, computed by the server.

kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
and prints the columns it gets, so the columns must be a real API
server's (objects/columns.py has them, per kind). Each row carries the
object's metadata (PartialObjectMetadata), or the whole object with
includeObject=Object.
"""

import time

from minipod.objects.resources import Resource


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def column_definitions(res: Resource) -> list[dict]:
    return [
        {
            "name": c.name,
            "type": c.type,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        }
        for c in res.columns
    ]


def row(res: Resource, obj: dict, include: str, now: float) -> dict:
    if include == "None":
        embedded = None
    elif include == "Object":
        embedded = obj
    else:
        embedded = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }
    return {"cells": [c.cell(obj, now) for c in res.columns], "object": embedded}


def table(
    res: Resource,
    objects: list[dict],
    rv: str,
    include: str = "Metadata",
    cont: str = "",
    headers: bool = True,
) -> dict:
    now = time.time()
    meta = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(res) if headers else [],
        "rows": [row(res, o, include, now) for o in objects],
    }
