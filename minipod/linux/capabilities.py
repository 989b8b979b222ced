"""Linux capabilities of a container process (capabilities(7)), via python-prctl.

Root in a container is not root on the host: minipod keeps only the set
Docker and the kubelet give by default, so a container cannot mount
filesystems (CAP_SYS_ADMIN), load modules (CAP_SYS_MODULE), trace host
processes (CAP_SYS_PTRACE) or change the clock (CAP_SYS_TIME).

Steps, in the container process, before it execs:
    1. compute the set: the default, plus securityContext.capabilities.add,
       minus .drop ("ALL" drops everything); privileged: true keeps all.
    2. drop every other capability from the bounding set, so no setuid
       binary or file capability can ever bring one back;
    3. limit the permitted, effective and inheritable sets to the same set.
A later setuid() to a non-root user clears permitted and effective (as with
Docker, a non-root container user starts with no effective capabilities).
"""

import prctl

# Docker's default set (moby: oci/caps/defaults.go), in the same order.
DEFAULT_CAPS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
]


def _read_last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


# Read once, in the daemon: the processes that drop capabilities may already
# have pivoted into a root without this file.
LAST_CAP = _read_last_cap()


def all_cap_names() -> list[str]:
    return sorted(n.upper() for n in prctl.ALL_CAP_NAMES)


def container_caps(security_context: dict | None) -> list[str]:
    """The capability names (without CAP_) a container gets."""
    sc = security_context or {}
    if sc.get("privileged"):
        return all_cap_names()
    caps = list(DEFAULT_CAPS)
    spec = sc.get("capabilities") or {}
    drop = {_norm(c) for c in spec.get("drop") or []}
    if "ALL" in drop:
        caps = []
    caps = [c for c in caps if c not in drop]
    for c in spec.get("add") or []:
        c = _norm(c)
        if c == "ALL":
            return all_cap_names()
        if c not in caps:
            caps.append(c)
    return caps


def _norm(name: str) -> str:
    name = name.upper()
    return name[4:] if name.startswith("CAP_") else name


def apply_caps(names: list[str]) -> None:
    """Reduce the calling process's capabilities to `names` (steps 2 and 3)."""
    drop_bounding(names)
    limit_sets(names)


def drop_bounding(names: list[str]) -> None:
    """Step 2: drop every capability not in `names` from the bounding set.
    Needs CAP_SETPCAP, so it runs while the process is still root."""
    keep = _cap_numbers(names)
    # Walk every capability the *kernel* knows, not only the ones this
    # python-prctl knows: a newer kernel has capabilities (e.g. 40,
    # CHECKPOINT_RESTORE) that an older library would silently keep.
    for cap in range(LAST_CAP + 1):
        if cap not in keep:
            try:
                prctl.capbset_drop(cap)
            except (OSError, ValueError):
                pass  # EINVAL: a capability this kernel does not have


def limit_sets(names: list[str]) -> None:
    """Step 3: limit the permitted, effective and inheritable sets to `names`.
    Runs after setuid(): setuid() itself needs CAP_SETUID, which a container
    that drops ALL would otherwise have lost already."""
    caps = sorted(_cap_numbers(names))
    prctl.cap_inheritable.limit(*caps)
    prctl.cap_effective.limit(*caps)
    prctl.cap_permitted.limit(*caps)


def _cap_numbers(names: list[str]) -> set[int]:
    return {getattr(prctl, "CAP_" + n) for n in names if hasattr(prctl, "CAP_" + n)}


def set_no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS): execve() can never grant more privileges
    (no setuid bits, no file capabilities) to this process or its children."""
    prctl.set_no_new_privs(1)
