"""Crash-safe state: one JSON file per pod, never half-written.

The daemon can be SIGKILLed at any instant, so every write goes through
write_json_atomic():
    1. write the whole document to FILE.tmp-PID in the same directory;
    2. fsync() it, so its bytes are on disk before its name is;
    3. rename() it over FILE: rename(2) is atomic, so a reader (or the next
       daemon) sees either the old document or the new one, never a mix;
    4. fsync() the directory, so the rename itself survives a power cut.
A stray FILE.tmp-* left by a crash between 1 and 3 is ignored and removed.

Layout under the instance's lib dir:
    pods/NAMESPACE_NAME.json    the Pod object plus minipod's runtime facts
    events.json                 the most recent events (see events.py)
"""

import json
import os


def write_json_atomic(path: str, doc) -> None:
    directory = os.path.dirname(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_json(path: str, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


class PodStore:
    """Where pod records live on disk."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def _path(self, namespace: str, name: str) -> str:
        # Both are DNS-1123 names (validated), so '_' cannot occur in them.
        return os.path.join(self.directory, f"{namespace}_{name}.json")

    def save(self, record: dict) -> None:
        meta = record["metadata"]
        write_json_atomic(self._path(meta["namespace"], meta["name"]), record)

    def remove(self, namespace: str, name: str) -> None:
        try:
            os.unlink(self._path(namespace, name))
        except FileNotFoundError:
            pass

    def load_all(self) -> list[dict]:
        records = []
        for entry in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, entry)
            if ".tmp-" in entry:
                os.unlink(path)  # an interrupted write: the old file is intact
            elif entry.endswith(".json"):
                records.append(read_json(path))
        return records
