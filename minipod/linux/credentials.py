"""Who a container process is: its user, groups and capabilities.

user_from() decides, from the image's User, securityContext.runAsUser,
runAsGroup, supplementalGroups and fsGroup, and the entries of the
container's own /etc/passwd and /etc/group, which resolve_user() reads (the
caller has already pivoted into the container's root). become() acts, in runc's order (libcontainer's
finalizeNamespace and setupUser), in the container process before execve():
    1. drop the bounding set (needs CAP_SETPCAP: still root);
    2. PR_SET_KEEPCAPS, so that setresuid() to a non-root user does not
       wipe the permitted set half-way through;
    3. setgroups(), setresgid(), setresuid(): each needs its capability
       (CAP_SETGID, CAP_SETUID), which is why the sets are not reduced
       before (a container with `drop: [ALL]` and `runAsUser: 1000`
       could not switch user otherwise);
    4. clear PR_SET_KEEPCAPS, then set the permitted, effective,
       inheritable and ambient sets (capabilities.set_process_caps).
Every failure names its step and the ids, never a bare errno.
"""

import os
from dataclasses import dataclass
from typing import Literal

import prctl

from minipod import trace
from minipod.errors import MinipodError
from minipod.linux import capabilities


@dataclass(frozen=True)
class User:
    uid: int
    gid: int
    home: str
    groups: tuple[int, ...]  # supplementary groups, the primary one included


def resolve_user(
    spec: str,
    run_as_user: int | None,
    run_as_group: int | None,
    supplemental: tuple[int, ...] = (),
) -> User:
    """user_from() with the /etc/passwd and /etc/group of the filesystem we
    run in (the container's, after pivot_root)."""
    passwd, group_db = _read_db("/etc/passwd"), _read_db("/etc/group")
    return user_from(spec, run_as_user, run_as_group, supplemental, passwd, group_db)


def user_from(
    spec: str,
    run_as_user: int | None,
    run_as_group: int | None,
    supplemental: tuple[int, ...],
    passwd: list[list[str]],
    group_db: list[list[str]],
) -> User:
    """Turn the image's User ("", "1000", "nobody", "1000:100", "app:app") and
    the securityContext into numbers, with the entries of /etc/passwd and
    /etc/group (parse_db). As the kubelet does, the groups are the primary
    group, the user's groups from /etc/group, then supplementalGroups and
    fsGroup (`supplemental`). A name in neither file is an error; a number
    need not be in them. Pure."""
    name, _, group = (spec or "").partition(":")
    uid, gid, home = 0, 0, "/"
    if run_as_user is not None:
        uid = run_as_user
        entry = next((e for e in passwd if e[2] == str(uid)), None)
    elif name:
        entry = next((e for e in passwd if name in (e[0], e[2])), None)
        if entry is None and not name.isdigit():
            raise MinipodError(f"unable to find user {name}: no matching entries in passwd file")
        uid = int(entry[2]) if entry else int(name)
    else:
        entry = next((e for e in passwd if e[2] == "0"), None)
    if entry:
        gid, home = int(entry[3]), entry[5] if len(entry) > 5 else "/"
    if run_as_group is not None:
        gid = run_as_group
    elif group:
        g = next((e for e in group_db if group in (e[0], e[2])), None)
        if g is None and not group.isdigit():
            raise MinipodError(f"unable to find group {group}: no matching entries in group file")
        gid = int(g[2]) if g else int(group)
    user_name = entry[0] if entry else None
    extra = [int(e[2]) for e in group_db if user_name and len(e) > 3 and user_name in e[3].split(",")]
    return User(uid, gid, home, tuple(sorted({gid, *extra, *supplemental})))


def parse_db(text: str) -> list[list[str]]:
    """The entries of an /etc/passwd or /etc/group text, split at ':'
    (lines with fewer than three fields skipped)."""
    return [line.split(":") for line in text.splitlines() if line.count(":") >= 2]


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return parse_db(f.read())
    except OSError:
        return []  # an image without the file: numbers only


def become(user: User, caps: list[str]) -> None:
    """Steps 1-4 of the module docstring."""
    with step("drop the capability bounding set"):
        capabilities.drop_bounding(caps)
    with step("set PR_SET_KEEPCAPS"):
        prctl.set_keepcaps(True)
    with step(f"setgroups({list(user.groups)})"):
        os.setgroups(list(user.groups))
    with step(f"setresgid({user.gid})"):
        os.setresgid(user.gid, user.gid, user.gid)
    with step(f"setresuid({user.uid})"):
        os.setresuid(user.uid, user.uid, user.uid)
    with step("clear PR_SET_KEEPCAPS"):
        prctl.set_keepcaps(False)
    with step("set the capability sets"):
        capabilities.set_process_caps(caps, root=user.uid == 0)


class step:
    """`with step("setresuid(1000)"):` turns a failure inside into a
    MinipodError that names the step: "setresuid(1000): Operation not
    permitted", not a Python exception's repr in a pod's status. In a
    traced pod, each step is also a span (minipod/trace.py)."""

    def __init__(self, name: str):
        self.name = name
        self.span = trace.span(name)

    def __enter__(self) -> None:
        self.span.__enter__()
        return None

    def __exit__(self, kind, error, tb) -> Literal[False]:
        self.span.__exit__(kind, error, tb)
        if error is None or isinstance(error, MinipodError):
            return False
        if isinstance(error, OSError):
            raise MinipodError(f"{self.name}: {error.strerror or error}") from None
        if isinstance(error, Exception):
            raise MinipodError(f"{self.name}: {error}") from None
        return False
