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
