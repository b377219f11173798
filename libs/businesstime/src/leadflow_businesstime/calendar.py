"""Business calendars: working hours per weekday in an IANA time zone, minus public holidays and closed dates.

Business time is *real elapsed time* spent inside opening hours. All arithmetic is done on
timezone-aware UTC instants, and opening hours are turned into instants day by day through
``zoneinfo``, so a DST change shortens or lengthens the affected interval exactly as a wall
clock on the office wall would (08:00-17:00 is always "eight to five local").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadflow_businesstime.errors import CalendarError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MAX_SEARCH_DAYS = 3700
"""How far ahead (about ten years) to look for working time before giving up."""

Interval = tuple[datetime, datetime]
"""A half-open span of opening time ``[start, end)`` as UTC instants."""


def _parse_clock(hours: str, minutes: str, text: str) -> tuple[int, int]:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m != 0):
        raise ValueError(f"{text!r}: times must be between 00:00 and 24:00")
    return h, m


def parse_interval(text: str) -> tuple[time, time, int]:
    """Parse ``"HH:MM-HH:MM"`` into (start, end, end_day_offset).

    An end of ``24:00`` or an end not after the start (``"22:00-06:00"``) means the interval
    closes on the following day (offset 1). An interval that starts at 24:00 is refused.
    """
    match = _INTERVAL.match(text)
    if match is None:
        raise ValueError(f"{text!r}: expected 'HH:MM-HH:MM', e.g. '08:00-16:30'")
    sh, sm = _parse_clock(match.group(1), match.group(2), text)
    eh, em = _parse_clock(match.group(3), match.group(4), text)
    if sh == 24:
        raise ValueError(f"{text!r}: an interval cannot start at 24:00")
    start = time(sh, sm)
    if eh == 24:
        return start, time(0, 0), 1
    end = time(eh, em)
    if end == start:
        raise ValueError(f"{text!r}: an interval must not be empty")
    return start, end, (1 if end < start else 0)


class WeeklyHours(BaseModel):
    """Working hours per weekday, each a list of ``"HH:MM-HH:MM"`` intervals. A missing day is closed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mon: tuple[str, ...] = ()
    tue: tuple[str, ...] = ()
    wed: tuple[str, ...] = ()
    thu: tuple[str, ...] = ()
    fri: tuple[str, ...] = ()
    sat: tuple[str, ...] = ()
    sun: tuple[str, ...] = ()

    @field_validator("mon", "tue", "wed", "thu", "fri", "sat", "sun", mode="before")
    @classmethod
    def _none_is_closed(cls, value: object) -> object:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    @classmethod
    def _valid_intervals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parsed = [parse_interval(v) for v in value]
        previous_end: tuple[int, time] | None = None
        for text, (start, end, offset) in zip(value, parsed, strict=True):
            if previous_end is not None and (0, start) < previous_end:
                raise ValueError(f"{text!r}: intervals must be in order and must not overlap")
            if previous_end is not None and previous_end[0] == 1:
                raise ValueError(f"{text!r}: nothing may follow an interval that runs past midnight")
            previous_end = (offset, end)
        return value

    def intervals(self, weekday: int) -> tuple[tuple[time, time, int], ...]:
        """The parsed intervals of ``weekday`` (0 = Monday)."""
        return _parsed(getattr(self, WEEKDAYS[weekday]))

    @model_validator(mode="after")
    def _some_working_time(self) -> WeeklyHours:
        if not any(getattr(self, day) for day in WEEKDAYS):
            raise ValueError("no working hours on any weekday")
        return self


@lru_cache(maxsize=1024)
def _parsed(value: tuple[str, ...]) -> tuple[tuple[time, time, int], ...]:
    return tuple(parse_interval(v) for v in value)


class HolidaySource(BaseModel):
    """Public holidays from the ``holidays`` package: ISO country code and optional subdivision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str = Field(min_length=2, max_length=3)
    subdivision: str | None = None

    @model_validator(mode="after")
    def _supported(self) -> HolidaySource:
        problem = _holiday_source_problem(self.country, self.subdivision)
        if problem is not None:
            raise ValueError(problem)
        return self


@lru_cache(maxsize=256)
def _holiday_source_problem(country: str, subdivision: str | None) -> str | None:
    try:
        holidays_lib.country_holidays(country, subdiv=subdivision, years=2026)
    except NotImplementedError:
        return f"country {country!r} is not supported by the holidays package"
    except Exception as exc:  # the package raises NotImplementedError or ValueError for a bad subdivision
        return f"subdivision {subdivision!r} of {country!r}: {exc}"
    return None


@lru_cache(maxsize=512)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    found = holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
    return {day: str(name) for day, name in found.items()}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


class BusinessCalendar(BaseModel):
    """Opening hours of a team (or of a prospect) in one time zone, with holidays and closed dates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    timezone: str
    hours: WeeklyHours
    holidays: HolidaySource | None = None
    closed_dates: tuple[date, ...] = ()
    description: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        _zone(value)
        return value

    # --- derived views ---------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def with_timezone(self, timezone: str, *, name: str | None = None) -> BusinessCalendar:
        """The same hours, holidays and closed dates, read in another zone (e.g. the prospect's)."""
        return self.model_copy(update={"timezone": _zone(timezone).key, "name": name or f"{self.name}@{timezone}"})

    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` (a local date) is closed although it has hours: a holiday's name, or None."""
        if day in self.closed_dates:
            return "closed"
        if self.holidays is None:
            return None
        return _holiday_dates(self.holidays.country, self.holidays.subdivision, day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        """True if the local date ``day`` has working hours and is neither a holiday nor closed."""
        return bool(self.hours.intervals(day.weekday())) and self.holiday_name(day) is None

    def day_intervals(self, day: date) -> list[Interval]:
        """The opening intervals that *start* on the local date ``day``, as UTC instants."""
        if not self.is_working_day(day):
            return []
        zone = self.zone
        out: list[Interval] = []
        for start, end, offset in self.hours.intervals(day.weekday()):
            s = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
            e = datetime.combine(day + timedelta(days=offset), end, tzinfo=zone).astimezone(UTC)
            if e > s:  # a DST gap can swallow a tiny interval whole
                out.append((s, e))
        return out

    def intervals_from(self, at: datetime) -> Iterator[Interval]:
        """Merged opening intervals that end after ``at``, in order; the first may contain ``at``."""
        at_utc = _require_aware(at, "at")
        day = at_utc.astimezone(self.zone).date() - timedelta(days=1)  # yesterday's overnight shift
        pending: Interval | None = None
        for _ in range(_MAX_SEARCH_DAYS):
            for s, e in self.day_intervals(day):
                if pending is not None and s <= pending[1]:
                    pending = (pending[0], max(pending[1], e))
                    continue
                if pending is not None and pending[1] > at_utc:
                    yield pending
                pending = (s, e)
            day += timedelta(days=1)
        if pending is not None and pending[1] > at_utc:
            yield pending
        raise CalendarError(f"calendar {self.name!r} has no working time within {_MAX_SEARCH_DAYS} days of {at}")

    # --- the arithmetic --------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """True if ``at`` falls inside working hours."""
        at_utc = _require_aware(at, "at")
        first = next(self.intervals_from(at_utc))
        return first[0] <= at_utc < first[1]

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself if open, else the start of the next working interval (in the calendar's zone)."""
        at_utc = _require_aware(at, "at")
        start, _end = next(self.intervals_from(at_utc))
        return max(start, at_utc).astimezone(self.zone)

    def next_close(self, at: datetime) -> datetime:
        """The end of the working interval containing ``at`` (or of the next one if closed)."""
        _start, end = next(self.intervals_from(at))
        return end.astimezone(self.zone)

    def add_business_time(self, start: datetime, delta: timedelta) -> datetime:
        """The instant when ``delta`` of working time has passed since ``start``.

        Time outside working hours does not count; a result that lands exactly on a closing
        time is that closing time (not the next opening). Zero or negative deltas are refused.
        The result is in the calendar's time zone.
        """
        start_utc = _require_aware(start, "start")
        if delta <= timedelta(0):
            raise ValueError(f"delta must be positive, got {delta}")
        remaining = delta
        for s, e in self.intervals_from(start_utc):
            begin = max(s, start_utc)
            available = e - begin
            if remaining <= available:
                return (begin + remaining).astimezone(self.zone)
            remaining -= available
        raise CalendarError("unreachable")  # pragma: no cover - intervals_from raises first

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds between ``a`` and ``b``; negative if ``b`` is before ``a``."""
        a_utc, b_utc = _require_aware(a, "a"), _require_aware(b, "b")
        if b_utc < a_utc:
            return -self.business_seconds_between(b_utc, a_utc)
        total = timedelta(0)
        for s, e in self.intervals_from(a_utc):
            if s >= b_utc:
                break
            total += min(e, b_utc) - max(s, a_utc)
        return total.total_seconds()

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same working moment ``days`` working days later.

        ``start`` outside hours counts from the next opening. Monday 10:00 + 2 → Wednesday
        10:00; Friday 16:00 + 1 → Monday 16:00 (skipping holidays). If the target day is
        shorter than the working time already spent on the start day, its closing time.
        """
        if days <= 0:
            raise ValueError(f"days must be positive, got {days}")
        begin = self.next_open(start).astimezone(UTC)
        zone = self.zone
        start_day = begin.astimezone(zone).date()
        # The working day that ``begin`` belongs to: the one whose interval contains it
        # (an overnight shift belongs to the day it started on).
        for offset in (0, -1):
            candidate = start_day + timedelta(days=offset)
            if any(s <= begin < e for s, e in self.day_intervals(candidate)):
                start_day = candidate
                break
        first = self.day_intervals(start_day)
        spent = sum(((min(e, begin) - s) for s, e in first if s < begin), timedelta(0))
        day = start_day
        counted = 0
        for _ in range(_MAX_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.day_intervals(day):
                counted += 1
                if counted == days:
                    break
        else:
            raise CalendarError(f"calendar {self.name!r} has no working day within {_MAX_SEARCH_DAYS} days")
        target = self.day_intervals(day)
        if spent <= timedelta(0):
            return target[0][0].astimezone(zone)
        remaining = spent
        for s, e in target:
            if remaining <= e - s:
                return (s + remaining).astimezone(zone)
            remaining -= e - s
        return target[-1][1].astimezone(zone)
