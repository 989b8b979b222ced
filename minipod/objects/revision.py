"""The instance-wide resourceVersion: one counter for every object of
every kind, that never goes backwards, not even across a SIGKILL.

Writing the counter to disk on every change would cost an fsync per
write. Instead the counter reserves blocks, as sequence generators do:
    1. the file holds a ceiling; numbers handed out stay below it;
    2. when the counter reaches the ceiling, the new ceiling
       (+ BLOCK) is written atomically and fsynced *before* the next
       number is handed out;
    3. a restarted daemon starts at the saved ceiling (or above the
       highest resourceVersion of any saved object).
A crash skips at most BLOCK numbers and never hands one out twice.
"""

import os

from minipod.fsutil import read_json, write_json_atomic

BLOCK = 1000


class Revision:
    def __init__(self, path: str, at_least: int = 0):
        self.path = path
        saved = int((read_json(path, {}) or {}).get("ceiling", 0))
        self.current = max(saved, at_least)
        self.ceiling = self.current
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)

    def next(self) -> int:
        self.current += 1
        if self.current >= self.ceiling:
            self.ceiling = self.current + BLOCK
            write_json_atomic(self.path, {"ceiling": self.ceiling})
        return self.current
