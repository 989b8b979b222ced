"""A container's declared environment, as the kubelet's
makeEnvironmentVariables builds it, in order:
    1. envFrom, source by source: every key of the ConfigMap or Secret,
       with `prefix`; a key that is not a valid variable name is skipped,
       and one warning event (InvalidEnvironmentVariableNames) names them;
       a missing object is skipped if `optional`, else an error;
    2. env, in order: `value` with $(VAR) expanded against what is defined
       so far; valueFrom fieldRef (the downward API), resourceFieldRef,
       configMapKeyRef and secretKeyRef (missing object or key: skipped if
       `optional`, else an error with the kubelet's message).
Errors are ConfigRefError; the container then waits with
CreateContainerConfigError until the object appears.

Pure: objects come through a ConfigLookup (config_refs.py).
"""

from dataclasses import dataclass, field
from typing import Any

from minipod.kube import downward_api
from minipod.linux.launch_spec import expand
from minipod.pod.config_refs import CONFIGMAP, SECRET, ConfigLookup, ConfigRefError, fetch


@dataclass
class ResolvedEnv:
    declared: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # InvalidEnvironmentVariableNames messages


def valid_name(name: str) -> bool:
    """apimachinery's IsRelaxedEnvVarName (the rule since Kubernetes 1.32)."""
    return bool(name) and all(32 <= ord(ch) <= 126 and ch != "=" for ch in name)


def _text(b: bytes) -> str:
    return b.decode(errors="replace")


def resolve(
    container: dict[str, Any],
    pod: dict[str, Any],
    lookup: ConfigLookup,
    pod_ip: str = "",
    host_ip: str = "",
    allocatable: dict[str, int] | None = None,
) -> ResolvedEnv:
    ns = pod["metadata"].get("namespace", "default")
    out = ResolvedEnv()
    env = out.declared
    for source in container.get("envFrom") or []:  # step 1
        kind, ref = (
            (CONFIGMAP, source["configMapRef"])
            if source.get("configMapRef")
            else (SECRET, source["secretRef"])
        )
        found = fetch(lookup, kind, ns, ref.get("name", ""), bool(ref.get("optional")))
        if found is None:
            continue
        invalid = []
        for key, raw in found.items():
            name = (source.get("prefix") or "") + key
            if valid_name(name):
                env[name] = _text(raw)
            else:
                invalid.append(name)
        if invalid:
            out.warnings.append(
                f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {kind.lower()} {ns}/{ref.get('name')} "
                "were skipped since they are considered invalid environment variable names."
            )
    for var in container.get("env") or []:  # step 2
        source = var.get("valueFrom")
        if not source:
            env[var["name"]] = expand(str(var.get("value") or ""), env)
            continue
        value = _value_from(source, container, pod, lookup, ns, pod_ip, host_ip, allocatable or {})
        if value is not None:
            env[var["name"]] = value
    return out


def _value_from(
    source: dict[str, Any],
    container: dict[str, Any],
    pod: dict[str, Any],
    lookup: ConfigLookup,
    ns: str,
    pod_ip: str,
    host_ip: str,
    allocatable: dict[str, int],
) -> str | None:
    """One valueFrom; None when an optional reference is not there."""
    if source.get("fieldRef"):
        return downward_api.field_value(source["fieldRef"]["fieldPath"], pod, pod_ip, host_ip)
    if source.get("resourceFieldRef"):
        ref = source["resourceFieldRef"]
        target = container
        if ref.get("containerName"):
            every = (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]
            target = next((c for c in every if c["name"] == ref["containerName"]), container)
        return downward_api.resource_value(target, ref["resource"], ref.get("divisor"), allocatable)
    kind, ref = (
        (CONFIGMAP, source["configMapKeyRef"])
        if source.get("configMapKeyRef")
        else (SECRET, source["secretKeyRef"])
    )
    optional = bool(ref.get("optional"))
    found = fetch(lookup, kind, ns, ref.get("name", ""), optional)
    if found is None:
        return None
    key = ref.get("key", "")
    if key not in found:
        if optional:
            return None
        raise ConfigRefError(f"couldn't find key {key} in {kind} {ns}/{ref.get('name', '')}")
    return _text(found[key])
