"""Crash-safe state: one JSON file per pod, never half-written.

The daemon can be SIGKILLed at any instant, so every write goes through
minipod.fsutil.write_atomic() (temp file, rename): a reader, or the next
daemon, sees either the old document or the new one, never a mix. Only a
pod's first record is fsync'ed: a pod is saved at every step of its start,
and two fsyncs per save were a fifth of the daemon's time in a burst; a
power cut can cost a later record a few steps, never the pod. A stray temp file (fsutil.TEMP_MARK in its name)
left by a crash is ignored and removed.

Layout under the instance's lib dir:
    pods/NAMESPACE_NAME.json    the Pod object (with its status) plus minipod's
                                runtime record (record.py), migrated on load
    events.json                 the most recent events (see events.py)
"""

import json
import os
from collections.abc import Callable
from typing import Any

from minipod.fsutil import TEMP_MARK, read_json, write_atomic
from minipod.paths import object_file, path_in
from minipod.pod import record as rec
from minipod.pod import record_file
from minipod.pod.status import pod_status


def _print_problem(path: str, record: Any, problem: str) -> None:
    print(f"{path}: {problem}")


class PodStore:
    """Where pod records live on disk."""

    def __init__(self, directory: str):
        self.directory = directory
        self._last: dict[str, str] = {}  # path -> what we last wrote there
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def _path(self, namespace: str, name: str) -> str:
        return path_in(self.directory, object_file(namespace, name))

    def save(self, record: rec.PodRecord) -> None:
        path = self._path(*record.key)
        doc = record_file.to_json(record, pod_status(record))
        # Skip a write that would change nothing: a pod is saved after every
        # step of its worker, and most steps change only memory.
        data = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        last = self._last.get(path)
        if last == data:
            return
        # Mode 0600: env values from Secrets are in there.
        write_atomic(path, data.encode(), mode=0o600, durable=last is None)
        self._last[path] = data

    def remove(self, namespace: str, name: str) -> None:
        self._last.pop(self._path(namespace, name), None)
        try:
            os.unlink(self._path(namespace, name))
        except FileNotFoundError:
            pass

    def load_all(self, report: Callable[[str, Any, str], None] | None = None) -> list[rec.PodRecord]:
        """Every pod record that can be placed: a readable Pod whose valid
        namespace and name give back exactly its file's name. Anything else
        is reported (never silently dropped) and left where it is, for a
        human to look at: its pod is not managed by this daemon. Each is read
        once into a typed record (older formats migrated: record_file.from_json)."""
        from minipod.pod.record_check import misplaced_record_problem

        records = []
        for entry in sorted(os.listdir(self.directory)):
            path = os.path.join(self.directory, entry)
            if TEMP_MARK in entry:
                os.unlink(path)  # an interrupted write: the old file is intact
                continue
            problem: str | None
            try:
                record = read_json(path)
            except (OSError, ValueError) as e:
                record, problem = None, f"cannot read it: {e}"
            else:
                problem = misplaced_record_problem(entry, record)
            if problem:
                (report or _print_problem)(path, record, problem)
                continue
            try:
                records.append(record_file.from_json(record))
            except (TypeError, ValueError, KeyError) as e:
                (report or _print_problem)(
                    path, record, f"cannot read its runtime record: {type(e).__name__}: {e}"
                )
        return records
