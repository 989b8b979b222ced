"""Validation of the securityContext fields minipod's security code owns.

Kubernetes' own rules (pkg/apis/core/validation), with its wording, for:
    seccompProfile    Localhost needs a relative localhostProfile without
                      '..'; the other types take none;
    windowsOptions    refused: minipod runs Linux containers only;
    procMount         Unmasked needs hostUsers: false;
    hostUsers         false cannot go with hostNetwork, hostPID or hostIPC
                      (the field names as the API server spells them:
                      spec.HostPID and spec.HostIPC, capitalised).
check_pod() returns one message per problem, each starting with the field
path, for minipod.kube.validate to report with the rest.

apparmor_refusal() is the kubelet's AppArmor admission check: a pod that
asks for an AppArmor profile (anything but Unconfined, by field or by the
beta annotation) is rejected on a host without AppArmor, and, since
minipod does not load AppArmor profiles, on any host. Standard library
only.
"""

from typing import Any

APPARMOR_REASON = "AppArmor"
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def check_pod(pod: dict[str, Any]) -> list[str]:
    spec = pod["spec"] if isinstance(pod.get("spec"), dict) else {}
    errors: list[str] = []
    homes = [("spec.securityContext", spec.get("securityContext"))]
    for kind in ("initContainers", "containers"):
        items = spec.get(kind)
        for i, c in enumerate(items if isinstance(items, list) else []):  # else: pass 1 said so
            if isinstance(c, dict):
                homes.append((f"spec.{kind}[{i}].securityContext", c.get("securityContext")))
    for path, sc in homes:
        if isinstance(sc, dict):
            errors += _seccomp_problems(sc.get("seccompProfile"), f"{path}.seccompProfile")
            if sc.get("windowsOptions") is not None:
                errors.append(f"{path}.windowsOptions: forbidden: may not be set for a Linux pod")
            if sc.get("procMount") == "Unmasked" and spec.get("hostUsers") is not False:
                errors.append(
                    f'{path}.procMount: invalid value "Unmasked": `hostUsers` must be false to use `Unmasked`'
                )
    return errors + _host_users_problems(spec)


def _host_users_problems(spec: dict[str, Any]) -> list[str]:
    if spec.get("hostUsers") is not False:
        return []
    message = "Forbidden: when `pod.Spec.HostUsers` is false"
    fields = (("hostNetwork", "spec.hostNetwork"), ("hostPID", "spec.HostPID"), ("hostIPC", "spec.HostIPC"))
    return [f"{path}: {message}" for key, path in fields if spec.get(key)]


def wants_apparmor(pod: dict[str, Any]) -> bool:
    spec = pod["spec"] if isinstance(pod.get("spec"), dict) else {}
    profiles = [(spec.get("securityContext") or {}).get("appArmorProfile")]
    for kind in ("initContainers", "containers"):
        profiles += [(c.get("securityContext") or {}).get("appArmorProfile") for c in spec.get(kind) or []]
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    profiles += [{"type": v} for k, v in annotations.items() if k.startswith(APPARMOR_ANNOTATION)]
    return any(p and p.get("type") not in ("Unconfined", "unconfined") for p in profiles)


def apparmor_refusal(pod: dict[str, Any], host_has_apparmor: bool) -> str | None:
    """The message the pod is rejected with, or None."""
    if not wants_apparmor(pod):
        return None
    if not host_has_apparmor:
        return "Cannot enforce AppArmor: AppArmor is not enabled on the host"
    return "Cannot enforce AppArmor: minipod does not load AppArmor profiles"


def _seccomp_problems(profile: Any, path: str) -> list[str]:
    if not isinstance(profile, dict):
        return []
    kind, local = profile.get("type"), profile.get("localhostProfile")
    if kind == "Localhost":
        if not local:
            return [f"{path}.localhostProfile: required value: must be set when seccomp type is Localhost"]
        if not isinstance(local, str):
            return []
        if local.startswith("/"):
            return [f'{path}.localhostProfile: invalid value "{local}": must be a relative path']
        if ".." in local.split("/"):
            return [f"{path}.localhostProfile: invalid value \"{local}\": must not contain '..'"]
        return []
    if local is not None:
        return [
            f'{path}.localhostProfile: invalid value "{local}": can only be set when seccomp type is Localhost'
        ]
    return []
