"""fsGroup: a pod's volumes belong to its group, as the kubelet makes them.

For each emptyDir of a pod with securityContext.fsGroup (the kubelet's
SetVolumeOwnership, which hostPath volumes do not get):
    1. decide: with fsGroupChangePolicy OnRootMismatch, nothing to do when
       the volume's root already has the group and the permissions
       (needs_change);
    2. act, walking the volume: every file and directory gets group
       fsGroup, the group's read and write bits (and execute for
       directories), and directories the setgid bit, so that what is
       created later inherits the group (apply).
"""

import os
import stat

SETGID = stat.S_ISGID


def wanted_mode(mode: int) -> int:
    """The permission bits a file keeps, with the group's added."""
    extra = stat.S_IRGRP | stat.S_IWGRP
    if stat.S_ISDIR(mode):
        extra |= stat.S_IXGRP | SETGID
    return stat.S_IMODE(mode) | extra


def needs_change(root_stat: os.stat_result, fs_group: int, policy: str | None) -> bool:
    if policy != "OnRootMismatch":
        return True  # Always (the default): walk every time
    return root_stat.st_gid != fs_group or stat.S_IMODE(root_stat.st_mode) != wanted_mode(root_stat.st_mode)


def apply(path: str, fs_group: int, policy: str | None = None) -> None:
    if not needs_change(os.lstat(path), fs_group, policy):
        return
    for parent, _dirs, files in os.walk(path):  # os.walk does not follow links
        _own(parent, fs_group)
        for name in files:
            _own(os.path.join(parent, name), fs_group)


def _own(p: str, fs_group: int) -> None:
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode):
        return  # the kubelet leaves symbolic links alone
    os.chown(p, -1, fs_group)
    os.chmod(p, wanted_mode(st.st_mode))
