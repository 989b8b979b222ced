"""Kubernetes quantities ("500m", "128Mi", "1.5", "2e3"), exactly.

A quantity is a decimal number with an optional suffix: binary (Ki, Mi, Gi,
Ti, Pi, Ei), decimal (n, u, m, k, M, G, T, P, E) or an exponent (e3). The
API server keeps them exact; so does this module (fractions, never floats):

    parse()       "128Mi" -> Fraction(134217728)
    milli()       cpu in millicores, rounded up as Quantity.MilliValue() does
    value()       bytes (or any count), rounded up as Quantity.Value() does
    format_cpu()  millicores -> "250m" or "2", as kubectl prints cpu
    format_bytes() bytes -> "64Mi", "1Gi" or a plain number

Standard library only (the CLI imports it).
"""

import math
import re
from fractions import Fraction

_SUFFIX = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")


def parse(text: str | int | float) -> Fraction:
    """The exact value of a quantity. Raises ValueError on a malformed one
    (validation has refused those before anything reaches here)."""
    m = _QUANTITY.match(str(text).strip())
    if not m:
        raise ValueError(f"quantities must match the regular expression {_QUANTITY.pattern}: {text!r}")
    number, exponent, suffix = m.groups()
    value = Fraction(number)
    if exponent:
        value *= Fraction(10) ** int(exponent[1:])
    return value * _SUFFIX[suffix or ""]


def milli(text: str | int | float) -> int:
    """Millicores (or milli-anything), rounded up: "0.1" -> 100, "1n" -> 1."""
    return math.ceil(parse(text) * 1000)


def value(text: str | int | float) -> int:
    """Whole units (bytes for memory), rounded up."""
    return math.ceil(parse(text))


def format_cpu(millicores: int) -> str:
    """kubectl's cpu: whole cores as "2", else millicores as "250m"."""
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_bytes(n: int) -> str:
    """The canonical binary form when exact ("64Mi", "1536Ki"), else digits."""
    if n == 0:
        return "0"
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIX[suffix])
        if n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def format_quantity(name: str, amount: int) -> str:
    """A resource amount in minipod's units (millicores for cpu, whole units
    for the rest) as the API prints it."""
    return format_cpu(amount) if name == "cpu" else format_bytes(amount)
