"""Times as Kubernetes writes them: RFC 3339 in UTC, whole seconds.

The API's metav1.Time is serialised as "2006-01-02T15:04:05Z"; the one
parser here also reads the fractional seconds some writers add (the shim's
exit files do).
"""

import calendar
import time


def rfc3339(epoch: float | None = None) -> str:
    """`epoch` (now when None) as "YYYY-MM-DDTHH:MM:SSZ"."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.frac]Z"."""
    base, _, frac = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(base[:19], "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float("0." + frac) if frac.isdigit() else 0.0)
