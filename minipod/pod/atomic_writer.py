"""The kubelet's AtomicWriter: a volume's files replaced all at once.

A configMap, secret, downwardAPI or projected volume is a directory that a
running container reads while the object behind it changes. The kubelet
lays it out so that a reader sees either the old set of files or the new
one, never a mix, an empty file or half a value:

    VOLUME/..2026_11_26_14_43_53.123456789/   the files of one version
    VOLUME/..data -> ..2026_11_26_14_43_53.123456789
    VOLUME/KEY -> ..data/KEY                  one symlink per top-level entry

write() carries out one update, in order:
    1. compare the payload with what ..data holds: nothing to do if equal;
    2. write every file, with its mode, into a new timestamped directory;
    3. make the user-visible symlinks that are missing (KEY -> ..data/KEY);
    4. point a new symlink ..data_tmp at the new directory and rename it
       over ..data: rename(2) is atomic, so every path through ..data
       switches at once;
    5. remove the timestamped directory before the previous one (the
       previous one stays one update longer, for a reader that went through
       ..data just before the switch), and the symlinks of keys that are gone.
"""

import os
import shutil
import time
from dataclasses import dataclass

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    """One file of a volume: its bytes and mode."""

    data: bytes
    mode: int = 0o644


Payload = dict[str, FileProjection]  # relative path -> file


def check_path(path: str) -> str | None:
    """Why a payload path is not allowed (as the kubelet's validatePath), or None."""
    if not path:
        return "must not be empty"
    if path.startswith("/"):
        return "must be a relative path"
    parts = path.split("/")
    if ".." in parts:
        return "must not contain '..'"
    if parts[0].startswith(".."):
        return "must not start with '..'"
    return None


def _current(target: str) -> str | None:
    """The timestamped directory ..data points at, or None."""
    try:
        return os.readlink(os.path.join(target, DATA_DIR))
    except OSError:
        return None


def _same(directory: str, payload: Payload) -> bool:
    """Step 1: does `directory` hold exactly this payload?"""
    found = set()
    for root, _dirs, files in os.walk(directory):
        for name in files:
            full = os.path.join(root, name)
            found.add(os.path.relpath(full, directory))
    if found != set(payload):
        return False
    for path, f in payload.items():
        full = os.path.join(directory, path)
        try:
            st = os.lstat(full)
            with open(full, "rb") as fh:
                if fh.read() != f.data or (st.st_mode & 0o7777) != f.mode:
                    return False
        except OSError:
            return False
    return True


def _timestamp_name() -> str:
    ns = time.time_ns()
    return time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime(ns // 10**9)) + f"{ns % 10**9:09d}"


def write(target: str, payload: Payload, owner: tuple[int, int] | None = None) -> bool:
    """Make `target` hold exactly `payload`; True if anything changed.
    `owner` (uid, gid) is given to every file (fsGroup makes it the group)."""
    for path in payload:
        problem = check_path(path)
        if problem:
            raise ValueError(f"invalid path {path!r}: {problem}")
    os.makedirs(target, mode=0o755, exist_ok=True)
    old = _current(target)
    if old and _same(os.path.join(target, old), payload):
        return False
    # Step 2: the new version, complete before anyone can see it.
    new = _timestamp_name()
    new_dir = os.path.join(target, new)
    os.mkdir(new_dir, 0o755)
    os.chmod(new_dir, 0o755)  # whatever the umask
    for path, f in sorted(payload.items()):
        full = os.path.join(new_dir, path)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, f.data)
            os.fchmod(fd, f.mode)
            if owner is not None:
                os.fchown(fd, *owner)
        finally:
            os.close(fd)
    # Step 3: KEY -> ..data/KEY for each top-level entry.
    top = {path.split("/", 1)[0] for path in payload}
    for name in top:
        link = os.path.join(target, name)
        if not os.path.islink(link):
            os.symlink(os.path.join(DATA_DIR, name), link)
    # Step 4: the switch.
    tmp_link = os.path.join(target, DATA_DIR_TMP)
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(new, tmp_link)
    os.rename(tmp_link, os.path.join(target, DATA_DIR))
    # Step 5: what the new version no longer has. The version just
    # replaced stays until the next update: a reader that went through
    # ..data a moment before the switch still finds its file.
    for name in os.listdir(target):
        path = os.path.join(target, name)
        if name.startswith("..") and name not in (DATA_DIR, new, old) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif not name.startswith("..") and name not in top and os.path.islink(path):
            os.unlink(path)
    return True
