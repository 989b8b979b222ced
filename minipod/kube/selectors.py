"""Label selectors, as `kubectl get -l` sends them in `labelSelector`.

Equality-based requirements, comma-separated, all of which must hold:

    key=value, key==value   the label is there with that value
    key!=value              the label is absent or has another value
    key                     the label is there
    !key                    the label is absent

parse_selector() turns the text into a Selector once; Selector.matches()
then tests a pod's labels. An empty selector matches every pod.
Standard library only; pure.
"""

from collections.abc import Mapping
from dataclasses import dataclass

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "exists" or "!"
    value: str = ""

    def matches(self, labels: Labels) -> bool:
        if self.operator == "=":
            return labels.get(self.key) == self.value
        if self.operator == "!=":
            return labels.get(self.key) != self.value
        if self.operator == "exists":
            return self.key in labels
        return self.key not in labels


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Labels) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def parse_selector(text: str) -> Selector:
    out = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            out.append(Requirement(k.strip(), "!=", v.strip()))
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            out.append(Requirement(k.strip(), "=", v.strip()))
        elif term.startswith("!"):
            out.append(Requirement(term[1:].strip(), "!"))
        else:
            out.append(Requirement(term, "exists"))
    return Selector(tuple(out))
