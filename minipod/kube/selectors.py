"""Label selectors, as `kubectl get -l` sends them in `labelSelector`.

Requirements, comma-separated, all of which must hold (apimachinery's
labels.Parse grammar):

    key=value, key==value     the label is there with that value
    key!=value                the label is absent or has another value
    key in (v1, v2)           the label is there with one of the values
    key notin (v1, v2)        the label is absent or has none of them
    key                       the label is there
    !key                      the label is absent
    key>N, key<N              the label is there and is an integer above/below N

Steps: tokens() cuts the text into identifiers and operators; parse_selector()
reads the requirements from them, once, into a Selector, or raises
SelectorError naming what it found and what it expected; Selector.matches()
tests a pod's labels. An empty selector matches every pod.
Standard library only; pure.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from minipod.errors import MinipodError

Labels = Mapping[str, str]

OPERATORS = ("=", "==", "!=", "in", "notin", ">", "<")
# The lexer's special characters (selector.go's special symbols); anything
# else up to one of them or a blank is an identifier.
_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|<|>|[^\s!=(),<>]+)")


class SelectorError(MinipodError):
    """A labelSelector that does not parse (the API answers 400)."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # one of OPERATORS, "exists" or "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Labels) -> bool:
        value = labels.get(self.key)
        if self.operator in ("=", "==", "in"):
            return value in self.values
        if self.operator in ("!=", "notin"):
            return value not in self.values
        if self.operator == "exists":
            return value is not None
        if self.operator == "!":
            return value is None
        # > and <: both sides integers, as the API server compares them.
        if value is None or not re.fullmatch(r"-?\d+", value):
            return False
        bound = int(self.values[0])
        return int(value) > bound if self.operator == ">" else int(value) < bound


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Labels) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __call__(self, labels: Labels) -> bool:  # a Selector is also a predicate
        return self.matches(labels)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.strip())


def parse_selector(text: str) -> Selector:
    toks = tokens(text)
    pos = 0

    def peek() -> str:
        return toks[pos] if pos < len(toks) else ""

    def take(expected: str) -> str:
        nonlocal pos
        tok = peek()
        if not _is_identifier(tok):
            raise SelectorError(f"unable to parse requirement: found '{tok}', expected: {expected}")
        pos += 1
        return tok

    def expect(symbol: str) -> None:
        nonlocal pos
        if peek() != symbol:
            raise SelectorError(f"unable to parse requirement: found '{peek()}', expected: '{symbol}'")
        pos += 1

    out: list[Requirement] = []
    while pos < len(toks):
        if peek() == "!":
            pos += 1
            out.append(Requirement(take("identifier"), "!"))
        else:
            key = take("identifier")
            op = peek()
            if op in ("", ","):
                out.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                pos += 1
                # `key=` selects an empty value, as the API server reads it.
                value = "" if peek() in ("", ",") else take("identifier for value")
                out.append(Requirement(key, op, (value,)))
            elif op in (">", "<"):
                pos += 1
                bound = take("integer")
                if not re.fullmatch(r"-?\d+", bound):
                    raise SelectorError(
                        f"unable to parse requirement: for '{op}' operator, the value must be an integer"
                    )
                out.append(Requirement(key, op, (bound,)))
            elif op in ("in", "notin"):
                pos += 1
                expect("(")
                values: list[str] = []
                if peek() != ")":
                    values.append(take("identifier for value"))
                    while peek() == ",":
                        pos += 1
                        values.append(take("identifier for value"))
                expect(")")
                if not values:
                    raise SelectorError(
                        "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"
                    )
                out.append(Requirement(key, op, tuple(values)))
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{op}', expected: "
                    "'=', '!=', '==', 'in', 'notin', '<', '>', ',' or end of string"
                )
        if pos < len(toks):
            expect(",")
            if pos == len(toks):
                raise SelectorError("unable to parse requirement: found '', expected: identifier after ','")
    return Selector(tuple(out))


def _is_identifier(tok: str) -> bool:
    return bool(tok) and tok not in ("!", "!=", "==", "=", "(", ")", ",", "<", ">", "in", "notin")
