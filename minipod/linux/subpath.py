"""subPath mounts that cannot be turned against the host.

A container can write into its volume. If the daemon bind-mounted
VOLUME/SUBPATH by name, a container that replaced SUBPATH (or a directory
on the way) by a symlink to `/` before a restart would get the host's root
mounted into it (CVE-2017-1002101, and CVE-2021-25741 for the race). As the
kubelet does since those fixes, in order:
    1. check(): in the daemon, before each start: resolve the path, and
       refuse it unless it stays inside the volume (a missing subPath is
       first made as a directory, one component at a time, never through
       a symlink);
    2. open_beneath(): in the container's child, at mount time: open each
       component with O_PATH|O_NOFOLLOW relative to the one before, from
       the volume's root, so a symlink planted after step 1 is refused,
       not followed;
    3. the mount's source is /proc/self/fd/N, that open file: what was
       checked is what gets mounted.
"""

import os
import stat

from minipod.errors import MinipodError


def _parts(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise MinipodError(f"subPath {rel!r} must not contain '..'")
    return parts


def open_beneath(root: str, rel: str, make_dirs_mode: int | None = None) -> int:
    """Step 2: an O_PATH descriptor of ROOT/REL, no symlink followed on
    the way (a missing directory is made with `make_dirs_mode`, if given).
    The caller closes it."""
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in _parts(rel):
            try:
                nfd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                if make_dirs_mode is None:
                    raise
                # mkdirat(2) relative to the checked parent; it never follows a symlink.
                os.mkdir(part, make_dirs_mode, dir_fd=fd)
                nfd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                if stat.S_ISDIR(os.fstat(nfd).st_mode):
                    os.chmod(f"/proc/self/fd/{nfd}", make_dirs_mode)  # the volume's mode, whatever the umask
            os.close(fd)
            fd = nfd
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise MinipodError(f"subPath {rel!r}: {part!r} is a symbolic link: refused")
        return fd
    except BaseException:
        os.close(fd)
        raise


def within(root: str, rel: str) -> str | None:
    """Step 1's check: ROOT/REL with every symlink resolved, relative to
    ROOT, or None when it leads out of ROOT."""
    base = os.path.realpath(root)
    resolved = os.path.realpath(os.path.join(base, rel))
    if resolved == base:
        return ""
    if not resolved.startswith(base + os.sep):
        return None
    return os.path.relpath(resolved, base)


def check(root: str, rel: str) -> str:
    """Step 1: make a missing subPath (a directory with the volume's mode),
    then return its resolved path relative to ROOT; raises when it leads
    out of the volume."""
    _parts(rel)
    mode = stat.S_IMODE(os.stat(root).st_mode)
    fd = None
    try:
        fd = open_beneath(root, rel, make_dirs_mode=mode)
    except MinipodError:
        pass  # a symlink on the way: resolved and judged below
    except FileNotFoundError:
        pass  # e.g. a dangling symlink: judged below
    finally:
        if fd is not None:
            os.close(fd)
    resolved = within(root, rel)
    if resolved is None or not os.path.exists(os.path.join(root, resolved)):
        raise MinipodError(f"subPath {rel!r} leads out of the volume")
    return resolved
