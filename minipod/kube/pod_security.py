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
    levels_of(labels, defaults) -> {mode: Policy}  from a Namespace's labels
        pod-security.kubernetes.io/{enforce,warn,audit}[-version];
    label_errors(labels)   the API server's words for invalid ones.

The checks themselves are in pod_security_checks.py. Pure functions,
standard library only.
"""

import re
from dataclasses import dataclass
from typing import Any

from minipod.kube.pod_security_checks import BASELINE, RESTRICTED, Violation

__all__ = [
    "Policy",
    "Violation",
    "evaluate",
    "forbidden_message",
    "label_errors",
    "label_problems",
    "levels_of",
    "parse_level",
    "parse_version",
    "warning_message",
]

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

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


MODES = ("enforce", "audit", "warn")
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


def parse_level(value: str) -> tuple[str, str | None]:
    """(level, error): an invalid level is the strictest, as the API server reads it."""
    if value in LEVELS:
        return value, None
    return "restricted", "must be one of privileged, baseline, restricted"


def parse_version(value: str) -> tuple[str, str | None]:
    """(version, error): "latest" or "v1.N"; anything else is read as latest."""
    if value == "latest" or _VERSION.match(value):
        return value, None
    return "latest", 'must be "latest" or "v1.x"'


def levels_of(
    labels: dict[str, Any] | None, defaults: dict[str, Policy] | Policy | None = None
) -> dict[str, Policy]:
    """{"enforce": Policy, "audit": Policy, "warn": Policy} from a
    Namespace's labels, as the API server's PolicyToEvaluate: a mode
    without labels takes the instance default (privileged unless
    configured); a level label without a version label means latest; a
    version label alone goes with the default level."""
    return _policies(labels, defaults)[0]


def label_errors(labels: dict[str, Any] | None) -> list[str]:
    """What is wrong with a Namespace's pod-security labels, each naming
    the label as the API server does (metadata.labels[...]: Invalid value)."""
    return [f"{path}: {message}" for path, message in label_problems(labels)]


def label_problems(labels: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The same as (field path, message) pairs."""
    return _policies(labels, None)[1]


def _policies(
    labels: dict[str, Any] | None, defaults: dict[str, Policy] | Policy | None
) -> tuple[dict[str, Policy], list[tuple[str, str]]]:
    labels = labels or {}
    if not isinstance(defaults, dict):
        defaults = {mode: defaults or Policy() for mode in MODES}
    out, errors = {}, []
    for mode in MODES:
        policy = defaults[mode]
        level_key, version_key = LABEL_PREFIX + mode, f"{LABEL_PREFIX}{mode}-version"
        level = policy.level
        version = policy.version
        if level_key in labels:
            level, error = parse_level(str(labels[level_key]))
            if error:
                errors.append(_invalid(level_key, labels[level_key], error))
            elif version_key not in labels:
                version = "latest"
        if version_key in labels:
            version, error = parse_version(str(labels[version_key]))
            if error:
                errors.append(_invalid(version_key, labels[version_key], error))
        out[mode] = Policy(level, version)
    return out, errors


def _invalid(key: str, value: Any, error: str) -> tuple[str, str]:
    return f"metadata.labels[{key}]", f'Invalid value: "{value}": {error}'
