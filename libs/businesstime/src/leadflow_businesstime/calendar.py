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
from functools import cached_property, lru_cache
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
        # Each interval must parse; order, touching and overlapping intervals are all fine (the
        # calendar works on their union), so "08:00-12:00", "11:00-24:00" means 08:00 to midnight.
        for text in value:
            parse_interval(text)
        return value

    def intervals(self, weekday: int) -> tuple[tuple[time, time, int], ...]:
        """The parsed intervals of ``weekday`` (0 = Monday)."""
        return _parsed(getattr(self, WEEKDAYS[weekday]))

    @property
    def empty(self) -> bool:
        """No interval on any weekday (the calendar that holds these hours is refused at load)."""
        return not any(getattr(self, day) for day in WEEKDAYS)


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

    @field_validator("closed_dates", mode="before")
    @classmethod
    def _expand_ranges(cls, value: object) -> object:
        """``closed_dates`` items may be ranges, ``"2026-07-06..2026-07-31"`` (both ends closed)."""
        if not isinstance(value, list | tuple):
            return value
        out: list[object] = []
        for item in value:
            if isinstance(item, str) and ".." in item:
                first_text, _, last_text = item.partition("..")
                try:
                    first, last = date.fromisoformat(first_text.strip()), date.fromisoformat(last_text.strip())
                except ValueError as exc:
                    raise ValueError(f"{item!r}: expected 'YYYY-MM-DD..YYYY-MM-DD'") from exc
                if last < first or (last - first).days > 3660:
                    raise ValueError(f"{item!r}: the range must run forwards and span at most ten years")
                out.extend(first + timedelta(days=n) for n in range((last - first).days + 1))
            else:
                out.append(item)
        return out

    @model_validator(mode="after")
    def _opens_at_all(self) -> BusinessCalendar:
        if self.hours.empty:
            raise ValueError(f"calendar {self.name!r} has no working time: hours has no interval on any weekday")
        if not self.has_working_time():
            raise ValueError(
                f"calendar {self.name!r} has no working time at all in 2025-2026 "
                "(every interval falls on a closed day or inside a DST gap)"
            )
        return self

    # --- derived views ---------------------------------------------------------------------------

    @cached_property
    def _closed(self) -> frozenset[date]:
        return frozenset(self.closed_dates)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def with_timezone(self, timezone: str, *, name: str | None = None) -> BusinessCalendar:
        """The same hours, holidays and closed dates, read in another zone (e.g. the prospect's)."""
        return self.model_copy(update={"timezone": _zone(timezone).key, "name": name or f"{self.name}@{timezone}"})

    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` (a local date) is closed although it has hours: a holiday's name, or None."""
        if day in self._closed:
            return "closed"
        if self.holidays is None:
            return None
        return _holiday_dates(self.holidays.country, self.holidays.subdivision, day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        """True if the local date ``day`` has working hours and is neither a holiday nor closed."""
        return bool(self.hours.intervals(day.weekday())) and self.holiday_name(day) is None

    def day_intervals(self, day: date) -> list[Interval]:
        """The opening intervals that *start* on the local date ``day``, as UTC instants, in order.

        Overlapping or touching intervals of the same day are returned as they are (sorted by
        start); ``intervals_from`` takes their union. A wall time that a DST gap skips maps to the
        instant the clocks jump, so an interval inside the gap is empty and left out.
        """
        if not self.is_working_day(day):
            return []
        return list(_day_intervals(self.hours.intervals(day.weekday()), self.timezone, day))

    def intervals_from(self, at: datetime) -> Iterator[Interval]:
        """Opening time that ends after ``at``, as disjoint UTC intervals in order; the first may contain ``at``.

        Intervals are not merged across their boundaries (a round-the-clock calendar would be one
        endless interval): consecutive intervals may touch. The iterator ends only when the
        calendar has no working time for ``_MAX_SEARCH_DAYS`` days in a row (``CalendarError``).
        """
        at_utc = _require_aware(at, "at")
        day = at_utc.astimezone(self.zone).date() - timedelta(days=2)  # overnight shifts that started earlier
        covered = at_utc  # nothing before ``at`` is yielded, and nothing twice
        idle_days = 0
        while idle_days < _MAX_SEARCH_DAYS:
            found = False
            for s, e in self.day_intervals(day):
                begin = max(s, covered)
                if e <= begin:
                    continue
                found = True
                yield begin, e
                covered = e
            idle_days = 0 if found else idle_days + 1
            day += timedelta(days=1)
        raise CalendarError(
            f"calendar {self.name!r} has no working time within {_MAX_SEARCH_DAYS} days after {covered.isoformat()}"
        )

    def has_working_time(self, around: date | None = None) -> bool:
        """True if the calendar opens at all in the ~two years around ``around`` (default: 2026-01-01)."""
        first = around or date(2026, 1, 1)
        return any(self.day_intervals(first + timedelta(days=n)) for n in range(-366, 366))

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
        """The end of the working time containing ``at`` (or of the next one if closed): touching
        intervals count as one, so Monday and Tuesday ``00:00-24:00`` close on Wednesday 00:00.
        A calendar that never closes within ``_MAX_SEARCH_DAYS`` days raises ``CalendarError``."""
        at_utc = _require_aware(at, "at")
        limit = at_utc + timedelta(days=_MAX_SEARCH_DAYS)
        end: datetime | None = None
        for s, e in self.intervals_from(at_utc):
            if end is not None and s > end:
                break
            end = e
            if end > limit:
                raise CalendarError(f"calendar {self.name!r} does not close within {_MAX_SEARCH_DAYS} days of {at}")
        assert end is not None  # intervals_from yields at least one interval or raises
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
            available = e - s
            if remaining <= available:
                return (s + remaining).astimezone(self.zone)
            remaining -= available
        raise CalendarError("unreachable")  # pragma: no cover - intervals_from raises first

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds between ``a`` and ``b``; negative if ``b`` is before ``a``."""
        a_utc, b_utc = _require_aware(a, "a"), _require_aware(b, "b")
        if b_utc < a_utc:
            return -self.business_seconds_between(b_utc, a_utc)
        if b_utc == a_utc:
            return 0.0
        total = timedelta(0)
        for s, e in self.intervals_from(a_utc):
            if s >= b_utc:
                break
            total += min(e, b_utc) - s
            if e >= b_utc:
                break
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
        # The working day that ``begin`` belongs to: the latest one whose interval contains it
        # (an overnight shift belongs to the day it started on).
        for offset in (0, -1, -2):
            candidate = start_day + timedelta(days=offset)
            if any(s <= begin < e for s, e in self.day_intervals(candidate)):
                start_day = candidate
                break
        first = _union(self.day_intervals(start_day))
        spent = sum(((min(e, begin) - s) for s, e in first if s < begin), timedelta(0))
        day = start_day
        counted = 0
        idle = 0
        while True:
            day += timedelta(days=1)
            if self.day_intervals(day):
                idle = 0
                counted += 1
                if counted == days:
                    break
            else:
                idle += 1
                if idle >= _MAX_SEARCH_DAYS:
                    raise CalendarError(f"calendar {self.name!r} has no working day within {_MAX_SEARCH_DAYS} days")
        target = _union(self.day_intervals(day))
        if spent <= timedelta(0):
            return target[0][0].astimezone(zone)
        remaining = spent
        for s, e in target:
            if remaining <= e - s:
                return (s + remaining).astimezone(zone)
            remaining -= e - s
        return target[-1][1].astimezone(zone)


def _union(intervals: list[Interval]) -> list[Interval]:
    """Sorted, overlapping or touching intervals merged into disjoint ones."""
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of the local wall time ``day wall``.

    An ambiguous time (DST overlap, the hour that repeats) is its first occurrence. A time that
    does not exist (DST gap) is the instant the clocks jump forward over it.
    """
    local = datetime.combine(day, wall, tzinfo=zone)
    first = local.astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return first
    # In a gap: fold=0 uses the offset before the jump (an instant after it), fold=1 the offset
    # after (an instant before it). The jump lies between them; find it to the second.
    low = local.replace(fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).utcoffset() == before:
            low = mid
        else:
            high = mid
    # Transitions fall on whole seconds: the first whole second after ``low``.
    return low.replace(microsecond=0) + timedelta(seconds=1)


@lru_cache(maxsize=65536)
def _day_intervals(parsed: tuple[tuple[time, time, int], ...], timezone: str, day: date) -> tuple[Interval, ...]:
    zone = _zone(timezone)
    out: list[Interval] = []
    for start, end, offset in parsed:
        s = _wall_to_utc(day, start, zone)
        e = _wall_to_utc(day + timedelta(days=offset), end, zone)
        if e > s:
            out.append((s, e))
    return tuple(sorted(out))
