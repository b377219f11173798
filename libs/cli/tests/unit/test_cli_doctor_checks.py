"""The doctor's pure checks: facts in, findings (with fixes) out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_cli.doctor.checks import (
    FieldSpec,
    Level,
    Needs,
    OrgFacts,
    blocking,
    check_api_budget,
    check_api_version,
    check_fields,
    check_lead_statuses,
    run_checks,
)
from leadflow_cli.doctor.needs import field_specs, find_repo_file, routing_queues

pytestmark = pytest.mark.unit

SPECS = [
    FieldSpec("Lead", "Score__c", "double", written=True),
    FieldSpec("Lead", "SLA_Status__c", "picklist", ("On Track", "Met"), restricted=True, written=True),
    FieldSpec("User", "Team__c", "string"),
]


def _needs(**kw: object) -> Needs:
    base: dict[str, object] = {
        "api_version": "59.0",
        "fields": SPECS,
        "standard_writes": {"Lead": ("OwnerId",)},
        "new_status": "Open - Not Contacted",
        "converted_status": "Closed - Converted",
        "qualified_statuses": ("Qualified", "Closed - Converted"),
        "team_queues": {"Nordics": "Queue_Nordics"},
        "other_queues": (),
    }
    base.update(kw)
    return Needs(**base)  # type: ignore[arg-type]


def _field(name: str, type_: str, *, write: bool = True, values: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "name": name,
        "type": type_,
        "createable": write,
        "updateable": write,
        "picklistValues": [{"value": v, "active": True} for v in values],
    }


def _facts(hidden: set[str] = frozenset(), read_only: set[str] = frozenset(), **kw: object) -> OrgFacts:  # type: ignore[assignment]
    lead = [
        _field("Score__c", "double"),
        _field("SLA_Status__c", "picklist", values=("On Track", "Met")),
        _field("OwnerId", "reference"),
        _field("Status", "picklist", values=("Open - Not Contacted", "Closed - Converted", "Qualified")),
    ]
    user = [_field("Team__c", "string", write=False)]

    def view(fields: list[dict[str, object]], obj: str) -> dict[str, object]:
        out = []
        for f in fields:
            key = f"{obj}.{f['name']}"
            if key in hidden:
                continue
            out.append({**f, "createable": False, "updateable": False} if key in read_only else f)
        return {"fields": out}

    base: dict[str, object] = {
        "versions": ["58.0", "59.0", "60.0"],
        "describes": {"Lead": view(lead, "Lead"), "User": view(user, "User")},
        "lead_statuses": [{"MasterLabel": "Closed - Converted", "IsConverted": True}],
        "queues": [{"Id": "00G1", "DeveloperName": "Queue_Nordics"}],
        "queue_objects": [{"QueueId": "00G1", "SobjectType": "Lead"}],
        "users": [{"Id": "0051", "Team__c": "Nordics"}],
        "limits": {"DailyApiRequests": {"Max": 15000, "Remaining": 14000}},
    }
    base.update(kw)
    return OrgFacts(**base)  # type: ignore[arg-type]


def test_a_complete_org_has_no_blocking_finding() -> None:
    findings = run_checks(_needs(), _facts())
    assert blocking(findings) == []
    assert {f.check for f in findings if f.level is Level.OK} >= {"API version", "Custom fields", "Field access"}


@given(st.sets(st.sampled_from(["Lead.Score__c", "Lead.SLA_Status__c", "User.Team__c"]), min_size=1))
def test_every_missing_field_is_named_with_the_deploy_fix(hidden: set[str]) -> None:
    findings = check_fields(_needs(), _facts(hidden=hidden))
    (missing,) = [f for f in findings if f.check == "Custom fields" and f.level is Level.BLOCK]
    for name in hidden:
        assert name in missing.message
    assert f"{len(hidden)} of 3 fields" in missing.message
    assert "sf project deploy start" in missing.fix


@given(st.sets(st.sampled_from(["Lead.Score__c", "Lead.SLA_Status__c", "Lead.OwnerId"]), min_size=1))
def test_read_only_written_fields_ask_for_the_permission_set(read_only: set[str]) -> None:
    (access,) = [f for f in check_fields(_needs(), _facts(read_only=read_only)) if f.check == "Field access"]
    assert access.level is Level.BLOCK and "Leadflow_Integration" in access.fix
    assert all(name in access.message for name in read_only)


def test_a_field_only_read_needs_no_write_access() -> None:
    findings = check_fields(_needs(), _facts())
    assert not any("User.Team__c" in f.message for f in findings if f.check == "Field access")


def test_unserved_api_version_blocks_and_names_the_setting() -> None:
    (f,) = check_api_version(_needs(api_version="62.0", settings_prefix="ROUTE_SALESFORCE__"), _facts())
    assert f.level is Level.BLOCK and "ROUTE_SALESFORCE__API_VERSION=60.0" in f.fix


def test_converted_status_must_be_marked_converted() -> None:
    facts = _facts(lead_statuses=[{"MasterLabel": "Closed - Won", "IsConverted": True}])
    blocks = [f for f in check_lead_statuses(_needs(), facts) if f.level is Level.BLOCK]
    assert len(blocks) == 1 and "not marked Converted" in blocks[0].message


@pytest.mark.parametrize(("remaining", "level"), [(0, Level.BLOCK), (500, Level.WARN), (14_000, Level.OK)])
def test_api_budget_levels(remaining: int, level: Level) -> None:
    facts = _facts(limits={"DailyApiRequests": {"Max": 15000, "Remaining": remaining}})
    assert check_api_budget(_needs(), facts)[0].level is level


def test_needs_come_from_the_repository_metadata_and_routing() -> None:
    specs = field_specs(find_repo_file("deploy/salesforce/force-app"))
    by_name = {(s.sobject, s.name): s for s in specs}
    assert by_name[("Lead", "Leadflow_Id__c")].written
    assert by_name[("Task", "Leadflow_Task_Id__c")].type == "string"
    assert not by_name[("User", "Team__c")].written
    assert "Met" in by_name[("Lead", "SLA_Status__c")].picklist_values
    teams, others = routing_queues(find_repo_file("services/route/config/routing.yaml"))
    assert teams and all(q.startswith("Queue_") for q in teams.values()) and "Queue_Finance" in others
