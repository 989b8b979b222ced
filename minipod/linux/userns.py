"""User namespaces for `hostUsers: false` pods (user_namespaces(7)).

Each such pod gets its own range of 65536 host uids and gids: uid 0 in
the pod is host uid BASE, uid 1 is BASE+1, and so on. Root in the pod holds
capabilities only over what its user namespace owns (the pod's net, IPC,
UTS, pid and mount namespaces); to the rest of the host it is an
unprivileged user that owns nothing.

The daemon decides (pure):
    pick_range()       the first range of the instance's pool no live pod
                       holds (the pod records are the pool's ledger).
The forked children act, in order:
    1. unshare_mapped(): the sandbox helper forks a mapper, which stays in
       the host's user namespace, then creates the pod's user namespace
       together with the others (which it then owns); the mapper writes
       uid_map and gid_map from outside ("0 BASE 65536", as the kubelet
       asks of containerd); the pod init becomes root of the namespace
       (become_root()) once its own mounts are made.
    2. containers join it (join()) after their cgroup and their rootfs'
       host-side mounts (rootfs.py): the image layers and the pod's own
       files through id-mapped mounts (idmapped_tree()), so that an image
       file owned by root is owned by the pod's root.
"""

import os

from minipod.errors import MinipodError
from minipod.linux import syscalls as sc

SIZE = 65536  # ids per pod, as Kubernetes gives each user-namespaced pod


def pick_range(used: set[int], base: int, count: int) -> int:
    """The host base of the first free range of the pool [base, base +
    count * SIZE); `used` holds the bases live pods have."""
    for i in range(count):
        candidate = base + i * SIZE
        if candidate not in used:
            return candidate
    raise MinipodError(
        f"no free user namespace range: all {count} ranges of {SIZE} ids from {base} are in use",
        hint="delete a pod with hostUsers: false, or start the daemon with a larger --userns-ranges",
    )


def map_line(base: int) -> str:
    """One line of uid_map/gid_map: ids 0-65535 inside are BASE.. outside."""
    return f"0 {base} {SIZE}\n"


def write_maps(pid: int, base: int) -> None:
    """From outside the namespace (a process of the host's user namespace
    with CAP_SETUID and CAP_SETGID): the map of the process `pid`."""
    for name in ("uid_map", "gid_map"):
        path = f"/proc/{pid}/{name}"
        try:
            with open(path, "w") as f:
                f.write(map_line(base))
        except OSError as e:
            raise MinipodError(f"write {path} ({map_line(base).strip()}): {e.strerror}") from None


def unshare_mapped(flags: int, base: int) -> None:
    """Step 1, in the sandbox helper: unshare(CLONE_NEWUSER | flags). The
    kernel makes the user namespace first, so it owns the others. A process
    cannot map itself to ids it does not hold, so a forked mapper, still in
    the host's namespace, writes the maps. The caller keeps its host ids
    until become_root(): as the host's root it still owns (and so may
    walk through) the daemon's 0700 directories, to mount on them."""
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    helper = os.getpid()
    mapper = os.fork()
    if mapper == 0:
        os.close(go_w)
        os.close(done_r)
        status = b"ok"
        try:
            if os.read(go_r, 1) == b"m":
                write_maps(helper, base)
        except BaseException as e:  # noqa: BLE001 - reported to the helper
            status = str(e).encode()
        os.write(done_w, status)
        os._exit(0)
    os.close(go_r)
    os.close(done_w)
    try:
        sc.unshare(sc.CLONE_NEWUSER | flags)
        os.write(go_w, b"m")
        status = os.read(done_r, 4096)
    finally:
        os.close(go_w)
        os.close(done_r)
        os.waitpid(mapper, 0)
    if status != b"ok":
        raise MinipodError(f"user namespace: {status.decode(errors='replace') or 'the mapper died'}")


def become_root() -> None:
    """uid and gid 0 of the user namespace we are in (its range's base on
    the host). A process keeps its host ids when it enters a user
    namespace, and those are unmapped there: files it made would fail
    with EOVERFLOW. Capabilities survive, because the old ids were not
    the namespace's root (capabilities(7), "Effect of user ID changes")."""
    os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def join(path: str) -> None:
    """Step 2: enter the pod's user namespace (/proc/INIT/ns/user) as its root."""
    sc.setns(path, sc.CLONE_NEWUSER)
    become_root()


def idmapped_tree(source: str, userns_path: str) -> int:
    """A detached bind of `source` whose files are seen through the pod's
    id-mapping: a host file owned by uid N shows as uid N in the pod (and
    is written as N on disk). Made by host root: only it may id-map a
    mount of a host filesystem. Returns the tree's descriptor."""
    fd = sc.open_tree(source)
    try:
        userns = os.open(userns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.mount_setattr(fd, source, sc.MOUNT_ATTR_IDMAP, userns)
        finally:
            os.close(userns)
    except BaseException:
        os.close(fd)
        raise
    return fd
