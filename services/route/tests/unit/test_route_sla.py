"""SLA targets: the policy by rating/source/client type, due times in business hours with holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from leadflow_businesstime import load_calendar_file, load_sla_policies
from leadflow_contracts import CallbackWindow, SlaTarget
from leadflow_route.domain.sla import SlaInput, SlaPlanner
from leadflow_route.testing import repo_root

pytestmark = pytest.mark.unit

POLICIES = repo_root() / "deploy" / "policies"


@pytest.fixture(scope="module")
def planner() -> SlaPlanner:
    policies = load_sla_policies(POLICIES / "sla-policies.yaml")
    return SlaPlanner(policies, load_calendar_file(POLICIES / "calendars.yaml"))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def lead(
    rating: str = "Hot", source: str = "web_form", client: str = "new", team: str | None = "Nordics", **kw
) -> SlaInput:  # type: ignore[no-untyped-def]
    return SlaInput(rating=rating, lead_source=source, client_type=client, team=team, **kw)


def test_hot_lead_first_touch_skips_the_lunch_break(planner: SlaPlanner) -> None:
    # Monday 11:00 Oslo; 60 business minutes: 11:00-11:30, lunch, 12:00-12:30 → 12:30 Oslo = 11:30 UTC.
    sla = planner.plan(lead(), utc(2026, 1, 5, 10, 0))
    assert (sla.policy, sla.calendar, sla.timezone) == ("hot", "nordics", "Europe/Oslo")
    assert sla.first_touch_due == utc(2026, 1, 5, 11, 30)
    assert sla.qualify_due == utc(2026, 1, 7, 10, 0)  # two business days later, same working moment
    assert sla.callback_due is None


def test_team_calendar_is_used_for_the_team(planner: SlaPlanner) -> None:
    sla = planner.plan(lead(team="DACH"), utc(2026, 1, 5, 10, 0))  # 11:00 Berlin, open until 12:00
    assert (sla.calendar, sla.timezone) == ("dach", "Europe/Berlin")
    assert sla.first_touch_due == utc(2026, 1, 5, 11, 0)


def test_friday_afternoon_rolls_over_the_weekend(planner: SlaPlanner) -> None:
    sla = planner.plan(lead(), utc(2026, 1, 9, 14, 30))  # Fri 15:30 Oslo, closed from 15:00
    assert sla.first_touch_due == utc(2026, 1, 12, 8, 0)  # Mon 09:00 Oslo


def test_holidays_and_closed_dates_do_not_count(planner: SlaPlanner) -> None:
    # Warm: 240 business minutes from Wed 23 Dec 15:30 Oslo: 30 min that day; 24 Dec closed, 25-26 Christmas
    # holidays/Saturday, 27 Sunday; Monday 28 Dec 08:00 + 210 min = 11:30 Oslo (closing time) = 10:30 UTC.
    sla = planner.plan(lead(rating="Warm"), utc(2026, 12, 23, 14, 30))
    assert sla.policy == "warm"
    assert sla.first_touch_due == utc(2026, 12, 28, 10, 30)


@pytest.mark.parametrize(
    ("rating", "source", "client", "policy"),
    [
        ("Cold", "web_form", "key_account", "key-account"),
        ("Cold", "callback_request", "new", "callback-request"),
        ("Hot", "list_upload", "existing_customer", "hot"),
        ("Warm", "webinar", "new", "warm"),
        ("Cold", "list_upload", "new", "default"),
    ],
)
def test_policy_is_chosen_by_rating_source_and_client_type(
    planner: SlaPlanner, rating: str, source: str, client: str, policy: str
) -> None:
    assert planner.plan(lead(rating, source, client), utc(2026, 1, 5, 10, 0)).policy == policy


def test_callback_is_due_at_the_time_the_prospect_asked_for(planner: SlaPlanner) -> None:
    asked = utc(2026, 1, 6, 14, 15)
    callback = CallbackWindow(start=asked, end=asked + timedelta(minutes=30), timezone="Europe/Berlin")
    sla = planner.plan(
        lead(source="callback_request", prospect_timezone="Europe/Berlin", callback=callback), utc(2026, 1, 5, 10, 0)
    )
    assert sla.callback_due == asked and sla.first_touch_due == asked
    assert sla.timezone == "Europe/Berlin" and "Europe/Berlin" in sla.calendar


def test_callback_time_already_past_keeps_the_policy_target(planner: SlaPlanner) -> None:
    asked = utc(2026, 1, 5, 8, 0)
    sla = planner.plan(lead(source="callback_request", callback=CallbackWindow(start=asked)), utc(2026, 1, 5, 10, 0))
    assert sla.callback_due == asked
    assert sla.first_touch_due > utc(2026, 1, 5, 10, 0)


def test_reassignment_keeps_the_deadline_when_the_policy_says_so(planner: SlaPlanner) -> None:
    first = planner.plan(lead(rating="Warm"), utc(2026, 1, 5, 10, 0))
    later = utc(2026, 1, 5, 12, 0)
    kept = planner.plan(lead(rating="Warm", previous=first), later)
    assert kept == first  # warm: reset_on_reassign false
    hot_first = planner.plan(lead(), utc(2026, 1, 5, 10, 0))
    reset = planner.plan(lead(previous=hot_first), later)
    assert reset.first_touch_due > hot_first.first_touch_due  # hot: the new owner gets a fresh clock


def test_unknown_calendar_reference_is_refused() -> None:
    from leadflow_businesstime import parse_calendars, parse_sla_policies

    calendar = {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}}
    calendars = parse_calendars({"version": "1", "calendars": {"x": calendar}})
    policies = parse_sla_policies(
        {"version": "1", "policies": [{"name": "d", "calendar": "nope", "first_touch_minutes": 5, "qualify_days": 1}]}
    )
    with pytest.raises(ValueError, match="unknown calendar 'nope'"):
        SlaPlanner(policies, calendars)


def test_sla_target_is_a_contract_value(planner: SlaPlanner) -> None:
    sla = planner.plan(lead(), utc(2026, 1, 5, 10, 0))
    assert SlaTarget.model_validate_json(sla.model_dump_json()) == sla
