"""Files that survive a crash, and locks that die with their process: the
one place minipod writes a file atomically or takes an flock(2).

write_atomic(), for every file another process (or the next daemon) reads:
    1. write the whole content to a temp file of a unique name in the
       same directory (two processes may write the same file at once);
    2. fsync() it, so its bytes are on disk before its name is;
    3. rename() it over the file: rename(2) is atomic, so a reader sees
       the old content or the new one, never a mix;
    4. fsync() the directory, so the rename itself survives a power cut.
Steps 2 and 4 guard against a power cut only: a process that dies (even
SIGKILLed) leaves the kernel's page cache intact, so 1 and 3 alone keep a
file whole for the next daemon. A file rewritten many times a second
(a pod's record, at every step of its start) may skip them on all but its
first write (`durable=False`): after a power cut it is then whole but
maybe a few steps old, which the daemon's recovery re-derives from the
processes it finds (none, after a reboot).
A temp file left by a crash between 1 and 3 has TEMP_MARK in its name.
write_json_atomic() writes a JSON document so; read_json() reads one back.

open_lock() opens a lock file (created 0600); lock() and try_lock() take an
flock on it, flocked() and try_flocked() for the length of a with-block:
the kernel drops it when the holder's last descriptor closes, so a
SIGKILLed holder never leaves one held.

Standard library only, and cheap to import: the CLI uses it.
"""

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

TEMP_MARK = ".tmp-"  # in the names of write_atomic()'s temp files


def write_atomic(path: str, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Replace PATH with DATA (steps 1-4 above; 1 and 3 without `durable`)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + TEMP_MARK, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json_atomic(path: str, doc: Any, mode: int = 0o644, indent: int | None = None) -> None:
    """write_atomic() of DOC as JSON (compact unless INDENT)."""
    separators = (",", ":") if indent is None else None
    write_atomic(path, json.dumps(doc, separators=separators, indent=indent).encode(), mode)


def read_json(path: str, default: Any = None) -> Any:
    """The JSON document at PATH, or DEFAULT when there is no such file."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def open_lock(path: str) -> int:
    """A descriptor on the lock file PATH, created if needed."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def lock(fd: int, mode: int = fcntl.LOCK_EX) -> None:
    """Take flock MODE (exclusive, or fcntl.LOCK_SH) on FD, waiting for it."""
    fcntl.flock(fd, mode)


def try_lock(fd: int) -> bool:
    """Take an exclusive flock on FD if no one holds one; never wait."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        return False


@contextlib.contextmanager
def flocked(path: str, mode: int = fcntl.LOCK_EX) -> Iterator[int]:
    """Hold flock MODE (exclusive, or fcntl.LOCK_SH) on PATH for the with-block."""
    fd = open_lock(path)
    try:
        lock(fd, mode)
        yield fd
    finally:
        os.close(fd)  # closing the file releases the lock


@contextlib.contextmanager
def try_flocked(path: str) -> Iterator[bool]:
    """Yield True holding an exclusive flock on PATH, or False at once if
    another process holds any lock on it."""
    fd = open_lock(path)
    try:
        yield try_lock(fd)
    finally:
        os.close(fd)
