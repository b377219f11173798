"""The contract events crm-sync publishes, built from decisions (pure: the time is passed in)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from leadflow_contracts import CrmSynced, Event, SyncOperation, TraceStep, topics
from leadflow_contracts.crm import DroppedField
from leadflow_platform.kafka_io import build_dead_letter

from leadflow_crm_sync.domain.conversion import ConvertedIds
from leadflow_crm_sync.domain.ids import derived_event_id
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import Dropped, SaveResult

SERVICE = "crm-sync"
Kind = Literal["routed", "sla", "changes"]
SOURCE_TOPIC: dict[Kind, str] = {"routed": topics.LEADS_ROUTED, "sla": topics.SLA_EVENTS, "changes": topics.CRM_CHANGES}
Output = tuple[str, Event]


@dataclass(frozen=True)
class Failure:
    """Why one message is dead-lettered: the Salesforce answer (or parse error) and what was being done."""

    reason: str
    message: str
    detail: dict[str, str] = field(default_factory=dict)
    not_in_salesforce: bool = False

    @classmethod
    def salesforce(cls, result: SaveResult, operation: str, *, not_in_salesforce: bool = False) -> Failure:
        code = result.status_code or "UNKNOWN"
        detail = {"statusCode": code, "fields": ",".join(result.fields), "operation": operation}
        return cls(f"salesforce:{code}", result.message or "", detail, not_in_salesforce)


def step(decision: str, reason: str, now: datetime) -> TraceStep:
    return TraceStep(service=SERVICE, decision=decision, reason=reason[:500], at=now)


def synced(
    event: Event,
    state: LeadState,
    op: SyncOperation,
    reason: str,
    now: datetime,
    *,
    task_id: str | None = None,
    ids: ConvertedIds | None = None,
    dropped: tuple[Dropped, ...] = (),
    shadow: bool = False,
) -> Output:
    """``crm.synced`` for one applied event; its id is derived from the event, so a redelivery repeats it."""
    assert state.salesforce_id is not None
    why = reason + "".join(f"; {'cut' if d.cut else 'dropped'} {d.field} ({d.code})" for d in dropped)
    return topics.CRM_SYNCED, CrmSynced(
        event_id=derived_event_id(event.event_id, f"synced:{state.lead_id}"),
        lead_id=state.lead_id,
        occurred_at=now,
        trace=event.with_step(step(op.value, why, now)),
        salesforce_id=state.salesforce_id,
        object=state.object,
        operation=op,
        owner_id=state.owner_id,
        task_id=task_id,
        submitted_at=state.submitted_at,
        source_event_id=event.event_id,
        team=state.team,
        rating=state.rating,
        lead_source=state.lead_source,
        account_id=ids.account_id if ids else None,
        contact_id=ids.contact_id if ids else None,
        opportunity_id=ids.opportunity_id if ids else None,
        dropped_fields=tuple(DroppedField(field=d.field, reason=d.code, message=d.message, cut=d.cut) for d in dropped),
        shadow=shadow,
    )


def dead_letter(
    kind: Kind, raw: bytes, lead_id: str, failure: Failure, now: datetime, *, source_event_id: str | None = None
) -> Output:
    """``leads.deadletter`` for a message that cannot be applied, built by the platform's one dead-letter
    builder; the id is derived from the message (its event id, else its bytes) and what failed, so a
    redelivery repeats it and ops counts it once."""
    source = source_event_id or hashlib.sha256(raw).hexdigest()
    operation = failure.detail.get("operation", "")
    return topics.LEADS_DEADLETTER, build_dead_letter(
        SERVICE,
        topic=SOURCE_TOPIC[kind],
        value=raw,
        reason=failure.reason,
        message=failure.message,
        at=now,
        event_id=derived_event_id(source, f"deadletter:{failure.reason}:{operation}"),
        lead_id=lead_id,
        detail=failure.detail,
        not_in_salesforce=failure.not_in_salesforce,
    )
