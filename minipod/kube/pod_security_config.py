"""The instance's PodSecurity configuration, in the API server's own format.

A kube-apiserver reads it from its admission configuration file; minipod
reads the PodSecurityConfiguration itself from ETC/pod-security.yaml
(optional: without it every mode defaults to privileged:latest and
nothing is exempt, as in Kubernetes):

    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline          # and enforce-version, audit, audit-version,
      enforce-version: latest    # warn, warn-version
    exemptions:
      usernames: []
      runtimeClasses: []
      namespaces: [kube-system]

load() reads it (a bad file stops the daemon with an error naming the
field, as a bad admission configuration stops an API server); parse() and
PodSecurityConfig.exemption() are pure.
"""

import os
from dataclasses import dataclass, field
from typing import Any

from minipod.errors import MinipodError
from minipod.kube.pod_security import MODES, Policy, parse_level, parse_version

FILE_NAME = "pod-security.yaml"
API_VERSIONS = ("pod-security.admission.config.k8s.io/v1", "pod-security.admission.config.k8s.io/v1beta1")


def _privileged() -> dict[str, Policy]:
    return {mode: Policy() for mode in MODES}


@dataclass(frozen=True)
class PodSecurityConfig:
    defaults: dict[str, Policy] = field(default_factory=_privileged)
    exempt_usernames: tuple[str, ...] = ()
    exempt_runtime_classes: tuple[str, ...] = ()
    exempt_namespaces: tuple[str, ...] = ()

    def exemption(self, namespace: str, username: str, spec: dict[str, Any]) -> str | None:
        """Why a request is exempt ("namespace", "user", "runtimeClass"), or None."""
        if namespace in self.exempt_namespaces:
            return "namespace"
        if username in self.exempt_usernames:
            return "user"
        if spec.get("runtimeClassName") and spec["runtimeClassName"] in self.exempt_runtime_classes:
            return "runtimeClass"
        return None


def load(etc: str) -> PodSecurityConfig:
    path = os.path.join(etc, FILE_NAME)
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return PodSecurityConfig()
    import yaml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise MinipodError(f"{path}: not valid YAML: {e}") from None
    return parse(data, path)


def parse(data: Any, path: str) -> PodSecurityConfig:
    if not isinstance(data, dict) or data.get("kind") != "PodSecurityConfiguration":
        raise MinipodError(f"{path}: expected kind: PodSecurityConfiguration")
    if data.get("apiVersion") not in API_VERSIONS:
        raise MinipodError(f"{path}: apiVersion: expected {API_VERSIONS[0]}, got {data.get('apiVersion')!r}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise MinipodError(f"{path}: defaults: expected a map of enforce, audit, warn and their -version")
    policies = {}
    for mode in MODES:
        level, error = parse_level(str(defaults.get(mode, "privileged")))
        if error:
            raise MinipodError(f'{path}: defaults.{mode}: invalid value "{defaults.get(mode)}": {error}')
        version, error = parse_version(str(defaults.get(f"{mode}-version", "latest")))
        if error:
            raise MinipodError(
                f'{path}: defaults.{mode}-version: invalid value "{defaults.get(f"{mode}-version")}": {error}'
            )
        policies[mode] = Policy(level, version)
    exemptions = data.get("exemptions") or {}
    lists = {}
    for key in ("usernames", "runtimeClasses", "namespaces"):
        value = exemptions.get(key) if isinstance(exemptions, dict) else None
        value = value or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MinipodError(f"{path}: exemptions.{key}: expected a list of names")
        lists[key] = tuple(value)
    return PodSecurityConfig(
        defaults=policies,
        exempt_usernames=lists["usernames"],
        exempt_runtime_classes=lists["runtimeClasses"],
        exempt_namespaces=lists["namespaces"],
    )
