"""Builders for tests and benchmarks: a small calendar/policy set and contract events."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from leadflow_businesstime import CalendarsFile, SlaPolicySet, parse_calendars, parse_sla_policies
from leadflow_contracts.base import derive_event_id
from leadflow_contracts.crm import ChangeType, CrmChange, FieldChange
from leadflow_contracts.lead import CallbackWindow, LeadSourceKind, NormalizedLead, SourceInfo
from leadflow_contracts.pipeline import (
    Assignment,
    ClientType,
    Enrichment,
    Grade,
    LeadRouted,
    Rating,
    Score,
    SlaTarget,
)

WEEK = {d: ["08:00-12:00", "12:30-16:00"] for d in ("mon", "tue", "wed", "thu", "fri")}

CALENDARS: dict[str, Any] = {
    "version": "test-1",
    "default": "oslo",
    "teams": {"Nordics": "oslo", "DACH": "berlin"},
    "calendars": {
        "oslo": {"timezone": "Europe/Oslo", "hours": WEEK, "holidays": {"country": "NO"}},
        "berlin": {"timezone": "Europe/Berlin", "hours": WEEK, "holidays": {"country": "DE"}},
    },
}

LADDER = [
    {"action": "notify_team_leader", "delay_minutes": 0},
    {"action": "reassign", "delay_minutes": 30},
    {"action": "team_queue", "delay_minutes": 60},
]

POLICIES: dict[str, Any] = {
    "version": "test-1",
    "policies": [
        {
            "name": "callback",
            "match": {"lead_sources": ["callback_request"]},
            "calendar": "prospect",
            "hours_calendar": "oslo",
            "first_touch_minutes": 60,
            "qualify_days": 2,
            "callback_tolerance_minutes": 15,
            "escalation": LADDER[:1],
        },
        {
            "name": "hot",
            "match": {"ratings": ["Hot"]},
            "calendar": "team",
            "hours_calendar": "oslo",
            "first_touch_minutes": 60,
            "qualify_days": 2,
            "warn_at": 0.8,
            "escalation": LADDER,
            "mark_unavailable_after": 2,
            "reset_on_reassign": True,
        },
        {
            "name": "default",
            "calendar": "oslo",
            "first_touch_minutes": 240,
            "qualify_days": 5,
            "escalation": LADDER[:1],
            "reset_on_reassign": False,
        },
    ],
}


@lru_cache(maxsize=1)
def test_calendars() -> CalendarsFile:
    return parse_calendars(CALENDARS, "test-calendars")


@lru_cache(maxsize=1)
def test_policies() -> SlaPolicySet:
    return parse_sla_policies(POLICIES, "test-policies", test_calendars().calendars)


test_calendars.__test__ = False  # type: ignore[attr-defined]
test_policies.__test__ = False  # type: ignore[attr-defined]


def _route_due(policy_name: str, team: str | None, prospect_timezone: str | None, at: datetime) -> datetime:
    """The first-touch deadline as route computes it (same policies and calendars)."""
    calendars = test_calendars()
    policy = test_policies().by_name(policy_name) or test_policies().policies[-1]
    calendar = policy.resolve_calendar(calendars.calendars, prospect_timezone, team_calendar=calendars.for_team(team))
    return calendar.add_business_time(at, policy.first_touch)


def make_routed(
    lead_id: str,
    at: datetime,
    *,
    owner_id: str = "005REP1",
    team: str | None = "Nordics",
    rating: Rating = Rating.HOT,
    lead_source: LeadSourceKind = LeadSourceKind.WEB_FORM,
    client_type: ClientType = ClientType.NEW,
    policy: str = "hot",
    first_touch_due: datetime | None = None,
    reassignment: int = 0,
    previous_owner_ids: tuple[str, ...] = (),
    callback: CallbackWindow | None = None,
    prospect_timezone: str | None = None,
    event_id: str | None = None,
) -> LeadRouted:
    lead = NormalizedLead(
        source_event_id=f"src-{lead_id}",
        submitted_at=at,
        accepted_at=at,
        source=SourceInfo(system="test"),
        lead_source=lead_source,
        company_name="Fjord AS",
        callback=callback,
    )
    extra: dict[str, Any] = {
        "event_id": event_id or derive_event_id(f"src-{lead_id}", f"routed:{at.isoformat()}:{owner_id}:{reassignment}")
    }
    callback_due = callback.start if callback is not None else None
    if callback_due is not None and callback_due > at and first_touch_due is None:
        first_touch_due = callback_due  # as route stamps it: the call is due when the prospect asked
    return LeadRouted(
        lead_id=lead_id,
        occurred_at=at,
        lead=lead,
        enrichment=Enrichment(client_type=client_type, timezone=prospect_timezone),
        score=Score(score=80, fit=40, engagement=40, grade=Grade.A, rating=rating, ruleset_version="t"),
        assignment=Assignment(
            owner_id=owner_id,
            owner_type="user",
            team=team,
            policy="test",
            reason="test",
            previous_owner_ids=previous_owner_ids,
        ),
        sla=SlaTarget(
            policy=policy,
            first_touch_due=first_touch_due or _route_due(policy, team, prospect_timezone, at),
            callback_due=callback_due,
            calendar="oslo",
            timezone="Europe/Oslo",
        ),
        reassignment=reassignment,
        **extra,
    )


def task_change(
    lead_id: str,
    at: datetime,
    *,
    subtype: str | None = "Call",
    subject: str = "Call",
    status: str = "Completed",
    owner_id: str = "005REP1",
    who_id: str | None = None,
    record_id: str = "00T000000000001",
) -> CrmChange:
    return CrmChange(
        event_id=derive_event_id(record_id, f"task:{lead_id}:{at.isoformat()}:{subtype}:{status}:{owner_id}"),
        lead_id=lead_id,
        occurred_at=at,
        object="Task",
        record_id=record_id,
        change_type=ChangeType.CREATED,
        record={
            "Id": record_id,
            "WhoId": who_id or lead_id,
            "TaskSubtype": subtype,
            "Subject": subject,
            "Status": status,
            "OwnerId": owner_id,
        },
        changed_by=owner_id,
        changed_at=at,
        system_modstamp=at,
    )


def lead_change(
    lead_id: str,
    at: datetime,
    *,
    status: str | None = None,
    old_status: str = "Open - Not Contacted",
    converted: bool = False,
    record_id: str = "00Q000000000001",
    by: str = "005REP1",
) -> CrmChange:
    fields = []
    record: dict[str, Any] = {"Id": record_id, "Leadflow_Id__c": lead_id, "OwnerId": by}
    if status is not None:
        fields.append(FieldChange(field="Status", old=old_status, new=status))
        record["Status"] = status
    if converted:
        fields.append(FieldChange(field="IsConverted", old=False, new=True))
        record["IsConverted"] = True
    return CrmChange(
        event_id=derive_event_id(record_id, f"lead:{lead_id}:{at.isoformat()}:{status}:{converted}:{by}"),
        lead_id=lead_id,
        occurred_at=at,
        object="Lead",
        record_id=record_id,
        change_type=ChangeType.UPDATED,
        changed_fields=tuple(fields),
        record=record,
        changed_by=by,
        changed_at=at,
        system_modstamp=at,
    )


MONDAY_9 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
"""Monday 2 March 2026, 09:00 in Oslo."""
