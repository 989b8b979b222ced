"""Times as Kubernetes writes them: RFC 3339 in UTC, whole seconds.

The API's metav1.Time is serialised as "2006-01-02T15:04:05Z"; the one
parser here also reads the fractional seconds some writers add (the shim's
exit files do). It counts the days itself (days_from_civil) rather than
call time.strptime, whose import of calendar, datetime and locale costs
`minipod get pods` (which parses every pod's times) about 8 ms of start.
"""

import time


def rfc3339(epoch: float | None = None) -> str:
    """`epoch` (now when None) as "YYYY-MM-DDTHH:MM:SSZ"."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.frac]Z"; ValueError
    if TEXT is not one."""
    base, _, frac = text.rstrip("Z").partition(".")
    base = base[:19]  # as before: what follows the seconds (an offset) is not read
    if len(base) != 19 or [base[i] for i in (4, 7, 10, 13, 16)] != ["-", "-", "T", ":", ":"]:
        raise ValueError(f"time data {text!r} does not match format '%Y-%m-%dT%H:%M:%S'")
    fields = [base[0:4], base[5:7], base[8:10], base[11:13], base[14:16], base[17:19]]
    if not all(f.isdigit() and f.isascii() for f in fields):
        raise ValueError(f"time data {text!r} does not match format '%Y-%m-%dT%H:%M:%S'")
    year, month, day, hour, minute, second = map(int, fields)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second <= 61):
        raise ValueError(f"time data {text!r} is out of range")
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return seconds + (float("0." + frac) if frac.isdigit() else 0.0)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a date of the proleptic Gregorian calendar
    (Howard Hinnant's algorithm: years start in March, so the leap day is
    the last day of a year, and eras of 400 years repeat exactly)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
