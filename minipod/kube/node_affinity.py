"""Does a pod's node selection accept a node? The scheduler's NodeAffinity
filter, pure (k8s.io/component-helpers/scheduling/corev1/nodeaffinity).

accepts(pod, node_name, node_labels), in order:
    1. spec.nodeSelector: every pair must be among the node's labels;
    2. spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution:
       at least one of its nodeSelectorTerms must hold (the terms are
       ORed); a term holds when all its matchExpressions hold against the
       node's labels and all its matchFields against the node's fields
       (only metadata.name exists); a term with neither matches nothing.
Requirement operators: In, NotIn, Exists, DoesNotExist, and Gt / Lt,
which compare the label's value as an integer (a value that is not an
integer does not match). preferredDuringScheduling... only ranks nodes:
with one node, it never keeps a pod out.
"""

from typing import Any

REASON = "node(s) didn't match Pod's node affinity/selector"
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def requirement_holds(req: dict[str, Any], values_of: dict[str, str]) -> bool:
    key, op, values = req.get("key", ""), req.get("operator"), req.get("values") or []
    present = key in values_of
    if op == "In":
        return present and values_of[key] in values
    if op == "NotIn":
        return not present or values_of[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, bound = int(values_of[key]), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def term_holds(term: dict[str, Any], node_name: str, node_labels: dict[str, str]) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    return all(requirement_holds(r, node_labels) for r in exprs) and all(
        requirement_holds(r, {"metadata.name": node_name}) for r in fields
    )


def accepts(pod: dict[str, Any], node_name: str, node_labels: dict[str, str]) -> bool:
    spec = pod.get("spec") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if node_labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if required is None:
        return True
    return any(term_holds(t, node_name, node_labels) for t in required.get("nodeSelectorTerms") or [])
