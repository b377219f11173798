"""Routing configuration as data: the shipped file loads, and every mistake names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from leadflow_route.domain.config import RoutingConfigError, load_routing_config, parse_routing_config
from leadflow_route.domain.roster import WorkingHoursError, parse_working_hours, rep_from_record
from leadflow_route.testing import repo_root

pytestmark = pytest.mark.unit

SHIPPED = repo_root() / "services" / "route" / "config" / "routing.yaml"


def valid() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text())


def test_shipped_config_loads_and_matches_the_demo_org() -> None:
    config = load_routing_config(SHIPPED)
    assert set(config.teams) == {"Nordics", "DACH", "Benelux", "UK & Ireland"}
    assert config.teams["Nordics"].countries[0] == "NO"  # not YAML's false
    assert config.policies[0] == "credit_hold"
    demo = __import__("json").loads((repo_root() / "services/salesforce-emulator/fixtures/demo_org.json").read_text())
    usernames = {u["Username"] for u in demo["records"]["User"]}
    queues = {g["DeveloperName"] for g in demo["records"]["Group"]}
    assert config.head_of_sales in usernames
    assert {t.leader for t in config.teams.values()} <= usernames
    assert {t.queue for t in config.teams.values()} | {config.finance_queue} <= queues


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda d: d["teams"]["DACH"]["caps"].update(per_hour=0), "teams.DACH.caps.per_hour", "greater than or equal"),
        (lambda d: d["teams"]["DACH"]["caps"].update(per_hour=500), "teams.DACH.caps", "per_hour must not exceed"),
        (lambda d: d["teams"]["DACH"].update(countries=["DEU"]), "teams.DACH.countries", "alpha-2"),
        (lambda d: d["teams"]["DACH"].update(countries=[False]), "teams.DACH.countries.0", "valid string"),
        (lambda d: d["teams"]["DACH"].pop("queue"), "teams.DACH.queue", "Field required"),
        (lambda d: d["teams"]["DACH"].update(capz={}), "teams.DACH.capz", "Extra inputs"),
        (lambda d: d.update(default_team="Mars"), "<root>", "default_team 'Mars'"),
        (lambda d: d.update(policies=["key_account", "vip"]), "policies.1", "Input should be"),
        (lambda d: d.update(policies=["key_account"]), "policies", "new_lead must be listed"),
        (lambda d: d.update(policies=["new_lead", "duplicate", "new_lead"]), "policies", "listed twice"),
        (lambda d: d.update(default_working_hours="weekdays"), "default_working_hours", "cannot read"),
        (lambda d: d["teams"]["Benelux"].update(countries=["DE"]), "<root>", "country DE is in both"),
        (lambda d: d.pop("head_of_sales"), "head_of_sales", "Field required"),
    ],
)
def test_errors_name_the_bad_field(mutate: Any, field: str, message: str) -> None:
    data = valid()
    mutate(data)
    with pytest.raises(RoutingConfigError) as err:
        parse_routing_config(data, source="routing.yaml")
    text = str(err.value)
    assert text.startswith("routing.yaml: ")
    assert f"{field}: " in text and message in text, text


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "routing.yaml"
    bad.write_text("teams: [unclosed")
    with pytest.raises(RoutingConfigError, match="cannot read routing config"):
        load_routing_config(bad)
    with pytest.raises(RoutingConfigError, match="cannot read"):
        load_routing_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "weekday", "clock", "expected"),
    [
        ("Mon-Fri 08:00-16:00", 0, "08:00", True),
        ("Mon-Fri 08:00-16:00", 0, "16:00", False),
        ("Mon-Fri 08:00-16:00", 5, "10:00", False),
        ("Mon-Thu 08:00-18:00; Fri 08:00-12:00", 4, "12:30", False),
        ("Mon-Thu 08:00-18:00; Fri 08:00-12:00", 4, "11:59", True),
        ("Sat-Mon 10:00-14:00", 6, "11:00", True),
        ("Mon-Sun 00:00-24:00", 3, "23:59", True),
    ],
)
def test_working_hours(text: str, weekday: int, clock: str, expected: bool) -> None:
    from datetime import datetime, timedelta

    hours, minutes = map(int, clock.split(":"))
    local = datetime(2026, 1, 5) + timedelta(days=weekday, hours=hours, minutes=minutes)  # 2026-01-05 is a Monday
    assert parse_working_hours(text).covers(local) is expected


@pytest.mark.parametrize("text", ["", "Weekdays 9-5", "Mon-Fri 17:00-09:00", "Mon-Fri 25:00-26:00", "Moo 08:00-09:00"])
def test_bad_working_hours(text: str) -> None:
    with pytest.raises(WorkingHoursError):
        parse_working_hours(text)


def test_rep_from_a_salesforce_user_record() -> None:
    r = rep_from_record(
        {
            "Id": "005A",
            "FirstName": "Ola",
            "LastName": "Nordmann",
            "Username": "ola@x",
            "Role_Name__c": "Seller",
            "Team__c": "Nordics",
            "Languages__c": "nb;EN",
            "Weight__c": 1.5,
            "Is_Absent__c": False,
            "IsActive": True,
            "TimeZoneSidKey": "Europe/Oslo",
            "Working_Hours__c": "Mon-Fri 08:00-16:00",
            "attributes": {"type": "User"},
        }
    )
    assert (r.name, r.languages, r.weight, r.team, r.role) == (
        "Ola Nordmann",
        frozenset({"no", "en"}),
        1.5,
        "Nordics",
        "Seller",
    )
    default = rep_from_record({"Id": "005B", "Weight__c": None, "IsActive": "false"})
    assert default.weight == 1.0 and default.active is False and default.timezone == "UTC"


def test_config_references_are_checked_against_the_roster() -> None:
    from leadflow_route.domain.roster import Roster
    from leadflow_route.domain.routing import Router
    from leadflow_route.testing import sample_config, sample_queues, sample_reps

    router = Router(sample_config())
    assert router.problems(Roster(sample_reps(), sample_queues())) == []
    reps = [r for r in sample_reps() if r.id not in {"HEAD", "D1", "D2"}]
    problems = router.problems(Roster(reps, [q for q in sample_queues() if q.developer_name != "Queue_DACH"]))
    assert problems == [
        "head_of_sales: unknown user 'HEAD'",
        "teams.DACH.queue: unknown queue 'Queue_DACH'",
        "teams.DACH: no user with Team__c 'DACH' and a seller role ['Seller']",
    ]
