"""The Pod Security Standards, checked as the API server's PodSecurity admission does.

Levels: privileged (anything goes), baseline (no known privilege
escalation) and restricted (hardened). Each check below is one of the
API server's (k8s.io/pod-security-admission/policy/check_*.go) for the
latest version, with its reason and its detail text; restricted runs the
baseline checks too, except the two it replaces with stricter ones
(capabilities, seccompProfile).

    evaluate(pod, level) -> [Violation(reason, detail)], in the API
        server's order (by check name);
    forbidden_message(name, level, violations)   the refusal:
        pods "x" is forbidden: violates PodSecurity "restricted:latest": ...
    warning_message(level, violations)           a `Warning:` line's text:
        would violate PodSecurity "baseline:latest": ...
    levels_of(labels) -> (enforce, warn, audit)  from a Namespace's labels
        pod-security.kubernetes.io/{enforce,warn,audit}[-version].

The checks themselves are in pod_security_checks.py. Pure functions,
standard library only.
"""

from dataclasses import dataclass
from typing import Any

from minipod.kube.pod_security_checks import BASELINE, RESTRICTED, Violation

__all__ = ["Policy", "Violation", "evaluate", "forbidden_message", "levels_of", "warning_message"]

LEVELS = ("privileged", "baseline", "restricted")
LABEL_PREFIX = "pod-security.kubernetes.io/"


def evaluate(pod: dict[str, Any], level: str) -> list[Violation]:
    """Every violation of `level` by the pod, in the API server's order."""
    checks = {"privileged": {}, "baseline": BASELINE, "restricted": RESTRICTED}[level]
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    out = []
    for name in sorted(checks):  # as Go sorts them: byte order
        v = checks[name](meta, spec)
        if v:
            out.append(v)
    return out


def forbidden_message(pod_name: str, level: str, version: str, violations: list[Violation]) -> str:
    joined = ", ".join(str(v) for v in violations)
    return f'pods "{pod_name}" is forbidden: violates PodSecurity "{level}:{version}": {joined}'


def warning_message(level: str, version: str, violations: list[Violation]) -> str:
    return f'would violate PodSecurity "{level}:{version}": ' + ", ".join(str(v) for v in violations)


@dataclass(frozen=True)
class Policy:
    level: str = "privileged"
    version: str = "latest"


def levels_of(labels: dict[str, Any] | None, default: Policy | None = None) -> dict[str, Policy]:
    """{"enforce": Policy, "warn": Policy, "audit": Policy} from a
    Namespace's labels; a mode without a label gets the instance default
    (privileged unless configured, as in Kubernetes)."""
    labels, default = labels or {}, default or Policy()
    out = {}
    for mode in ("enforce", "warn", "audit"):
        level = labels.get(LABEL_PREFIX + mode)
        if level is None:
            out[mode] = default
            continue
        if level not in LEVELS:
            level = "restricted"  # as the API server: an invalid level is the strictest
        out[mode] = Policy(level, labels.get(f"{LABEL_PREFIX}{mode}-version") or "latest")
    return out
