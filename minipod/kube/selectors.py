"""Label selectors, as `kubectl get -l` takes them. Pure: no I/O.

Equality-based terms, comma meaning "and": a=b, a==b, a!=b, a (the label
exists), !a (it does not).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: dict[str, str]) -> bool:
        if self.op == "=":
            return labels.get(self.key) == self.value
        if self.op == "!=":
            return labels.get(self.key) != self.value
        if self.op == "exists":
            return self.key in labels
        return self.key not in labels


def parse_terms(selector: str) -> list[Term]:
    terms = []
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            terms.append(Term(k.strip(), "!=", v.strip()))
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            terms.append(Term(k.strip(), "=", v.strip()))
        elif term.startswith("!"):
            terms.append(Term(term[1:].strip(), "!exists"))
        else:
            terms.append(Term(term, "exists"))
    return terms


def parse_selector(selector: str) -> Callable[[dict[str, str]], bool]:
    """A function telling whether a pod's labels match `selector`."""
    terms = parse_terms(selector)
    return lambda labels: all(t.matches(labels) for t in terms)
