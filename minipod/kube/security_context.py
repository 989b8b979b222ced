"""Validation of the securityContext fields minipod's security code owns.

Kubernetes' own rules (pkg/apis/core/validation), with its wording, for:
    seccompProfile    Localhost needs a relative localhostProfile without
                      '..'; the other types take none;
    windowsOptions    refused: minipod runs Linux containers only.
check_pod() returns one message per problem, each starting with the field
path, for minipod.kube.validate to report with the rest. Standard library
only.
"""


def check_pod(pod: dict) -> list[str]:
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
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
    return errors


def _seccomp_problems(profile, path: str) -> list[str]:
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
