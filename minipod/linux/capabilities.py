"""Linux capabilities of a container process (capabilities(7)), via python-prctl.

Root in a container is not root on the host: minipod keeps only the set
Docker and the kubelet give by default, so a container cannot mount
filesystems (CAP_SYS_ADMIN), load modules (CAP_SYS_MODULE), trace host
processes (CAP_SYS_PTRACE) or change the clock (CAP_SYS_TIME).

Steps, in the container process, before it execs:
    1. compute the set: the default, plus securityContext.capabilities.add,
       minus .drop ("ALL" drops everything); privileged: true keeps all.
    2. drop every other capability from the bounding set, so no setuid
       binary or file capability can ever bring one back (drop_bounding);
    -- the launcher switches to the container's user here, keeping the
       capabilities it needs for that (launch.py) --
    3. set the permitted and effective sets: the set for root, nothing for
       another user (as Docker); inheritable and ambient empty
       (set_process_caps).
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


def drop_bounding(names: list[str]) -> None:
    """Step 2: remove every capability not in `names` from the bounding set.
    Needs CAP_SETPCAP, so it runs while the process is still root."""
    keep = _numbers(names)
    # Walk every capability the *kernel* knows, not only the ones this
    # python-prctl knows: a newer kernel has capabilities (e.g. 40,
    # CHECKPOINT_RESTORE) that an older library would silently keep.
    for cap in range(LAST_CAP + 1):
        if cap not in keep:
            try:
                prctl.capbset_drop(cap)
            except (OSError, ValueError):
                pass  # EINVAL: a capability this kernel does not have


def set_process_caps(names: list[str], root: bool) -> None:
    """Step 3, after the switch to the container's user: the permitted and
    effective sets become `names` for root and empty for any other user (as
    Docker does: a non-root user gets no capabilities unless a file grants
    them). The inheritable set is emptied, as containerd and Docker do since
    CVE-2022-24769, which also empties the ambient set (an ambient
    capability must be inheritable, capabilities(7))."""
    caps = sorted(_numbers(names)) if root else []
    prctl.cap_inheritable.limit()
    prctl.cap_effective.limit(*caps)
    prctl.cap_permitted.limit(*caps)


def _numbers(names: list[str]) -> set[int]:
    return {getattr(prctl, "CAP_" + n) for n in names if hasattr(prctl, "CAP_" + n)}


def set_no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS): execve() can never grant more privileges
    (no setuid bits, no file capabilities) to this process or its children."""
    prctl.set_no_new_privs(1)
