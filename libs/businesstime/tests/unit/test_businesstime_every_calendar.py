"""Business time for every calendar an ops person can write: round the clock, days of 00:00-24:00,
intervals past midnight, touching and overlapping intervals, closed weeks, DST gaps and overlaps —
plus property tests over random calendars and instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from leadflow_businesstime import BusinessCalendar, CalendarError, ConfigError, load_calendar_file, parse_calendars

pytestmark = pytest.mark.unit

ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OSLO = ZoneInfo("Europe/Oslo")
NEW_YORK = ZoneInfo("America/New_York")
MICRO = timedelta(microseconds=1)


def make(hours: dict[str, Any], timezone: str = "Europe/Oslo", **extra: Any) -> BusinessCalendar:
    return BusinessCalendar.model_validate({"name": "t", "timezone": timezone, "hours": hours, **extra})


def around_the_clock(timezone: str = "Europe/Oslo", **extra: Any) -> BusinessCalendar:
    return make({d: ["00:00-24:00"] for d in ALL_DAYS}, timezone, **extra)


# --- round the clock ----------------------------------------------------------------------------


@pytest.mark.parametrize("timezone", ["Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "UTC"])
def test_round_the_clock_is_wall_time(timezone: str) -> None:
    cal = around_the_clock(timezone)
    start = datetime(2026, 3, 28, 22, 17, tzinfo=UTC)  # spans the EU spring-forward night
    for delta in (timedelta(seconds=1), timedelta(minutes=30), timedelta(hours=5), timedelta(days=9)):
        end = cal.add_business_time(start, delta)
        assert end == start + delta
        assert cal.business_seconds_between(start, end) == delta.total_seconds()
    assert cal.is_open(start)
    assert cal.next_open(start) == start


def test_round_the_clock_has_no_closing_time() -> None:
    with pytest.raises(CalendarError, match="does not close"):
        around_the_clock().next_close(datetime(2026, 6, 1, tzinfo=UTC))


def test_round_the_clock_with_holidays_closes_on_the_holiday_only() -> None:
    cal = around_the_clock(holidays={"country": "NO"})
    # 17 May 2026 (Sunday) is a Norwegian holiday: closed from 00:00 to 24:00 Oslo time.
    start = datetime(2026, 5, 16, 23, 0, tzinfo=OSLO)
    assert cal.add_business_time(start, timedelta(hours=2)) == datetime(2026, 5, 18, 1, 0, tzinfo=OSLO)
    assert cal.next_close(start) == datetime(2026, 5, 17, 0, 0, tzinfo=OSLO)


def test_round_the_clock_from_a_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "calendars.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": "1",
                "calendars": {"shifts": {"timezone": "Europe/Berlin", "hours": {d: ["00:00-24:00"] for d in ALL_DAYS}}},
            }
        )
    )
    cal = load_calendar_file(path).calendars["shifts"]
    sunday_night = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert cal.add_business_time(sunday_night, timedelta(minutes=60)) == sunday_night + timedelta(minutes=60)


# --- days of 00:00-24:00, past midnight, touching and overlapping -------------------------------


def test_weekdays_of_twenty_four_hours_skip_the_weekend() -> None:
    cal = make({d: ["00:00-24:00"] for d in ALL_DAYS[:5]})
    friday_late = datetime(2026, 3, 6, 23, 0, tzinfo=OSLO)
    assert cal.add_business_time(friday_late, timedelta(hours=2)) == datetime(2026, 3, 9, 1, 0, tzinfo=OSLO)
    assert cal.next_close(datetime(2026, 3, 2, 10, 0, tzinfo=OSLO)) == datetime(2026, 3, 7, 0, 0, tzinfo=OSLO)
    assert cal.business_seconds_between(friday_late, datetime(2026, 3, 9, 1, 0, tzinfo=OSLO)) == 2 * 3600


def test_touching_intervals_equal_one_interval() -> None:
    split = make({"mon": ["08:00-12:00", "12:00-16:00"]})
    whole = make({"mon": ["08:00-16:00"]})
    start = datetime(2026, 3, 2, 10, 0, tzinfo=OSLO)
    for minutes in (60, 120, 360, 480, 1000):
        delta = timedelta(minutes=minutes)
        assert split.add_business_time(start, delta) == whole.add_business_time(start, delta)
    assert split.next_close(start) == whole.next_close(start) == datetime(2026, 3, 2, 16, 0, tzinfo=OSLO)


def test_overlapping_and_unordered_intervals_count_once() -> None:
    messy = make({"mon": ["11:00-16:00", "08:00-12:00", "09:00-10:00"]})
    whole = make({"mon": ["08:00-16:00"]})
    a, b = datetime(2026, 3, 2, 7, 0, tzinfo=OSLO), datetime(2026, 3, 3, 7, 0, tzinfo=OSLO)
    assert messy.business_seconds_between(a, b) == whole.business_seconds_between(a, b) == 8 * 3600
    assert messy.add_business_time(a, timedelta(hours=9)) == whole.add_business_time(a, timedelta(hours=9))


def test_overnight_shift_overlapping_the_next_morning_counts_once() -> None:
    cal = make({"mon": ["20:00-06:00"], "tue": ["00:00-08:00"]})
    monday_evening = datetime(2026, 3, 2, 20, 0, tzinfo=OSLO)
    tuesday_morning = datetime(2026, 3, 3, 8, 0, tzinfo=OSLO)
    assert cal.business_seconds_between(monday_evening, tuesday_morning) == 12 * 3600
    assert cal.add_business_time(monday_evening, timedelta(hours=12)) == tuesday_morning
    assert cal.next_close(monday_evening) == tuesday_morning


# --- closed weeks -------------------------------------------------------------------------------


def test_closed_weeks_as_a_date_range() -> None:
    cal = make({d: ["08:00-16:00"] for d in ALL_DAYS[:5]}, closed_dates=["2026-07-06..2026-07-31", "2026-12-24"])
    assert len(cal.closed_dates) == 27
    friday = datetime(2026, 7, 3, 15, 0, tzinfo=OSLO)
    assert cal.add_business_time(friday, timedelta(hours=2)) == datetime(2026, 8, 3, 9, 0, tzinfo=OSLO)
    assert cal.business_seconds_between(friday, datetime(2026, 8, 3, 9, 0, tzinfo=OSLO)) == 2 * 3600


@pytest.mark.parametrize("bad", ["2026-07-31..2026-07-01", "2026-07-01..soon"])
def test_bad_closed_ranges_name_the_field(bad: str) -> None:
    doc = {
        "version": "1",
        "calendars": {"oslo": {"timezone": "Europe/Oslo", "hours": {"mon": "08:00-16:00"}, "closed_dates": [bad]}},
    }
    with pytest.raises(ConfigError, match=r"calendars\.yaml: calendars\.oslo\.closed_dates"):
        parse_calendars(doc, "calendars.yaml")


# --- DST ----------------------------------------------------------------------------------------


def test_interval_across_the_spring_gap_is_shorter() -> None:
    # Oslo springs forward on Sunday 29 March 2026 at 02:00 → 03:00.
    cal = make({"sun": ["01:30-02:30", "02:40-02:50", "03:00-04:00"]})
    day = date(2026, 3, 29)
    intervals = cal.day_intervals(day)
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 01:30 until the jump; the 02:40-02:50 interval does not exist that night; 03:00-04:00 as usual.
    assert intervals == [(jump - timedelta(minutes=30), jump), (jump, jump + timedelta(hours=1))]
    assert cal.business_seconds_between(datetime(2026, 3, 29, tzinfo=OSLO), datetime(2026, 3, 30, tzinfo=OSLO)) == 5400
    # The week after, the same hours are 2 h 10 min long again.
    later = cal.business_seconds_between(datetime(2026, 4, 5, tzinfo=OSLO), datetime(2026, 4, 6, tzinfo=OSLO))
    assert later == 3600 + 600 + 3600


def test_day_of_the_autumn_overlap_has_twenty_five_hours() -> None:
    cal = around_the_clock()
    start, end = datetime(2026, 10, 25, 0, 0, tzinfo=OSLO), datetime(2026, 10, 26, 0, 0, tzinfo=OSLO)
    assert cal.business_seconds_between(start, end) == 25 * 3600
    nine_to_five = make({"sun": ["00:00-02:30"]})
    # The repeated hour (02:00-03:00): the office closes at the first 02:30 (still summer time).
    # (Compared in UTC: Python never calls an ambiguous local time equal to another zone's.)
    first_0230 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert nine_to_five.next_close(datetime(2026, 10, 25, 1, 0, tzinfo=OSLO)).astimezone(UTC) == first_0230


def test_midnight_transition_zone() -> None:
    # Chile (America/Santiago) moves its clocks at 24:00; a day of 00:00-24:00 still runs to the next midnight.
    cal = around_the_clock("America/Santiago")
    start = datetime(2026, 4, 4, 12, 0, tzinfo=UTC)
    assert cal.add_business_time(start, timedelta(hours=36)) == start + timedelta(hours=36)


# --- no working time at all ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"timezone": "Europe/Oslo", "hours": {}},
        {"timezone": "Europe/Oslo", "hours": {"mon": None, "tue": []}},
        {"timezone": "Europe/Oslo", "hours": {"sun": ["08:00-09:00"]}, "closed_dates": ["2024-06-01..2027-06-30"]},
    ],
)
def test_calendar_with_no_working_time_is_refused_at_load(tmp_path: Path, spec: dict[str, Any]) -> None:
    path = tmp_path / "calendars.yaml"
    path.write_text(yaml.safe_dump({"version": "1", "calendars": {"nights": spec}}, default_flow_style=False))
    with pytest.raises(ConfigError) as excinfo:
        load_calendar_file(path)
    text = str(excinfo.value)
    assert text.startswith(str(path))
    assert "calendars.nights" in text
    assert "working" in text


def test_search_gives_up_with_a_clear_error() -> None:
    cal = make({"mon": ["08:00-09:00"]}, closed_dates=["2026-01-01..2034-12-31", "2035-01-01..2040-12-31"])
    with pytest.raises(CalendarError, match=r"calendar 't' has no working time within \d+ days"):
        cal.add_business_time(datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=5))


# --- properties over random calendars -----------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Oslo",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kathmandu",  # +05:45
    "Pacific/Apia",
    "America/St_Johns",
]


@st.composite
def clock_times(draw: st.DrawFn) -> str:
    hour = draw(st.integers(0, 23))
    minute = draw(st.sampled_from([0, 15, 30, 45, 1, 59]))
    return f"{hour:02d}:{minute:02d}"


@st.composite
def interval_texts(draw: st.DrawFn) -> str:
    start = draw(clock_times())
    end = draw(st.one_of(clock_times(), st.just("24:00")))
    assume(start != end)
    return f"{start}-{end}"


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    shape = draw(st.sampled_from(["random", "round_the_clock", "weekdays_24h", "one_slot"]))
    if shape == "round_the_clock":
        hours: dict[str, list[str]] = {d: ["00:00-24:00"] for d in ALL_DAYS}
    elif shape == "weekdays_24h":
        hours = {d: ["00:00-24:00"] for d in ALL_DAYS[:5]}
    elif shape == "one_slot":
        hours = {draw(st.sampled_from(ALL_DAYS)): [draw(interval_texts())]}
    else:
        hours = {d: draw(st.lists(interval_texts(), max_size=3)) for d in ALL_DAYS}
        assume(any(hours.values()))
    closed = draw(st.lists(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=10))
    if draw(st.booleans()):
        first = draw(st.dates(date(2026, 1, 1), date(2026, 12, 1)))
        closed.append(f"{first.isoformat()}..{(first + timedelta(days=13)).isoformat()}")  # type: ignore[arg-type]
    return BusinessCalendar.model_validate(
        {"name": "random", "timezone": draw(st.sampled_from(ZONES)), "hours": hours, "closed_dates": closed}
    )


instants = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))
deltas = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=4))
PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@PROPERTY
@given(cal=calendars(), start=instants, delta=deltas)
def test_add_and_between_are_inverse(cal: BusinessCalendar, start: datetime, delta: timedelta) -> None:
    end = cal.add_business_time(start, delta)
    assert end > start
    assert cal.business_seconds_between(start, end) == pytest.approx(delta.total_seconds(), abs=1e-6)
    assert cal.is_open(end - MICRO)  # the deadline is inside working time or exactly at a close
    # Going back: the business time from ``start`` to any instant, added to ``start``, reaches the
    # first instant with that much business time (the instant itself, or the last close before it).
    probe = start + delta
    spent = cal.business_seconds_between(start, probe)
    if spent > 0:
        back = cal.add_business_time(start, timedelta(seconds=spent))
        assert back <= probe
        assert cal.business_seconds_between(back, probe) == pytest.approx(0, abs=1e-6)


@PROPERTY
@given(cal=calendars(), start=instants, a=deltas, b=deltas)
def test_add_business_time_is_monotone_and_additive(
    cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert cal.add_business_time(start, small) <= cal.add_business_time(start, large)
    later = start + small
    assert cal.add_business_time(start, a) <= cal.add_business_time(later, a)
    assert cal.add_business_time(start, a + b) == cal.add_business_time(cal.add_business_time(start, a), b)


@PROPERTY
@given(cal=calendars(), x=instants, y=instants, z=instants)
def test_business_seconds_between_is_bounded_and_additive(
    cal: BusinessCalendar, x: datetime, y: datetime, z: datetime
) -> None:
    a, b, c = sorted((x, y, z))
    ab, bc, ac = (cal.business_seconds_between(*p) for p in ((a, b), (b, c), (a, c)))
    assert 0 <= ab <= (b - a).total_seconds()
    assert ac == pytest.approx(ab + bc, abs=1e-6)
    assert cal.business_seconds_between(c, a) == -ac


FIXED_ZONES = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    hours=st.fixed_dictionaries({d: st.lists(interval_texts(), max_size=3) for d in ALL_DAYS}),
    zone=st.sampled_from(FIXED_ZONES),
    instant=instants,
)
def test_is_open_matches_the_wall_clock(hours: dict[str, list[str]], zone: str, instant: datetime) -> None:
    """Without DST, ``is_open`` is a plain look-up of the local wall time in the weekly hours."""
    assume(any(hours.values()))
    cal = make(hours, zone)
    local = instant.astimezone(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6

    def covers(day_index: int, at_minute: float) -> bool:
        for text in hours[ALL_DAYS[day_index]]:
            start_text, end_text = text.split("-")
            start = int(start_text[:2]) * 60 + int(start_text[3:])
            end = int(end_text[:2]) * 60 + int(end_text[3:])
            if end <= start:
                end += 24 * 60
            if start <= at_minute < end:
                return True
        return False

    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    expected = covers(today, minute) or covers(yesterday, minute + 24 * 60)
    assert cal.is_open(instant) == expected


def test_calendar_time_parsing_accepts_round_the_clock_day() -> None:
    cal = make({"mon": ["00:00-24:00"]})
    monday = date(2026, 3, 2)
    ((s, e),) = cal.day_intervals(monday)
    assert s == datetime.combine(monday, time(0), tzinfo=OSLO)
    assert e - s == timedelta(hours=24)


def test_business_days_on_round_the_clock_and_overnight_calendars() -> None:
    cal = around_the_clock()
    start = datetime(2026, 6, 3, 13, 20, tzinfo=OSLO)
    assert cal.add_business_days(start, 1) == datetime(2026, 6, 4, 13, 20, tzinfo=OSLO)
    assert cal.add_business_days(start, 7) == datetime(2026, 6, 10, 13, 20, tzinfo=OSLO)
    nights = make({d: ["22:00-06:00"] for d in ALL_DAYS[:5]})
    # Tuesday 02:00 belongs to Monday's shift (4 h in); one working day later: Tuesday's shift, 4 h in.
    assert nights.add_business_days(datetime(2026, 3, 3, 2, 0, tzinfo=OSLO), 1) == datetime(
        2026, 3, 4, 2, 0, tzinfo=OSLO
    )


@PROPERTY
@given(cal=calendars(), start=instants, days=st.integers(1, 5))
def test_add_business_days_terminates_and_moves_forward(cal: BusinessCalendar, start: datetime, days: int) -> None:
    one = cal.add_business_days(start, days)
    assert one > start
    assert cal.is_open(one) or cal.is_open(one - MICRO)  # inside working time, at an opening or a close
    assert cal.add_business_days(start, days + 1) >= one
