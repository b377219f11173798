"""calendars.yaml and sla-policies.yaml: loading, selection and errors that name the bad field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from leadflow_businesstime import (
    BusinessCalendar,
    ConfigError,
    EscalationAction,
    load_calendar_file,
    load_calendars,
    load_sla_policies,
    parse_calendars,
    parse_sla_policies,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[4]
POLICIES = REPO / "deploy" / "policies"
WEEK = {d: ["08:00-16:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def calendars_doc(**override: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": "1",
        "calendars": {
            "oslo": {"timezone": "Europe/Oslo", "hours": WEEK, "holidays": {"country": "NO"}},
            "berlin": {"timezone": "Europe/Berlin", "hours": WEEK},
        },
        "teams": {"Nordics": "oslo"},
    }
    doc.update(override)
    return doc


def policy(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "calendar": "oslo", "first_touch_minutes": 60, "qualify_days": 2, **fields}


def policies_doc(*items: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1", "policies": list(items)}


def message(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    return str(excinfo.value)


# --- the files in deploy/policies ---------------------------------------------------------------


def test_repository_files_load_and_reference_known_calendars() -> None:
    calendars = load_calendars(POLICIES / "calendars.yaml")
    policies = load_sla_policies(POLICIES / "sla-policies.yaml", calendars)
    assert {"nordics", "dach"} <= set(calendars)
    assert policies.policies[-1].match.is_catch_all
    file = load_calendar_file(POLICIES / "calendars.yaml")
    for team in ("Nordics", "DACH", "Benelux", "UK & Ireland"):
        assert file.for_team(team) is not None
    for p in policies.policies:
        p.resolve_calendar(calendars, "America/New_York")


# --- calendars ----------------------------------------------------------------------------------


def test_calendar_names_come_from_keys_and_teams_map_to_them() -> None:
    file = parse_calendars(calendars_doc())
    assert file.calendars["oslo"].name == "oslo"
    assert file.for_team("Nordics") is file.calendars["oslo"]
    assert file.for_team("Elsewhere") is None
    assert parse_calendars(calendars_doc(default="berlin")).for_team("Elsewhere").name == "berlin"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Europe/Atlantis"}, "calendars.oslo.timezone"),
        ({"hours": {"mon": ["8-16"]}}, "calendars.oslo.hours.mon"),
        ({"hours": {"mon": ["08:00-12:00", "13:00-13:00"]}}, "calendars.oslo.hours.mon"),
        ({"hours": {"monday": ["08:00-12:00"]}}, "calendars.oslo.hours.monday"),
        ({"hours": {}}, "calendars.oslo: Value error, calendar 'oslo' has no working time"),
        ({"holidays": {"country": "XX"}}, "calendars.oslo.holidays"),
        ({"holidays": {"country": "DE", "subdivision": "ZZ"}}, "calendars.oslo.holidays"),
        ({"closed_dates": ["not-a-date"]}, "calendars.oslo.closed_dates.0"),
        ({"colour": "blue"}, "calendars.oslo.colour"),
    ],
)
def test_calendar_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    doc = calendars_doc()
    doc["calendars"]["oslo"] = {**doc["calendars"]["oslo"], **change}
    with pytest.raises(ConfigError) as excinfo:
        parse_calendars(doc, "calendars.yaml")
    assert message(excinfo).startswith("calendars.yaml: ")
    assert field in message(excinfo)


def test_team_pointing_at_unknown_calendar_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"teams\.DACH: unknown calendar 'dach'"):
        parse_calendars(calendars_doc(teams={"DACH": "dach"}))


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_calendars(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("calendars: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_calendars(bad)


def test_load_calendars_from_file(tmp_path: Path) -> None:
    path = tmp_path / "calendars.yaml"
    path.write_text(yaml.safe_dump(calendars_doc()))
    calendars = load_calendars(path)
    assert isinstance(calendars["berlin"], BusinessCalendar)
    assert calendars["oslo"].is_open(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


# --- policies -----------------------------------------------------------------------------------


def test_first_match_wins_and_default_is_last() -> None:
    policies = parse_sla_policies(
        policies_doc(
            policy("ka", match={"client_types": ["key_account"]}),
            policy("hot-web", match={"ratings": ["Hot"], "lead_sources": ["web_form", "webinar"]}),
            policy("hot", match={"ratings": "hot"}),
            policy("default"),
        )
    )
    assert policies.select("Hot", "web_form", "key_account").name == "ka"
    assert policies.select("HOT", "webinar", "new").name == "hot-web"
    assert policies.select("Hot", "list_upload", "new").name == "hot"
    assert policies.select("Cold", "web_form", "new").name == "default"
    assert policies.select(None, None, None).name == "default"
    assert policies.by_name("hot") is policies.policies[2]


def test_policy_values_and_ladder() -> None:
    policies = parse_sla_policies(
        policies_doc(
            policy(
                "default",
                warn_at=0.75,
                callback_tolerance_minutes=10,
                escalation=[
                    {"action": "notify_team_leader"},
                    {"action": "reassign", "delay_minutes": 15},
                    {"action": "team_queue", "delay_minutes": 30},
                ],
                mark_unavailable_after=3,
            )
        )
    )
    p = policies.policies[0]
    assert p.first_touch == timedelta(hours=1)
    assert p.callback_tolerance == timedelta(minutes=10)
    assert [s.action for s in p.escalation] == [
        EscalationAction.NOTIFY_TEAM_LEADER,
        EscalationAction.REASSIGN,
        EscalationAction.TEAM_QUEUE,
    ]
    assert [s.delay for s in p.escalation] == [timedelta(0), timedelta(minutes=15), timedelta(minutes=30)]
    assert p.reset_on_reassign is True


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([policy("default", warn_at=1.5)], "policies.0.warn_at"),
        ([policy("default", warn_at=0)], "policies.0.warn_at"),
        ([policy("default", first_touch_minutes=0)], "policies.0.first_touch_minutes"),
        ([policy("default", qualify_days=-1)], "policies.0.qualify_days"),
        ([policy("default", escalation=[{"action": "fire_them"}])], "policies.0.escalation.0.action"),
        ([policy("default", escalation=[{"action": "reassign", "delay_minutes": -5}])], "policies.0.escalation.0"),
        ([policy("default", mark_unavailable_after=0)], "policies.0.mark_unavailable_after"),
        ([policy("default", calendar="prospect")], "hours_calendar"),
        ([policy("default", hours_calendar="oslo")], "hours_calendar"),
        ([policy("default", match={"rating": ["Hot"]})], "policies.0.match.rating"),
        ([policy("a"), policy("b")], "policies.0.match"),
        ([policy("a", match={"ratings": ["Hot"]})], "policies.0.match"),
        ([policy("a", match={"ratings": ["Hot"]}), policy("a")], "policies.1.name"),
        ([], "policies"),
    ],
)
def test_policy_errors_name_the_field(items: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_sla_policies(policies_doc(*items), "sla-policies.yaml")
    assert message(excinfo).startswith("sla-policies.yaml: ")
    assert field in message(excinfo)


def test_unknown_calendar_reference_is_refused_when_calendars_are_given() -> None:
    calendars = parse_calendars(calendars_doc()).calendars
    doc = policies_doc(
        policy("p", match={"ratings": ["Hot"]}, calendar="prospect", hours_calendar="tokyo"),
        policy("default", calendar="paris"),
    )
    parse_sla_policies(doc)  # without calendars only the shape is checked
    with pytest.raises(ConfigError) as excinfo:
        parse_sla_policies(doc, "sla-policies.yaml", calendars)
    assert "policies.0.hours_calendar: unknown calendar 'tokyo'" in message(excinfo)
    assert "policies.1.calendar: unknown calendar 'paris'" in message(excinfo)


def test_resolve_calendar_team_and_prospect() -> None:
    calendars = parse_calendars(calendars_doc()).calendars
    policies = parse_sla_policies(
        policies_doc(
            policy("cb", match={"lead_sources": ["callback_request"]}, calendar="prospect", hours_calendar="oslo"),
            policy("team", match={"ratings": ["Hot"]}, calendar="team", hours_calendar="oslo"),
            policy("default", calendar="berlin"),
        ),
        calendars=calendars,
    )
    cb, team, default = policies.policies
    assert default.resolve_calendar(calendars, "Asia/Tokyo") is calendars["berlin"]
    assert team.resolve_calendar(calendars) is calendars["oslo"]
    assert team.resolve_calendar(calendars, "Asia/Tokyo", team_calendar=calendars["berlin"]) is calendars["berlin"]
    prospect = cb.resolve_calendar(calendars, "America/New_York")
    assert prospect.timezone == "America/New_York"
    assert prospect.hours == calendars["oslo"].hours
    assert prospect.holidays == calendars["oslo"].holidays
    assert cb.resolve_calendar(calendars, "America/New_York", team_calendar=calendars["berlin"]).hours == (
        calendars["berlin"].hours
    )
    # An unknown or missing prospect zone falls back to the team's calendar as it is.
    assert cb.resolve_calendar(calendars, "Nowhere/Land") is calendars["oslo"]
    assert cb.resolve_calendar(calendars, None) is calendars["oslo"]
