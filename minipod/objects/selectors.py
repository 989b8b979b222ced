"""Label and field selectors, as the API server parses them. Pure.

Label selectors (k8s.io/apimachinery/pkg/labels), read by minipod.kube.selectors:
    a=b  a==b  a!=b  a  !a  a in (x,y)  a notin (x,y)  a>1  a<1   joined by commas (and)
Field selectors (k8s.io/apimachinery/pkg/fields): a=b, a==b, a!=b on the
fields each kind supports (metadata.name, metadata.namespace for all; pods:
status.phase, spec.nodeName, ...; events: involvedObject.*, reason, type).
An unsupported field is a 400 with the API server's message.
"""

from collections.abc import Callable

from minipod.kube.selectors import SelectorError, parse_selector
from minipod.objects.errors import bad_request

Predicate = Callable[[dict], bool]


def split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t.strip() for t in terms if t.strip()]


def label_selector(selector: str | None) -> Predicate:
    """A predicate on a labels dict: minipod.kube.selectors' grammar, its
    parse errors as the API server's 400."""
    try:
        parsed = parse_selector(selector or "")
    except SelectorError as e:
        raise bad_request(str(e)) from None
    return parsed.matches


def _equality(term: str, what: str) -> tuple[str, str, str]:
    for op in ("!=", "==", "="):
        if op in term:
            key, value = term.split(op, 1)
            return key.strip(), "!=" if op == "!=" else "=", value.strip()
    raise bad_request(
        f"unable to parse requirement: found '{term}', expected: '=', '!=', '==', 'in', notin' in {what}"
    )


# Fields every kind can be selected by, and those of particular kinds.
COMMON_FIELDS = ("metadata.name", "metadata.namespace")
KIND_FIELDS = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Node": ("spec.unschedulable",),
}


def field_value(obj: dict, path: str) -> str:
    if path == "source":
        return ((obj.get("source") or {}).get("component")) or ""
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


def field_selector(kind: str, selector: str | None) -> Predicate:
    """A predicate on a whole object."""
    tests: list[Predicate] = []
    allowed = COMMON_FIELDS + KIND_FIELDS.get(kind, ())
    for term in split_terms(selector or ""):
        key, op, value = _equality(term, "fieldSelector")
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        tests.append(_field_test(key, op, value))
    return lambda obj: all(t(obj) for t in tests)


def _field_test(key: str, op: str, value: str) -> Predicate:
    def test(obj: dict) -> bool:
        return (field_value(obj, key) == value) is (op != "!=")

    return test
