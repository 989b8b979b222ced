"""RFC 3339 times (kube/times.py): the day count agrees with the C
library's calendar on every kind of date, and bad text is a ValueError."""

import calendar
import random

import pytest

from minipod.kube.times import parse_rfc3339, rfc3339


def test_parse_agrees_with_timegm_across_centuries_and_leap_days():
    rng = random.Random(7)
    dates = ["1970-01-01T00:00:00", "2000-02-29T23:59:59", "2100-03-01T00:00:00", "1969-12-31T23:59:59"]
    for _ in range(2000):
        y, mo = rng.randint(1600, 2400), rng.randint(1, 12)
        d = rng.randint(1, calendar.monthrange(y, mo)[1])
        dates.append(
            f"{y:04d}-{mo:02d}-{d:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        )
    for text in dates:
        want = calendar.timegm(
            (
                int(text[:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
                0,
                0,
                0,
            )
        )
        assert parse_rfc3339(text + "Z") == want, text


def test_fractions_round_trip_and_offsets_are_not_read():
    assert parse_rfc3339("2026-11-26T18:38:11.5Z") == parse_rfc3339("2026-11-26T18:38:11Z") + 0.5
    assert parse_rfc3339(rfc3339(1_800_000_000)) == 1_800_000_000
    assert parse_rfc3339("2026-11-26T18:38:11+02:00") == parse_rfc3339("2026-11-26T18:38:11Z")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-11-26 18:38:11Z",
        "2026-1a-26T18:38:11Z",
        "2026-11-26T24:00:00Z",
    ],
)
def test_bad_times_are_value_errors(bad):
    with pytest.raises(ValueError):
        parse_rfc3339(bad)
