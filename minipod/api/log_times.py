"""The times of a container log's lines: `logs --timestamps` and `--since`.

The log file holds the container's bytes as written (pod_logs.py reads it
as it is). Beside it, the monitor (native/shim.c, --times) marks each piece
it writes, before writing it: a record of two native int64, the piece's
offset in the log and the wall clock in ns. A line's time is the time of
the last mark at or before its first byte: when the monitor read it, as
the kubelet's CRI log lines carry it. Marks grow with the log and rotate
with it, so they are read a block at a time, never all at once:
    since_offset()   where the first piece written at or after a time
                     begins (binary search: marks are in time order);
    first_after()    the same by offset, where a Stamper starts;
    Stamper.feed()   the bytes read, with "TIME " before each line, the
                     time in RFC 3339 with nanoseconds (trailing zeros
                     dropped), as Go's time.RFC3339Nano prints it.
A log without marks (its container started before they existed) takes
its file's modification time for every line.
"""

import collections
import datetime
import os
import struct
import time

from minipod.api.status import StatusError
from minipod.paths import log_times_path

MARK = struct.Struct("=qq")  # (offset, ns), as the shim writes them
BLOCK = 4096  # marks read at a time


def rfc3339_nano(ns: int) -> str:
    seconds, frac = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def parse_since_time(text: str) -> int:
    """sinceTime (RFC 3339, as kubectl --since-time sends it) in ns."""
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise StatusError(
            400, f'sinceTime: Invalid value: "{text}": expected an RFC 3339 time, e.g. 2024-01-02T15:04:05Z'
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


class Marks:
    """The marks of one log file, read on demand (the file may grow)."""

    def __init__(self, log_path: str):
        self.f = None
        try:
            self.f = open(log_times_path(log_path), "rb")
        except FileNotFoundError:
            pass
        try:
            self.fallback = os.stat(log_path).st_mtime_ns
        except FileNotFoundError:
            self.fallback = time.time_ns()

    def close(self) -> None:
        if self.f is not None:
            self.f.close()

    def count(self) -> int:
        return self.f.seek(0, os.SEEK_END) // MARK.size if self.f is not None else 0

    def at(self, i: int) -> tuple[int, int]:
        assert self.f is not None
        self.f.seek(i * MARK.size)
        return MARK.unpack(self.f.read(MARK.size))

    def since_offset(self, since_ns: int, size: int) -> int:
        """The offset of the first piece written at or after since_ns (size if none)."""
        n = self.count()
        if n == 0:
            return 0 if self.fallback >= since_ns else size
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.at(mid)[1] < since_ns:
                lo = mid + 1
            else:
                hi = mid
        return self.at(lo)[0] if lo < n else size

    def first_after(self, offset: int) -> int:
        """The index of the first mark whose piece begins after `offset`."""
        lo, hi = 0, self.count()
        while lo < hi:
            mid = (lo + hi) // 2
            if self.at(mid)[0] <= offset:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def block(self, i: int) -> list[tuple[int, int]]:
        """Up to BLOCK whole marks from the i-th on (fewer at the end)."""
        if self.f is None:
            return []
        self.f.seek(i * MARK.size)
        data = self.f.read(BLOCK * MARK.size)
        return list(MARK.iter_unpack(data[: len(data) - len(data) % MARK.size]))


class Stamper:
    """Puts each line's time before it, as the bytes of the log go by."""

    def __init__(self, marks: Marks, start: int):
        self.marks, self.offset, self.at_line_start = marks, start, True
        self.current = marks.fallback
        self.index = max(marks.first_after(start) - 1, 0)  # the mark of the line at start
        self.pending: collections.deque[tuple[int, int]] = collections.deque()

    def _time_at(self, offset: int) -> int:
        while True:
            if not self.pending:
                self.pending.extend(self.marks.block(self.index))  # marks written since, if any
                if not self.pending:
                    return self.current
            while self.pending and self.pending[0][0] <= offset:
                self.current = self.pending.popleft()[1]
                self.index += 1
            if self.pending:
                return self.current

    def feed(self, chunk: bytes) -> bytes:
        out = []
        parts = chunk.split(b"\n")  # only \n ends a line (a \r is a progress bar's)
        lines = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        for line in lines:
            if self.at_line_start:
                out.append(rfc3339_nano(self._time_at(self.offset)).encode() + b" ")
            out.append(line)
            self.offset += len(line)
            self.at_line_start = line.endswith(b"\n")
        return b"".join(out)
