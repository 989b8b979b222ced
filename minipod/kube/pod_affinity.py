"""Pods placed by where other pods are: the scheduler's InterPodAffinity
and PodTopologySpread filters, pure, for the one node there is.

The pods counted are the node's pods that are not terminated. A term
applies to pods in its namespaces: the listed `namespaces`, plus those
`namespaceSelector` selects ({} selects all), or the pod's own namespace
when it gives neither. `matchLabelKeys` / `mismatchLabelKeys` add `key In
(the pod's value)` / `key NotIn (...)` to the term's labelSelector.

affinity_reason(pod, node_labels, existing, ns_labels), in the filter's order:
    1. the node lacks a required affinity term's topologyKey, or one of the
       terms selects no existing pod: "didn't match pod affinity rules";
       except when no existing pod matches any term and the pod matches
       all its own terms (the first pod of a group may go anywhere);
    2. one of the pod's required anti-affinity terms selects an existing
       pod (the node has the topologyKey): "didn't match pod anti-affinity
       rules";
    3. an existing pod's required anti-affinity term selects this pod and
       the node has its topologyKey: "didn't satisfy existing pods
       anti-affinity rules".
spread_reason(pod, node_labels, existing): each DoNotSchedule constraint
of topologySpreadConstraints, with the node as the only domain: the node
must have the topologyKey; skew = matching pods of the pod's namespace in
the domain + (1 if the pod matches) - the smallest count of any domain
(0 while there are fewer domains than minDomains) must not pass maxSkew.
"""

from typing import Any

from minipod.kube import label_selector

EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
AFFINITY = "node(s) didn't match pod affinity rules"
SPREAD = "node(s) didn't match pod topology spread constraints"
SPREAD_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"

Pod = dict[str, Any]


def _labels(pod: Pod) -> dict[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def _namespace(pod: Pod) -> str:
    return (pod.get("metadata") or {}).get("namespace") or "default"


def term_selector(term: dict[str, Any], owner: Pod) -> dict[str, Any]:
    """The term's labelSelector with matchLabelKeys/mismatchLabelKeys added
    from the owner pod's labels."""
    selector = dict(term.get("labelSelector") or {})
    exprs = list(selector.get("matchExpressions") or [])
    labels = _labels(owner)
    for key in term.get("matchLabelKeys") or []:
        if key in labels:
            exprs.append({"key": key, "operator": "In", "values": [labels[key]]})
    for key in term.get("mismatchLabelKeys") or []:
        if key in labels:
            exprs.append({"key": key, "operator": "NotIn", "values": [labels[key]]})
    selector["matchExpressions"] = exprs
    return selector


def term_selects(term: dict[str, Any], owner: Pod, other: Pod, ns_labels: dict[str, dict[str, str]]) -> bool:
    """Does owner's term select the pod `other` (namespace and labels)?"""
    if term.get("labelSelector") is None:
        return False
    ns = _namespace(other)
    listed, ns_selector = term.get("namespaces") or [], term.get("namespaceSelector")
    if not listed and ns_selector is None:
        in_scope = ns == _namespace(owner)
    else:
        in_scope = ns in listed or (
            ns_selector is not None and label_selector.matches(ns_selector, ns_labels.get(ns, {}))
        )
    return in_scope and label_selector.matches(term_selector(term, owner), _labels(other))


def _required(pod: Pod, kind: str) -> list[dict[str, Any]]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return aff.get("requiredDuringSchedulingIgnoredDuringExecution") or []


def affinity_reason(
    pod: Pod, node_labels: dict[str, str], existing: list[Pod], ns_labels: dict[str, dict[str, str]]
) -> str | None:
    terms = _required(pod, "podAffinity")  # 1
    if any(t.get("topologyKey") not in node_labels for t in terms):
        return AFFINITY  # every topology label must be on the node
    if not all(any(term_selects(t, pod, o, ns_labels) for o in existing) for t in terms):
        matched_any = any(term_selects(t, pod, o, ns_labels) for t in terms for o in existing)
        if matched_any or not all(term_selects(t, pod, pod, ns_labels) for t in terms):
            return AFFINITY  # (unless it is the first pod of a group with affinity to itself)
    for term in _required(pod, "podAntiAffinity"):  # 2
        if term.get("topologyKey") in node_labels and any(
            term_selects(term, pod, o, ns_labels) for o in existing
        ):
            return ANTI
    for other in existing:  # 3
        for term in _required(other, "podAntiAffinity"):
            if term.get("topologyKey") in node_labels and term_selects(term, other, pod, ns_labels):
                return EXISTING_ANTI
    return None


def spread_reason(pod: Pod, node_labels: dict[str, str], existing: list[Pod]) -> str | None:
    constraints = (pod.get("spec") or {}).get("topologySpreadConstraints") or []
    for c in constraints:
        if c.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule":
            continue
        if c.get("topologyKey") not in node_labels:
            return SPREAD_LABEL
        if c.get("labelSelector") is None:
            continue  # selects nothing: nothing to spread
        selector = term_selector(c, pod)
        ns = _namespace(pod)
        count = sum(
            1
            for o in existing
            if _namespace(o) == ns
            and not (o.get("metadata") or {}).get("deletionTimestamp")
            and label_selector.matches(selector, _labels(o))
        )
        self_match = 1 if label_selector.matches(selector, _labels(pod)) else 0
        domains = 1
        smallest = 0 if domains < (c.get("minDomains") or 1) else count
        if count + self_match - smallest > (c.get("maxSkew") or 1):
            return SPREAD
    return None
