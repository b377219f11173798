"""Relative date literals (TODAY, LAST_N_DAYS:n, THIS_WEEK…) as [start, end) ranges in the org's timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _month_start(d: date, months: int = 0) -> date:
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def _quarter_start(d: date, quarters: int = 0) -> date:
    first = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return _month_start(first, 3 * quarters)


def date_range(name: str, n: int | None, now: datetime, tz: str) -> tuple[date, date]:
    """[start, end) as local dates for the literal; `now` is aware UTC."""
    today = now.astimezone(ZoneInfo(tz)).date()
    day = timedelta(days=1)
    week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday
    k = n or 0
    table = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "THIS_WEEK": (week_start, week_start + 7 * day),
        "LAST_WEEK": (week_start - 7 * day, week_start),
        "NEXT_WEEK": (week_start + 7 * day, week_start + 14 * day),
        "THIS_MONTH": (_month_start(today), _month_start(today, 1)),
        "LAST_MONTH": (_month_start(today, -1), _month_start(today)),
        "NEXT_MONTH": (_month_start(today, 1), _month_start(today, 2)),
        "LAST_90_DAYS": (today - 90 * day, today + day),
        "NEXT_90_DAYS": (today + day, today + 91 * day),
        "THIS_QUARTER": (_quarter_start(today), _quarter_start(today, 1)),
        "LAST_QUARTER": (_quarter_start(today, -1), _quarter_start(today)),
        "NEXT_QUARTER": (_quarter_start(today, 1), _quarter_start(today, 2)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
        "LAST_N_DAYS": (today - k * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (k + 1) * day),
        "N_DAYS_AGO": (today - k * day, today - (k - 1) * day),
        "LAST_N_WEEKS": (week_start - 7 * k * day, week_start),
        "NEXT_N_WEEKS": (week_start + 7 * day, week_start + 7 * (k + 1) * day),
        "N_WEEKS_AGO": (week_start - 7 * k * day, week_start - 7 * (k - 1) * day),
        "LAST_N_MONTHS": (_month_start(today, -k), _month_start(today)),
        "NEXT_N_MONTHS": (_month_start(today, 1), _month_start(today, k + 1)),
        "N_MONTHS_AGO": (_month_start(today, -k), _month_start(today, -k + 1)),
        "LAST_N_QUARTERS": (_quarter_start(today, -k), _quarter_start(today)),
        "NEXT_N_QUARTERS": (_quarter_start(today, 1), _quarter_start(today, k + 1)),
        "LAST_N_YEARS": (date(today.year - k, 1, 1), date(today.year, 1, 1)),
        "NEXT_N_YEARS": (date(today.year + 1, 1, 1), date(today.year + k + 1, 1, 1)),
        "N_YEARS_AGO": (date(today.year - k, 1, 1), date(today.year - k + 1, 1, 1)),
    }
    return table[name]


def datetime_range(name: str, n: int | None, now: datetime, tz: str) -> tuple[datetime, datetime]:
    start, end = date_range(name, n, now, tz)
    zone = ZoneInfo(tz)
    return (
        datetime.combine(start, time(0), zone).astimezone(UTC),
        datetime.combine(end, time(0), zone).astimezone(UTC),
    )
