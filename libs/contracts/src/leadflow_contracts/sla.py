"""SLA events: warnings, breaches, met targets and escalation steps."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from leadflow_contracts.base import Event, UtcDatetime


class SlaEventKind(StrEnum):
    STARTED = "started"
    WARNING = "warning"
    BREACHED = "breached"
    MET = "met"
    ESCALATED = "escalated"
    CANCELLED = "cancelled"


class SlaLeadStatus(StrEnum):
    """A lead's SLA standing over all its clocks (what Salesforce's ``Lead.SLA_Status__c`` shows)."""

    ON_TRACK = "on_track"
    WARNING = "warning"
    BREACHED = "breached"
    MET = "met"


class SlaEvent(Event):
    kind: SlaEventKind
    clock: Literal["first_touch", "qualify", "callback"]
    policy: str
    due_at: UtcDatetime
    owner_id: str | None = None
    team: str | None = None
    rating: str | None = None
    lead_source: str | None = None
    started_at: UtcDatetime
    met_by: str | None = Field(default=None, description="User who met the SLA.")
    met_how: str | None = Field(default=None, description="e.g. 'task:Call', 'status:Working - Contacted'.")
    business_seconds: float | None = None
    wall_seconds: float | None = None
    escalation_step: int = 0
    escalation_action: str | None = None
    lead_status: SlaLeadStatus | None = Field(
        default=None,
        description="The lead's SLA standing after this event, over all its clocks in their current cycle: "
        "breached while any clock is breached and not met since (a reassignment's new cycle starts afresh), "
        "else warning while any is warned, else met once a clock is met, else on_track. None from older "
        "producers (then the event's own kind is the status).",
    )
    merged_into: str | None = Field(
        default=None,
        description="The record this lead was merged into (a duplicate: 'Lead <Id or leadflow id>' or "
        "'Contact <Id>'). Its SLA standing is its own, never written onto that record's SLA_Status__c.",
    )
