"""Pod sysctls: which ones a kubelet lets a pod set (the one table of them).

A kubelet admits a pod's `spec.securityContext.sysctls` only when each is
on its allowlist: the "safe" set below (namespaced by the kernel, so they
cannot change the host or other pods), plus what an administrator allows
with allowedUnsafeSysctls in the instance's kubelet-config.yaml (namespaced
ones only). A net.*
sysctl is refused with hostNetwork, an IPC one with hostIPC, since there
it would be the host's. Anything else gets the pod rejected with reason
SysctlForbidden (the kubelet's sysctl admit handler).

Standard library only; pure.
"""

from typing import Any

# The kubelet's default allowlist (component-helpers sysctl.SafeSysctlAllowlist),
# with the namespace each one lives in.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced": "ipc",
    "net.ipv4.ip_local_port_range": "net",
    "net.ipv4.tcp_syncookies": "net",
    "net.ipv4.ping_group_range": "net",
    "net.ipv4.ip_unprivileged_port_start": "net",
    "net.ipv4.ip_local_reserved_ports": "net",
    "net.ipv4.tcp_keepalive_time": "net",
    "net.ipv4.tcp_fin_timeout": "net",
    "net.ipv4.tcp_keepalive_intvl": "net",
    "net.ipv4.tcp_keepalive_probes": "net",
    "net.ipv4.tcp_rmem": "net",
    "net.ipv4.tcp_wmem": "net",
}

FORBIDDEN_REASON = "SysctlForbidden"


def normalize(name: str) -> str:
    """Sysctl names may be written with slashes (net/ipv4/tcp_rmem): when
    the first separator is a slash, dots and slashes swap, as in Kubernetes."""
    seps = [i for i in (name.find("."), name.find("/")) if i >= 0]
    if seps and name[min(seps)] == "/":
        return name.translate(str.maketrans("./", "/."))
    return name


def namespace_of(name: str) -> str | None:
    """The namespace that holds a sysctl (the kubelet's NamespacedBy), or
    None for one that is the host's whatever the pod: never allowed."""
    if name in SAFE_SYSCTLS:
        return SAFE_SYSCTLS[name]
    if name.startswith("net."):
        return "net"
    if name.startswith(("kernel.shm", "kernel.msg", "fs.mqueue.")) or name == "kernel.sem":
        return "ipc"
    return None


def _allowed_unsafe(name: str, allowed: tuple[str, ...]) -> bool:
    """allowedUnsafeSysctls: names, or prefixes ending in '*' (kernel.msg*)."""
    return any(name == a or (a.endswith("*") and name.startswith(a[:-1])) for a in allowed)


def pod_sysctls(pod: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) of each of the pod's sysctls, names normalized."""
    sc = (pod.get("spec") or {}).get("securityContext") or {}
    return [(normalize(s.get("name", "")), str(s.get("value", ""))) for s in sc.get("sysctls") or []]


def forbidden_sysctl(pod: dict[str, Any], allowed_unsafe: tuple[str, ...] = ()) -> str | None:
    """The kubelet's refusal message for the pod's first disallowed sysctl,
    or None when every one is allowed (the safe set, plus the instance's
    allowedUnsafeSysctls when they are namespaced)."""
    spec = pod.get("spec") or {}
    for s in (spec.get("securityContext") or {}).get("sysctls") or []:
        name = normalize(s.get("name", ""))
        ns = SAFE_SYSCTLS.get(name)
        if ns is None and _allowed_unsafe(name, allowed_unsafe):
            ns = namespace_of(name)
        if ns is None:
            return f'forbidden sysctl: "{name}" not allowlisted'
        if (ns == "net" and spec.get("hostNetwork")) or (ns == "ipc" and spec.get("hostIPC")):
            return f'forbidden sysctl: "{name}" not allowed with host {ns} enabled'
    return None
