"""Cron schedules as CronJobs write them, pure (the standard 5-field
syntax the CronJob controller parses, robfig/cron's).

    minute hour day-of-month month day-of-week
    each field: * | N | N-M | list,of,them | any of these /STEP
    months jan-dec and weekdays sun-sat by name; 7 is Sunday too;
    macros @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
As in cron, when both day-of-month and day-of-week are restricted (not
`*`), a day matches if either does.

parse(text) -> Schedule or ValueError; problem(text) -> the message or None;
next_after(schedule, t, zone) -> the first scheduled time after t (epoch
seconds), in the schedule's time zone; due(schedule, after, now, zone) ->
the latest scheduled time in (after, now], and how many were missed.
"""

import datetime
import zoneinfo
from dataclasses import dataclass

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, lowest, highest, names)
FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_star: bool
    weekdays_star: bool


def _value(text: str, low: int, names: list[str] | None, field: str) -> int:
    if names and text.lower() in names:
        return names.index(text.lower()) + (1 if low == 1 else 0)
    if not text.isdigit():
        raise ValueError(f"failed to parse int from {text}: in {field}")
    return int(text)


def _field(text: str, field: str, low: int, high: int, names: list[str] | None) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"bad step {step_text!r} in {field}")
            step = int(step_text)
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            start, end = _value(a, low, names, field), _value(b, low, names, field)
        else:
            start = _value(body, low, names, field)
            end = high if step_text else start
        if start < low:
            raise ValueError(f"beginning of range ({start}) below minimum ({low}): {part}")
        if end > high:
            raise ValueError(f"end of range ({end}) above maximum ({high}): {part}")
        if start > end:
            raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


def parse(text: str) -> Schedule:
    text = MACROS.get(text.strip(), text.strip())
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        raise ValueError("TZ or CRON_TZ is not supported in the schedule: use spec.timeZone")
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(parts)}: {text}")
    sets = [
        _field(p, name, low, high, names) for p, (name, low, high, names) in zip(parts, FIELDS, strict=True)
    ]
    weekdays = frozenset(d % 7 for d in sets[4])
    return Schedule(
        sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] in ("*", "?"), parts[4] in ("*", "?")
    )


def problem(text: str) -> str | None:
    try:
        parse(text)
    except ValueError as e:
        return str(e)
    return None


def zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _day_matches(s: Schedule, d: datetime.date) -> bool:
    dom = d.day in s.days
    dow = (d.isoweekday() % 7) in s.weekdays
    if s.days_star or s.weekdays_star:
        return dom and dow
    return dom or dow


def next_after(s: Schedule, t: float, zone: str | None = None) -> float:
    """The first scheduled time strictly after t (epoch seconds)."""
    tz = zoneinfo.ZoneInfo(zone) if zone else datetime.UTC
    start = datetime.datetime.fromtimestamp(t, tz).replace(second=0, microsecond=0) + datetime.timedelta(
        minutes=1
    )
    day = start.date()
    for _ in range(366 * 5):  # a schedule like Feb 29 on a Monday waits years
        if day.month in s.months and _day_matches(s, day):
            for hour in sorted(s.hours):
                for minute in sorted(s.minutes):
                    at = datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    if at >= start:
                        return at.timestamp()
        day += datetime.timedelta(days=1)
    raise ValueError("no time matches the schedule within five years")


def due(
    s: Schedule, after: float, now: float, zone: str | None = None, cap: int = 100
) -> tuple[float | None, int]:
    """(the latest scheduled time in (after, now], how many there were);
    counting stops at cap+1, as the controller's "too many missed start
    times" check does."""
    latest, count, t = None, 0, after
    while count <= cap:
        nxt = next_after(s, t, zone)
        if nxt > now:
            break
        latest, count, t = nxt, count + 1, nxt
    return latest, count
