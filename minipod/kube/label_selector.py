"""metav1.LabelSelector: `matchLabels` and `matchExpressions`, as the
Deployments, ReplicaSets, NetworkPolicies, pod affinity terms, topology
spread constraints and PodDisruptionBudgets of the API carry them. Pure.

matches(selector, labels) follows LabelSelectorAsSelector:
    1. a missing selector (None) selects nothing, an empty one ({})
       selects everything;
    2. every matchLabels pair must be there with that value;
    3. every matchExpressions requirement must hold: In (the label is
       there with one of the values), NotIn (the label is absent or has
       none of them), Exists, DoesNotExist.
problems(selector, path) gives the API server's validation errors;
format_selector(selector) prints it as kubectl does (`app=web,tier in (a,b)`).
(A Service's selector is a plain map: matches({"matchLabels": m}, ...).)
"""

from typing import Any

from minipod.kube.names import label_value_problems, qualified_name_problems

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def requirement_holds(req: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, values = req.get("key", ""), req.get("operator"), req.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing (validation refuses it first)


def matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(requirement_holds(r, labels) for r in selector.get("matchExpressions") or [])


def is_empty(selector: dict[str, Any] | None) -> bool:
    """{} (or only empty lists): selects everything."""
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")


def problems(selector: dict[str, Any], path: str) -> list[str]:
    """ValidateLabelSelector's errors, each with its field path, in its
    order: matchLabels (keys as label names, values as label values), then
    each expression's values for its operator, its operator, its key and
    its values as label values."""
    out = []
    for key, value in (selector.get("matchLabels") or {}).items():
        out += [f'{path}.matchLabels: Invalid value: "{key}": {m}' for m in qualified_name_problems(str(key))]
        out += [
            f'{path}.matchLabels: Invalid value: "{value}": {m}' for m in label_value_problems(str(value))
        ]
    for i, req in enumerate(selector.get("matchExpressions") or []):
        where = f"{path}.matchExpressions[{i}]"
        op, values = req.get("operator"), req.get("values") or []
        if op in ("In", "NotIn") and not values:
            out.append(
                f"{where}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
            )
        elif op in ("Exists", "DoesNotExist") and values:
            out.append(
                f"{where}.values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            )
        elif op not in OPERATORS:
            out.append(f'{where}.operator: Invalid value: "{op}": not a valid selector operator')
        key = str(req.get("key") or "")
        out += [f'{where}.key: Invalid value: "{key}": {m}' for m in qualified_name_problems(key)]
        for j, value in enumerate(values):
            out += [
                f'{where}.values[{j}]: Invalid value: "{value}": {m}'
                for m in label_value_problems(str(value))
            ]
    return out


def format_selector(selector: dict[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: requirements sorted by key, values sorted;
    `<none>` when empty."""
    reqs = [(k, f"{k}={v}") for k, v in (selector or {}).get("matchLabels", {}).items()]
    for r in (selector or {}).get("matchExpressions") or []:
        key, op, values = r.get("key", ""), r.get("operator"), ",".join(sorted(r.get("values") or []))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
            op, f"!{key}"
        )
        reqs.append((key, text))
    return ",".join(t for _, t in sorted(reqs)) or "<none>"
