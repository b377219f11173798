"""Arrival rate over the window the data actually covers. Pure.

"Last 24 h" with two hours of data is two hours: the rate is the arrivals divided by the hours from the
first arrival (or the window's start, if data is older) to now — never divided by 24, never a partial
hour scaled up on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ArrivalRate:
    per_hour: float
    arrivals: int
    since: datetime | None
    """Start of the covered span (None: no arrivals in the window)."""
    hours: float
    """Hours the figure covers (0 without arrivals)."""
    window_hours: int


MIN_SPAN = timedelta(minutes=1)


def arrival_rate(arrivals: int, first_minute: datetime | None, now: datetime, window_hours: int) -> ArrivalRate:
    """``arrivals`` counted from ``max(now − window, first_minute)`` to ``now`` (minute buckets)."""
    if arrivals < 0:
        raise ValueError("arrivals must not be negative")
    if arrivals == 0 or first_minute is None:
        return ArrivalRate(0.0, 0, None, 0.0, window_hours)
    start = max(now - timedelta(hours=window_hours), first_minute)
    span = max(now - start, MIN_SPAN)
    hours = span.total_seconds() / 3600
    return ArrivalRate(arrivals / hours, arrivals, start, hours, window_hours)
