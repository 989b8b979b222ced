"""tail_start(): the last N lines of a log file found from its end (issue 11, defect 5)."""

import io
import random

from minipod.api.pod_logs import tail_start


def last_lines(data: bytes, n: int) -> bytes:
    f = io.BytesIO(data)
    return data[tail_start(f, len(data), n, block=7) :]


def test_matches_splitlines_on_random_logs():
    rng = random.Random(11)
    for _ in range(300):
        data = b"".join(rng.choice([b"a", b"bc", b"\n", b"\n\n", b"xyz"]) for _ in range(rng.randrange(40)))
        for n in range(0, 6):
            want = b"".join(data.splitlines(keepends=True)[-n:]) if n else b""
            assert last_lines(data, n) == want, (data, n)


def test_reads_only_the_end_of_a_big_file():
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, size=-1):
            out = super().read(size)
            Counting.read_bytes += len(out)
            return out

    data = b"line\n" * 2_000_000  # 10 MB
    f = Counting(data)
    start = tail_start(f, len(data), 10)
    assert data[start:] == b"line\n" * 10
    assert Counting.read_bytes <= 70_000
