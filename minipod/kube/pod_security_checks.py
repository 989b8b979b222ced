"""The checks of the Pod Security Standards, one function each, as the API
server's k8s.io/pod-security-admission/policy/check_*.go (latest version):
each takes the pod's metadata and spec and returns a Violation (reason,
detail) or None. BASELINE and RESTRICTED list them by the API server's
check names; minipod/kube/pod_security.py runs them.

Pure functions, standard library only.
"""

from dataclasses import dataclass
from typing import Any

from minipod.kube.sysctls import SAFE_SYSCTLS, normalize

# capabilities_baseline: what Docker grants by default may be added back.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUME_TYPES_ALLOWED = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


@dataclass(frozen=True)
class Violation:
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})"


# --- the API server's wording helpers -------------------------------------------


def pluralize(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def join_quote(items: Any) -> str:
    return ", ".join(f'"{i}"' for i in items)


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Init, regular, then ephemeral containers: the API server's order."""
    return [
        c
        for kind in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(kind) or []
        if isinstance(c, dict)
    ]


def _sc(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("securityContext") or {}


def _named(names: list[str]) -> str:
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


# An API server can relax runAsNonRoot, runAsUser and procMount for pods
# with hostUsers: false (KEP-127: root in the pod is not root on the host),
# behind the feature gate UserNamespacesPodSecurityStandards, which
# Kubernetes 1.32 ships alpha and off. minipod runs such pods in a user
# namespace (linux/userns.py) and, as a 1.32 API server, does not relax.
USER_NAMESPACES = False


def _user_namespace_pod(spec: dict[str, Any]) -> bool:
    return USER_NAMESPACES and spec.get("hostUsers") is False


# --- baseline checks ------------------------------------------------------------


def host_namespaces(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    on = sorted(f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k))
    return Violation("host namespaces", ", ".join(on)) if on else None


def privileged(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("privileged")]
    return (
        Violation("privileged", f"{_named(bad)} must not set securityContext.privileged=true")
        if bad
        else None
    )


def capabilities_baseline(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad, caps = [], set()
    for c in _containers(spec):
        added = [
            a for a in (_sc(c).get("capabilities") or {}).get("add") or [] if a not in BASELINE_CAPABILITIES
        ]
        if added:
            bad.append(c["name"])
            caps.update(added)
    if not bad:
        return None
    detail = f"{_named(bad)} must not include {join_quote(sorted(caps))} in securityContext.capabilities.add"
    return Violation("non-default capabilities", detail)


def host_path_volumes(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad = [v["name"] for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    if not bad:
        return None
    return Violation("hostPath volumes", f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}")


def host_ports(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad: list[str] = []
    ports: set[Any] = set()
    for c in _containers(spec):
        used = [p["hostPort"] for p in c.get("ports") or [] if p.get("hostPort")]
        if used:
            bad.append(c["name"])
            ports.update(str(p) for p in used)
    if not bad:
        return None
    detail = (
        f"{_named(bad)} {pluralize('uses', 'use', len(bad))} "
        f"{pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
    )
    return Violation("hostPort", detail)


def app_armor_profile(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad = []
    if (_sc(spec).get("appArmorProfile") or {}).get("type") == "Unconfined":
        bad.append('spec.securityContext.appArmorProfile.type="Unconfined"')
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(kind) or []):
            if (_sc(c).get("appArmorProfile") or {}).get("type") == "Unconfined":
                bad.append(f'spec.{kind}[{i}].securityContext.appArmorProfile.type="Unconfined"')
    for k, v in (meta.get("annotations") or {}).items():
        if k.startswith(APPARMOR_ANNOTATION) and not (v == "runtime/default" or v.startswith("localhost/")):
            bad.append(f'{k}="{v}"')
    if not bad:
        return None
    bad.sort()
    reason = pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad))
    return Violation(reason, ", ".join(bad))


def se_linux_options(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(opts: dict[str, Any]) -> bool:
        ok = True
        if opts.get("type", "") not in SELINUX_TYPES:
            ok = False
            bad_types.add(opts["type"])
        for key in ("user", "role"):
            if opts.get(key):
                ok, flags[key] = False, True
        return ok

    setters = []
    if _sc(spec).get("seLinuxOptions") and not valid(_sc(spec)["seLinuxOptions"]):
        setters.append("pod")
    bad = [
        c["name"]
        for c in _containers(spec)
        if _sc(c).get("seLinuxOptions") and not valid(_sc(c)["seLinuxOptions"])
    ]
    if bad:
        setters.append(_named(bad))
    if not setters:
        return None
    data = []
    if bad_types:  # as the API server: user and role are named only beside a bad type
        data.append(f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}")
        data += [f"{key} may not be set" for key in ("user", "role") if flags[key]]
    detail = f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"
    return Violation("seLinuxOptions", detail)


def proc_mount(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    if _user_namespace_pod(spec):
        return None
    bad, values = [], set()
    for c in _containers(spec):
        value = _sc(c).get("procMount")
        if value is not None and value != "Default":
            bad.append(c["name"])
            values.add(value)
    if not bad:
        return None
    return Violation(
        "procMount", f"{_named(bad)} must not set securityContext.procMount to {join_quote(sorted(values))}"
    )


def _seccomp_setters(spec: dict[str, Any], valid: Any) -> tuple[list[str], set[str], list[str], bool]:
    """(explicit bad setters, their values, containers without a profile,
    whether the pod sets a valid one)."""
    setters, values = [], set()
    pod_profile: Any = _sc(spec).get("seccompProfile")
    pod_valid = bool(pod_profile) and valid(pod_profile.get("type"))
    if pod_profile and not pod_valid:
        setters.append("pod")
        values.add(pod_profile.get("type"))
    bad, implicit = [], []
    for c in _containers(spec):
        profile = _sc(c).get("seccompProfile")
        if profile:
            if not valid(profile.get("type")):
                bad.append(c["name"])
                values.add(profile.get("type"))
        elif not pod_valid:
            implicit.append(c["name"])
    if bad:
        setters.append(_named(bad))
    return setters, values, implicit, pod_valid


def seccomp_profile_baseline(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    setters, values, _, _ = _seccomp_setters(spec, lambda t: t != "Unconfined")
    if not setters:
        return None
    return Violation(
        "seccompProfile",
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {join_quote(sorted(values))}",
    )


def sysctls(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad = [
        s.get("name", "")
        for s in _sc(spec).get("sysctls") or []
        if normalize(s.get("name", "")) not in SAFE_SYSCTLS
    ]
    return Violation("forbidden sysctls", ", ".join(bad)) if bad else None


def windows_host_process(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad = [c["name"] for c in _containers(spec) if (_sc(c).get("windowsOptions") or {}).get("hostProcess")]
    pod_wants = (_sc(spec).get("windowsOptions") or {}).get("hostProcess")
    if not bad and not pod_wants:
        return None
    setters = (["pod"] if pod_wants else []) + ([_named(bad)] if bad else [])
    return Violation(
        "hostProcess", f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
    )


# --- restricted checks ----------------------------------------------------------


def allow_privilege_escalation(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return Violation(
        "allowPrivilegeEscalation != false",
        f"{_named(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def capabilities_restricted(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    missing, adding, caps = [], [], set()
    for c in _containers(spec):
        spec_caps = _sc(c).get("capabilities")
        if not spec_caps:
            missing.append(c["name"])
            continue
        if "ALL" not in (spec_caps.get("drop") or []):
            missing.append(c["name"])
        added = [a for a in spec_caps.get("add") or [] if a != "NET_BIND_SERVICE"]
        if added:
            adding.append(c["name"])
            caps.update(added)
    details = []
    if missing:
        details.append(f'{_named(missing)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(
            f"{_named(adding)} must not include {join_quote(sorted(caps))} in securityContext.capabilities.add"
        )
    return Violation("unrestricted capabilities", "; ".join(details)) if details else None


def restricted_volumes(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    bad, kinds = [], set()
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        types = [k for k in v if k != "name"]
        wrong = [t for t in types if t not in RESTRICTED_VOLUME_TYPES_ALLOWED]
        if wrong:
            bad.append(v["name"])
            kinds.update(wrong)
    if not bad:
        return None
    detail = (
        f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} {pluralize('uses', 'use', len(bad))} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(kinds))} {join_quote(sorted(kinds))}"
    )
    return Violation("restricted volume types", detail)


def run_as_non_root(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    if _user_namespace_pod(spec):
        return None
    setters = []
    pod_value = _sc(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is False:
            explicit.append(c["name"])
        elif value is None and pod_value is not True:
            implicit.append(c["name"])
    if explicit:
        setters.append(_named(explicit))
    if setters:
        return Violation(
            "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        )
    if implicit:
        return Violation(
            "runAsNonRoot != true", f"pod or {_named(implicit)} must set securityContext.runAsNonRoot=true"
        )
    return None


def run_as_user(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    if _user_namespace_pod(spec):
        return None
    setters = ["pod"] if _sc(spec).get("runAsUser") == 0 else []
    bad = [c["name"] for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        setters.append(_named(bad))
    return Violation("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


def seccomp_profile_restricted(meta: dict[str, Any], spec: dict[str, Any]) -> Violation | None:
    setters, values, implicit, _ = _seccomp_setters(spec, lambda t: t in ("RuntimeDefault", "Localhost"))
    if setters:
        return Violation(
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {join_quote(sorted(values))}",
        )
    if implicit:
        return Violation(
            "seccompProfile",
            f'pod or {_named(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        )
    return None


# The checks of each level, by the API server's check names (it reports in
# the order of these names); restricted replaces two baseline checks.
BASELINE = {
    "appArmorProfile": app_armor_profile,
    "capabilities_baseline": capabilities_baseline,
    "hostNamespaces": host_namespaces,
    "hostPathVolumes": host_path_volumes,
    "hostPorts": host_ports,
    "privileged": privileged,
    "procMount": proc_mount,
    "seLinuxOptions": se_linux_options,
    "seccompProfile_baseline": seccomp_profile_baseline,
    "sysctls": sysctls,
    "windowsHostProcess": windows_host_process,
}
RESTRICTED = {
    **{k: v for k, v in BASELINE.items() if k not in ("capabilities_baseline", "seccompProfile_baseline")},
    "allowPrivilegeEscalation": allow_privilege_escalation,
    "capabilities_restricted": capabilities_restricted,
    "restrictedVolumes": restricted_volumes,
    "runAsNonRoot": run_as_non_root,
    "runAsUser": run_as_user,
    "seccompProfile_restricted": seccomp_profile_restricted,
}
