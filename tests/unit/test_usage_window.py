"""The CPU rate's window in `top` (pod/usage.py): pure bookkeeping, no root."""

from minipod.pod.usage import MIN_WINDOW, UsageReader


def test_a_reading_at_least_half_a_second_old_is_always_found_once_warm():
    r = UsageReader(root=None)
    assert r._remember("c", 0.0, 0) is None  # the first call has nothing to compare with
    assert r._remember("c", 0.1, 10) is None
    # From then on, calls 40 ms apart each find a reading >= MIN_WINDOW old.
    t, ns = 0.6, 100
    for _ in range(50):
        prev = r._remember("c", t, ns)
        assert prev is not None and MIN_WINDOW <= t - prev[0] <= 3 * MIN_WINDOW
        t, ns = t + 0.04, ns + 4
    assert len(r.samples["c"]) <= 4  # bounded


def test_old_readings_are_not_used():
    r = UsageReader(root=None)
    r._remember("c", 0.0, 0)
    assert r._remember("c", 120.0, 5) is None  # older than MAX_WINDOW
