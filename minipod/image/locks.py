"""The locks of the image store: flock(2) on files under IMAGES_DIR, so
that several processes (the daemon, pull processes, the CLI) can share one
store. A lock dies with its process, so a crash never leaves one held.

    lock             exclusive: whoever changes index.json, imports an
                     archive or deletes blobs and layers
    pulls.lock       shared by every pull for its whole run; deleting
                     unreferenced blobs and layers needs it exclusive, without
                     waiting (it is skipped, and done later, while a pull runs).
                     A pull may reuse a layer no image names yet (one a failed
                     pull left, or one it just unpacked): this lock keeps it.
    locks/<hex>      one per blob a pull is fetching: a second pull of the same
                     blob waits, then finds it in the store (created and
                     deleted only under pulls.lock, see blob_lock)

Order, to never deadlock: pulls.lock before lock; code holding lock takes
pulls.lock only with LOCK_NB. lock and pulls.lock are plain
minipod.fsutil.flocked() / try_flocked() locks; blob_lock() is below.
"""

import contextlib
import os

from minipod.fsutil import lock, open_lock, try_lock


@contextlib.contextmanager
def blob_lock(locks_dir: str, digest: str, on_wait=None):
    """Exclusive lock for fetching one blob; ON_WAIT() is called first if
    another process holds it. A sweep may delete lock files
    (under pulls.lock, which we hold shared): if the file we locked is no
    longer the one at PATH, lock again, so two processes never believe
    they hold the lock on two different inodes of one name."""
    os.makedirs(locks_dir, exist_ok=True)
    path = os.path.join(locks_dir, digest.replace(":", "-"))
    while True:
        fd = open_lock(path)
        try:
            if not try_lock(fd):
                if on_wait:
                    on_wait()
                lock(fd)
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)
