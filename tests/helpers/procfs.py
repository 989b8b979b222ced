"""The host's view of a pod, read from /proc: namespaces, capabilities,
mount tables. Pids come from `minipod inspect` (helpers.pods.pids)."""

import os
import subprocess

DEFAULT_CAPS = 0x00000000A80425FB  # Docker's default set (moby oci/caps/defaults.go)
CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_ADMIN = 12, 16, 19, 21
NS = ("net", "ipc", "uts", "pid", "mnt")


def ns_inode(pid, nstype: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{nstype}").st_ino


def host_ns(nstype: str) -> set[int]:
    """The host's namespace of that type, seen from ourselves and from PID 1
    (when the host lets us look at its PID 1)."""
    out = {ns_inode("self", nstype)}
    try:
        out.add(ns_inode(1, nstype))
    except PermissionError:
        pass
    return out


def status(pid) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def caps(pid) -> dict[str, int]:
    s = status(pid)
    return {k: int(s[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def mountinfo(pid) -> list[dict]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return _parse_mountinfo(f.read())


def pod_mountinfo(init_pid) -> list[dict]:
    """The mount table of the pod's mount namespace. The pod init confines
    itself to a namespace of its own and keeps the pod's open on fd 3, so
    enter that one to read it."""
    out = subprocess.run(
        ["nsenter", f"--mount=/proc/{init_pid}/fd/3", "cat", "/proc/self/mountinfo"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return _parse_mountinfo(out)


def _parse_mountinfo(text: str) -> list[dict]:
    out = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        sep = fields.index("-")
        out.append(
            {
                "point": fields[4],
                "options": fields[5],
                "type": fields[sep + 1],
                "source": fields[sep + 2],
                "line": line,
            }
        )
    return out
