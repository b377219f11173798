"""Business-time arithmetic: weekends, lunch breaks, holidays, DST and several time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_businesstime import BusinessCalendar, CalendarError, parse_interval

pytestmark = pytest.mark.unit

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OSLO = ZoneInfo("Europe/Oslo")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")


def make(timezone: str = "Europe/Oslo", hours: dict | None = None, **extra: object) -> BusinessCalendar:
    hours = hours if hours is not None else {d: ["08:00-12:00", "13:00-16:00"] for d in WEEKDAYS}
    return BusinessCalendar.model_validate({"name": "t", "timezone": timezone, "hours": hours, **extra})


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


# --- add_business_time -------------------------------------------------------------------------


def test_inside_one_interval_adds_plainly() -> None:
    cal = make()
    assert cal.add_business_time(at(OSLO, 2026, 3, 2, 9, 0), timedelta(minutes=30)) == at(OSLO, 2026, 3, 2, 9, 30)


def test_lunch_break_does_not_count() -> None:
    cal = make()
    result = cal.add_business_time(at(OSLO, 2026, 3, 2, 11, 30), timedelta(hours=1))
    assert result == at(OSLO, 2026, 3, 2, 13, 30)


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    cal = make()
    result = cal.add_business_time(at(OSLO, 2026, 3, 6, 15, 30), timedelta(hours=1))  # Friday
    assert result == at(OSLO, 2026, 3, 9, 8, 30)  # Monday
    assert result.weekday() == 0


def test_start_on_saturday_counts_from_monday_opening() -> None:
    cal = make()
    result = cal.add_business_time(at(OSLO, 2026, 3, 7, 10, 0), timedelta(minutes=45))
    assert result == at(OSLO, 2026, 3, 9, 8, 45)


def test_landing_exactly_on_closing_time_is_closing_time() -> None:
    cal = make()
    assert cal.add_business_time(at(OSLO, 2026, 3, 2, 15, 0), timedelta(hours=1)) == at(OSLO, 2026, 3, 2, 16, 0)
    assert cal.add_business_time(at(OSLO, 2026, 3, 2, 11, 0), timedelta(hours=1)) == at(OSLO, 2026, 3, 2, 12, 0)


def test_delta_spanning_several_days() -> None:
    cal = make()  # 7 working hours a day
    result = cal.add_business_time(at(OSLO, 2026, 3, 2, 8, 0), timedelta(hours=20))
    # Mon 7h + Tue 7h + Wed 6h → Wednesday 08:00 + 6h of work = 15:00 (lunch skipped)
    assert result == at(OSLO, 2026, 3, 4, 15, 0)


def test_norwegian_constitution_day_is_closed() -> None:
    cal = make(holidays={"country": "NO"})
    assert date(2027, 5, 17).weekday() == 0  # a Monday in 2027
    result = cal.add_business_time(at(OSLO, 2027, 5, 14, 15, 30), timedelta(hours=1))  # Friday
    assert result == at(OSLO, 2027, 5, 18, 8, 30)
    assert cal.holiday_name(date(2027, 5, 17)) is not None
    assert not cal.is_open(at(OSLO, 2027, 5, 17, 10, 0))


def test_german_christmas_and_weekend() -> None:
    cal = make("Europe/Berlin", {d: ["08:00-17:00"] for d in WEEKDAYS}, holidays={"country": "DE"})
    # Thu 24 Dec 2026 16:30 + 1h: 30 min on Thursday, Fri 25 Dec is Christmas, then the weekend.
    result = cal.add_business_time(at(BERLIN, 2026, 12, 24, 16, 30), timedelta(hours=1))
    assert result == at(BERLIN, 2026, 12, 28, 8, 30)


def test_extra_closed_dates() -> None:
    cal = make(closed_dates=["2026-03-03"])
    result = cal.add_business_time(at(OSLO, 2026, 3, 2, 15, 30), timedelta(hours=1))
    assert result == at(OSLO, 2026, 3, 4, 8, 30)
    assert cal.holiday_name(date(2026, 3, 3)) == "closed"


def test_subdivision_holiday_only_applies_there() -> None:
    # Epiphany (6 Jan) is a public holiday in Bavaria but not in Berlin.
    bavaria = make("Europe/Berlin", holidays={"country": "DE", "subdivision": "BY"})
    berlin = make("Europe/Berlin", holidays={"country": "DE", "subdivision": "BE"})
    noon = at(BERLIN, 2026, 1, 6, 10, 0)
    assert not bavaria.is_open(noon)
    assert berlin.is_open(noon)


def test_spring_forward_weekend_keeps_local_opening_time() -> None:
    cal = make("Europe/Berlin")
    # DST starts Sun 29 Mar 2026. Friday 15:30 CET (+01:00) + 1h → Monday 08:30 CEST (+02:00).
    result = cal.add_business_time(at(BERLIN, 2026, 3, 27, 15, 30), timedelta(hours=1))
    assert result == at(BERLIN, 2026, 3, 30, 8, 30)
    assert result.astimezone(UTC) == datetime(2026, 3, 30, 6, 30, tzinfo=UTC)
    assert result.utcoffset() == timedelta(hours=2)


def test_interval_over_the_dst_change_counts_real_time() -> None:
    night = {"sun": ["00:00-06:00"]}
    cal = make("Europe/Berlin", night)
    spring = cal.business_seconds_between(at(BERLIN, 2026, 3, 29, 0, 0), at(BERLIN, 2026, 3, 29, 6, 0))
    autumn = cal.business_seconds_between(at(BERLIN, 2026, 10, 25, 0, 0), at(BERLIN, 2026, 10, 25, 6, 0))
    assert spring == 5 * 3600  # an hour skipped
    assert autumn == 7 * 3600  # an hour repeated
    assert cal.add_business_time(at(BERLIN, 2026, 3, 29, 1, 0), timedelta(hours=2)) == at(BERLIN, 2026, 3, 29, 4, 0)


def test_new_york_dst_differs_from_europe() -> None:
    cal = make("America/New_York", {d: ["09:00-17:00"] for d in WEEKDAYS})
    # US DST began 8 Mar 2026, Europe's on 29 Mar: between them New York is 4h behind London.
    friday = at(NEW_YORK, 2026, 3, 13, 16, 30)
    result = cal.add_business_time(friday, timedelta(hours=1))
    assert result == at(NEW_YORK, 2026, 3, 16, 9, 30)
    assert result.astimezone(UTC) == datetime(2026, 3, 16, 13, 30, tzinfo=UTC)


def test_same_instant_open_in_one_zone_closed_in_another() -> None:
    hours = {d: ["09:00-17:00"] for d in WEEKDAYS}
    oslo, new_york = make("Europe/Oslo", hours), make("America/New_York", hours)
    sydney = make("Australia/Sydney", hours)
    instant = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)  # Wed: 10:00 Oslo, 04:00 New York, 18:00 Sydney
    assert oslo.is_open(instant)
    assert not new_york.is_open(instant)
    assert not sydney.is_open(instant)
    assert new_york.next_open(instant) == at(NEW_YORK, 2026, 6, 3, 9, 0)
    assert sydney.next_open(instant) == at(SYDNEY, 2026, 6, 4, 9, 0)


def test_southern_hemisphere_dst() -> None:
    cal = make("Australia/Sydney", {d: ["09:00-17:00"] for d in WEEKDAYS})
    # Sydney DST ends Sun 5 Apr 2026: Friday +11:00, Monday +10:00.
    result = cal.add_business_time(at(SYDNEY, 2026, 4, 3, 16, 0), timedelta(hours=2))
    assert result == at(SYDNEY, 2026, 4, 6, 10, 0)
    assert result.utcoffset() == timedelta(hours=10)


def test_overnight_interval_belongs_to_the_day_it_starts() -> None:
    cal = make("Europe/Oslo", {"mon": ["22:00-06:00"]})
    assert cal.is_open(at(OSLO, 2026, 3, 2, 23, 0))  # Monday night
    assert cal.is_open(at(OSLO, 2026, 3, 3, 5, 59))  # Tuesday early morning
    assert not cal.is_open(at(OSLO, 2026, 3, 3, 6, 0))
    assert not cal.is_open(at(OSLO, 2026, 3, 3, 23, 0))  # Tuesday night is closed
    result = cal.add_business_time(at(OSLO, 2026, 3, 3, 5, 0), timedelta(hours=2))
    assert result == at(OSLO, 2026, 3, 9, 23, 0)  # one hour Tuesday morning, one next Monday night


def test_adjacent_intervals_merge_across_midnight() -> None:
    cal = make("Europe/Oslo", {"mon": ["00:00-24:00"], "tue": ["00:00-24:00"]})
    assert cal.next_close(at(OSLO, 2026, 3, 2, 10, 0)) == at(OSLO, 2026, 3, 4, 0, 0)
    assert cal.add_business_time(at(OSLO, 2026, 3, 2, 0, 0), timedelta(hours=30)) == at(OSLO, 2026, 3, 3, 6, 0)


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1), timedelta(hours=-3)])
def test_zero_and_negative_deltas_are_refused(delta: timedelta) -> None:
    with pytest.raises(ValueError, match="delta must be positive"):
        make().add_business_time(at(OSLO, 2026, 3, 2, 9, 0), delta)


def test_naive_datetimes_are_refused() -> None:
    cal = make()
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_business_time(datetime(2026, 3, 2, 9, 0), timedelta(minutes=5))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_open(datetime(2026, 3, 2, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.business_seconds_between(at(OSLO, 2026, 3, 2, 9, 0), datetime(2026, 3, 2, 10, 0))


def test_calendar_closed_for_years_says_so() -> None:
    cal = make(
        "Europe/Oslo",
        {"mon": ["08:00-09:00"]},
        closed_dates=[date(2026, 1, 5) + timedelta(weeks=w) for w in range(600)],
    )
    with pytest.raises(CalendarError, match="no working time"):
        cal.add_business_time(at(OSLO, 2026, 1, 1, 9, 0), timedelta(minutes=5))


# --- is_open / next_open / business_seconds_between ---------------------------------------------


def test_is_open_boundaries_are_half_open() -> None:
    cal = make()
    assert cal.is_open(at(OSLO, 2026, 3, 2, 8, 0))
    assert not cal.is_open(at(OSLO, 2026, 3, 2, 7, 59, 59))
    assert not cal.is_open(at(OSLO, 2026, 3, 2, 12, 0))
    assert cal.is_open(at(OSLO, 2026, 3, 2, 13, 0))
    assert not cal.is_open(at(OSLO, 2026, 3, 7, 10, 0))  # Saturday


def test_next_open() -> None:
    cal = make()
    inside = at(OSLO, 2026, 3, 2, 9, 17)
    assert cal.next_open(inside) == inside
    assert cal.next_open(at(OSLO, 2026, 3, 2, 12, 30)) == at(OSLO, 2026, 3, 2, 13, 0)
    assert cal.next_open(at(OSLO, 2026, 3, 6, 16, 0)) == at(OSLO, 2026, 3, 9, 8, 0)
    assert cal.next_open(datetime(2026, 3, 7, 12, 0, tzinfo=UTC)).tzinfo == OSLO


def test_business_seconds_between() -> None:
    cal = make()
    friday, monday = at(OSLO, 2026, 3, 6, 15, 0), at(OSLO, 2026, 3, 9, 9, 0)
    assert cal.business_seconds_between(friday, monday) == 2 * 3600
    assert cal.business_seconds_between(monday, friday) == -2 * 3600
    assert cal.business_seconds_between(at(OSLO, 2026, 3, 7, 1, 0), at(OSLO, 2026, 3, 8, 23, 0)) == 0
    assert cal.business_seconds_between(at(OSLO, 2026, 3, 2, 11, 0), at(OSLO, 2026, 3, 2, 14, 0)) == 2 * 3600


# --- add_business_days --------------------------------------------------------------------------


def test_add_business_days() -> None:
    cal = make(holidays={"country": "NO"})
    assert cal.add_business_days(at(OSLO, 2026, 3, 2, 10, 0), 2) == at(OSLO, 2026, 3, 4, 10, 0)
    assert cal.add_business_days(at(OSLO, 2026, 3, 6, 15, 0), 1) == at(OSLO, 2026, 3, 9, 15, 0)
    assert cal.add_business_days(at(OSLO, 2026, 3, 7, 10, 0), 1) == at(OSLO, 2026, 3, 10, 8, 0)
    # Over Norway's 17 May 2027 (Monday): Friday 14 May + 1 business day = Tuesday 18 May.
    assert cal.add_business_days(at(OSLO, 2027, 5, 14, 9, 0), 1) == at(OSLO, 2027, 5, 18, 9, 0)
    with pytest.raises(ValueError, match="days must be positive"):
        cal.add_business_days(at(OSLO, 2026, 3, 2, 10, 0), 0)


def test_add_business_days_onto_a_shorter_day_ends_at_its_close() -> None:
    hours = {d: ["08:00-16:00"] for d in ("mon", "tue", "wed", "thu")} | {"fri": ["08:00-12:00"]}
    cal = make(hours=hours)
    assert cal.add_business_days(at(OSLO, 2026, 3, 5, 15, 0), 1) == at(OSLO, 2026, 3, 6, 12, 0)


# --- prospect's time zone -----------------------------------------------------------------------


def test_with_timezone_reads_the_same_hours_in_the_prospects_zone() -> None:
    team = make(holidays={"country": "NO"})
    prospect = team.with_timezone("America/New_York")
    instant = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 15:00 Oslo, 09:00 New York
    assert team.is_open(instant)
    assert prospect.is_open(instant)
    assert prospect.add_business_time(instant, timedelta(hours=2)) == at(NEW_YORK, 2026, 3, 2, 11, 0)
    assert team.add_business_time(instant, timedelta(hours=2)) == at(OSLO, 2026, 3, 3, 9, 0)
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        team.with_timezone("Mars/Olympus_Mons")


# --- properties ---------------------------------------------------------------------------------

ZONES = ["Europe/Oslo", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    minutes=st.integers(min_value=1, max_value=60 * 24 * 5),
)
def test_business_seconds_between_inverts_add_business_time(zone: str, start: datetime, minutes: int) -> None:
    cal = make(zone, holidays={"country": "NO"})
    end = cal.add_business_time(start, timedelta(minutes=minutes))
    assert end > start
    assert cal.business_seconds_between(start, end) == pytest.approx(minutes * 60)
    # The deadline is inside working hours or exactly at a closing time.
    assert cal.is_open(end - timedelta(microseconds=1))


@settings(max_examples=100, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    a=st.integers(min_value=1, max_value=6000),
    b=st.integers(min_value=1, max_value=6000),
)
def test_add_business_time_is_additive(start: datetime, a: int, b: int) -> None:
    cal = make("Europe/Berlin", holidays={"country": "DE"})
    once = cal.add_business_time(start, timedelta(minutes=a + b))
    twice = cal.add_business_time(cal.add_business_time(start, timedelta(minutes=a)), timedelta(minutes=b))
    assert once == twice


# --- parsing ------------------------------------------------------------------------------------


def test_parse_interval() -> None:
    assert parse_interval("08:00-16:30")[2] == 0
    assert parse_interval("22:00-06:00")[2] == 1
    assert parse_interval("13:00-24:00")[2] == 1
    for bad in ("8-17", "08:00-08:00", "25:00-26:00", "08:61-09:00", "24:00-01:00"):
        with pytest.raises(ValueError):
            parse_interval(bad)
