"""Leadflow events → Salesforce record payloads (Lead fields, Tasks). Pure functions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadflow_contracts import DuplicateOf, LeadRouted, SlaEvent, SlaEventKind, SlaLeadStatus

from leadflow_crm_sync.domain.fallback import precheck
from leadflow_crm_sync.domain.ids import (
    LEAD_EXTERNAL_ID,
    TASK_EXTERNAL_ID,
    is_user_id,
    lead_external_id,
    sf_date,
    sf_datetime,
    task_external_id,
)
from leadflow_crm_sync.domain.policy import SyncPolicy, TaskTemplate, WriteKind
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import RecordWrite, Unstorable

# Lengths of the fields leadflow itself fills (its own texts: cut silently). What a person typed (names, title,
# company…) is cut by fallback.precheck instead, which keeps the whole value for the rep (fallback.CUT_TO_FIT).
_LIMITS = {
    "Grade__c": 10,
    "Routing_Reason__c": 255,
    "Language__c": 10,
    "Score_Reasons__c": 32768,
}
FIRST_WRITE_ONLY = ("Status", "SLA_Status__c")
"""Fields leadflow sets when it creates the record; afterwards reps (Status) and sla.events own them."""
_DUPLICATE_SKIP = ("LeadSource", "Description", "Status", "SLA_Status__c", "OwnerId")
"""Fields left alone when a duplicate updates an existing record: its origin, its history and its owner stay.

The owner rule (issue 12), the same in route, crm-sync and ``leadflow reconcile``: **a duplicate never changes
the owner of the record it is merged into** — neither when it arrives nor when its own clocks escalate it.
The record's owner may be calling the person right now, and the record's history and Tasks are theirs; a
second rep on the same person is worse than a new inquiry waiting for its owner. route sends the duplicate to
the record's owner (``Router._duplicate``), so leadflow's belief matches Salesforce without a write; only the
record's own routing (its escalation) or a rep in Salesforce moves it, and reconcile follows exactly those.
"""


def _text(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    limit = _LIMITS.get(field)
    return value[:limit] if limit else value


def score_reasons_text(event: LeadRouted, limit: int) -> str:
    reasons = sorted(event.score.reasons, key=lambda r: -abs(r.points))[:limit]
    lines = [f"{r.points:+g} {r.component}: {r.reason}" for r in reasons]
    lines.append(f"ruleset {event.score.ruleset_version}")
    return "\n".join(lines)


def sla_due(event: LeadRouted) -> datetime:
    return event.sla.callback_due or event.sla.first_touch_due


def lead_fields(event: LeadRouted, policy: SyncPolicy) -> dict[str, Any]:
    """Every field leadflow owns on the Lead, from a routed event (no Status, no external id)."""
    lead, enr, score, asg = event.lead, event.enrichment, event.score, event.assignment
    lp = policy.lead
    fields: dict[str, Any] = {
        "FirstName": _text("FirstName", lead.first_name),
        "LastName": _text("LastName", lead.last_name) or lp.missing_last_name,
        "Company": _text("Company", lead.company_name or enr.match.account_name) or lp.missing_company,
        "Title": _text("Title", lead.job_title),
        # An over-long e-mail, or one intake found Salesforce cannot store (email_original), is left out by
        # fallback.precheck before the call and kept for the rep in the dropped-values note.
        "Email": lead.email
        or (
            Unstorable(lead.email_original, "intake: Salesforce cannot store this address")
            if lead.email_original
            else None
        ),
        # A number intake could not verify is written as given (Phone is free text), so the rep can still read it.
        "Phone": _text("Phone", lead.phone_e164 or lead.phone_unverified),
        "Website": _text("Website", lead.company_domain),
        "Industry": _text("Industry", lead.industry or enr.firmographics.industry),
        "NumberOfEmployees": lead.employees if lead.employees is not None else enr.firmographics.employees,
        "Country": _text("Country", lead.country),
        "State": _text("State", lead.region),
        "City": _text("City", lead.city),
        "PostalCode": _text("PostalCode", lead.postcode),
        "Description": _text("Description", lead.message),
        "LeadSource": lp.lead_sources[lead.lead_source],
        "Rating": score.rating.value,
        "OwnerId": asg.owner_id,
        "DoNotCall": bool(lead.do_not_call),
        "HasOptedOutOfEmail": bool(lead.do_not_email),
        "Score__c": round(float(score.score), 2),
        "Grade__c": score.grade.value,
        "Score_Reasons__c": _text("Score_Reasons__c", score_reasons_text(event, lp.score_reasons_max)),
        "Routing_Reason__c": _text("Routing_Reason__c", f"{asg.policy}: {asg.reason}"),
        "SLA_Due__c": sf_datetime(sla_due(event)),
        "Client_Type__c": lp.client_types[enr.client_type],
        "Matched_Account__c": enr.match.account_id,
        "Language__c": _text("Language__c", lead.language),
        "Callback_At__c": sf_datetime(lead.callback.start) if lead.callback else None,
    }
    if policy.custom_answers is not None and lead.custom_answers:
        # declared custom form answers → their Lead custom fields (intake has validated the values)
        fields.update(policy.custom_answers.salesforce_fields(dict(lead.custom_answers)))
    return fields


def content_hash(fields: dict[str, Any]) -> str:
    """A stable digest of what we would write; equal digests mean the write would change nothing."""
    material = {k: v for k, v in fields.items() if k not in FIRST_WRITE_ONLY}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class LeadPlan:
    """What to do for one routed event."""

    target: Literal["lead_upsert", "lead_update", "contact"]
    kind: WriteKind
    content_hash: str
    write: RecordWrite | None
    """None: nothing changed since the last write (or a duplicate of a Contact: no Lead write)."""
    reason: str


def _kind(event: LeadRouted, state: LeadState) -> WriteKind:
    if not state.written:
        return WriteKind.NEW_LEAD
    if state.owner_id != event.assignment.owner_id:
        return WriteKind.OWNER_CHANGE
    return WriteKind.LEAD_UPDATE


def _duplicate_body(fields: dict[str, Any], policy: SyncPolicy) -> dict[str, Any]:
    """What a duplicate writes onto the existing Lead: no blanks, no placeholders, its origin and history kept."""
    body = {k: v for k, v in fields.items() if v is not None and k not in _DUPLICATE_SKIP}
    if fields["LastName"] == policy.lead.missing_last_name:
        body.pop("LastName", None)
    if fields["Company"] == policy.lead.missing_company:
        body.pop("Company", None)
    return body


def plan_lead(event: LeadRouted, state: LeadState, policy: SyncPolicy) -> LeadPlan:
    fields = lead_fields(event, policy)
    digest = content_hash(fields)
    kind = _kind(event, state)
    dup: DuplicateOf | None = event.enrichment.duplicate_of
    if dup is not None and dup.object == "Contact":
        return LeadPlan("contact", kind, digest, None, f"duplicate of Contact (matched on {dup.matched_on})")
    if state.written and state.content_hash == digest and not state.converted:
        return LeadPlan(
            "lead_upsert" if state.mode == "upsert" else "lead_update",
            kind,
            digest,
            None,
            "unchanged since the last write",
        )
    if state.converted:
        return LeadPlan("lead_upsert", kind, digest, None, "lead already converted: leadflow no longer writes it")
    if dup is not None and dup.object == "Lead" and dup.leadflow_id:
        # leadflow's own lead still in flight (enrich's identity claims): upsert onto ITS external id, so the
        # person is one Lead whether or not the first lead's own write has happened yet (S12b, issue 12.2).
        # The owner stays the first lead's (_DUPLICATE_SKIP): the person belongs to the rep who got them first.
        body = _duplicate_body(fields, policy)
        write = precheck(
            RecordWrite("Lead", "upsert", lead_external_id(dup.leadflow_id), body, kind, ext_field=LEAD_EXTERNAL_ID)
        )
        return LeadPlan(
            "lead_update",
            kind,
            digest,
            write,
            f"same person as lead {dup.leadflow_id} (matched on "
            f"{dup.matched_on}, still in flight): upserting onto its external id",
        )
    if dup is not None and dup.object == "Lead" and (state.mode == "update" or not state.written):
        write = precheck(RecordWrite("Lead", "update", dup.record_id, _duplicate_body(fields, policy), kind))
        return LeadPlan(
            "lead_update",
            kind,
            digest,
            write,
            f"duplicate of Lead {dup.record_id} (matched on {dup.matched_on}): updating it",
        )
    body = {k: v for k, v in fields.items() if v is not None}  # never blank what a rep filled in
    if not state.written:
        body["Status"] = policy.lead.new_status
        body["SLA_Status__c"] = state.pending_sla_status or policy.lead.sla_status.get(SlaEventKind.STARTED)
    write = precheck(
        RecordWrite("Lead", "upsert", lead_external_id(event.lead_id), body, kind, ext_field=LEAD_EXTERNAL_ID)
    )
    return LeadPlan("lead_upsert", kind, digest, write, "new lead" if not state.written else kind.value)


def fallback_upsert(event: LeadRouted, state: LeadState, policy: SyncPolicy) -> LeadPlan:
    """The duplicate's target is gone (deleted, converted): create the lead as a new one instead."""
    fields = lead_fields(event, policy)
    body = {k: v for k, v in fields.items() if v is not None}
    body["Status"] = policy.lead.new_status
    body["SLA_Status__c"] = state.pending_sla_status or policy.lead.sla_status.get(SlaEventKind.STARTED)
    write = precheck(
        RecordWrite(
            "Lead", "upsert", lead_external_id(event.lead_id), body, WriteKind.NEW_LEAD, ext_field=LEAD_EXTERNAL_ID
        )
    )
    return LeadPlan(
        "lead_upsert", WriteKind.NEW_LEAD, content_hash(fields), write, "duplicate target gone: created as a new lead"
    )


# ---- Tasks -----------------------------------------------------------------------------------------
def _zone(name: str | None) -> ZoneInfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def _task(
    key: str,
    template: TaskTemplate,
    kind: WriteKind,
    *,
    who_id: str,
    owner_id: str | None,
    due: datetime,
    tz: str | None,
    description: str,
    subject: str | None = None,
    reminder_at: datetime | None = None,
    what_id: str | None = None,
    subtype: str = "Task",
) -> RecordWrite:
    fields: dict[str, Any] = {
        "Subject": (subject or template.subject)[:255],
        "WhoId": who_id,
        "ActivityDate": sf_date(due.astimezone(_zone(tz)).date()),
        "Priority": template.priority,
        "IsReminderSet": True,
        "ReminderDateTime": sf_datetime(reminder_at or (due - timedelta(minutes=template.reminder_minutes_before))),
        "Description": description[:32000],
        "TaskSubtype": subtype,
    }
    if is_user_id(owner_id):
        fields["OwnerId"] = owner_id
    if what_id:
        fields["WhatId"] = what_id
    return RecordWrite("Task", "upsert", key, fields, kind, ext_field=TASK_EXTERNAL_ID)


def callback_task(event: LeadRouted, who_id: str, policy: SyncPolicy) -> RecordWrite | None:
    """The "call back" Task, due when the prospect asked, owned by the assigned rep (one per lead)."""
    cb = event.lead.callback
    if cb is None:
        return None
    tz = cb.timezone or event.enrichment.timezone
    when = cb.start.astimezone(_zone(tz))
    desc = f"The prospect asked to be called back at {when:%Y-%m-%d %H:%M} ({tz or 'UTC'})"
    if cb.end is not None:
        desc += f", until {cb.end.astimezone(_zone(tz)):%H:%M}"
    return _task(
        task_external_id(event.lead_id, "callback"),
        policy.tasks.callback,
        WriteKind.CALLBACK_TASK,
        who_id=who_id,
        owner_id=event.assignment.owner_id,
        due=cb.start,
        tz=tz,
        description=desc + ".",
        subtype="Call",
    )


def inquiry_task(event: LeadRouted, who_id: str, policy: SyncPolicy) -> RecordWrite:
    """A repeat inquiry (a duplicate): the follow-up Task on the record it went into, for the assigned owner.

    A duplicate of a Contact gets no Lead, only this Task (``WhatId`` the matched account). A duplicate of a
    Lead updates that Lead and gets this Task on it too (no ``WhatId``: Salesforce refuses one next to a Lead
    ``WhoId``): the Lead may have been worked long ago, and the Task is how its rep learns of the new inquiry,
    whose SLA clock only activity after it meets (sla-monitor).
    """
    dup = event.enrichment.duplicate_of
    owner = event.assignment.owner_id if is_user_id(event.assignment.owner_id) else (dup.owner_id if dup else None)
    on_lead = dup is not None and dup.object == "Lead"
    lines = [
        f"New {event.lead.lead_source.value} inquiry from an existing {'lead' if on_lead else 'contact'} "
        f"(matched on {dup.matched_on if dup else 'contact'}).",
        f"Score {event.score.score:g} ({event.score.grade.value}, {event.score.rating.value}).",
        f"Routing: {event.assignment.policy}: {event.assignment.reason}",
    ]
    if event.lead.message:
        lines.append(f"Message: {event.lead.message}")
    return _task(
        task_external_id(event.lead_id, "inquiry"),
        policy.tasks.inquiry,
        WriteKind.INQUIRY_TASK,
        who_id=who_id,
        owner_id=owner,
        due=sla_due(event),
        tz=event.sla.timezone,
        description="\n".join(lines),
        what_id=None if on_lead else event.enrichment.match.account_id,
    )


_STANDING_AS_KIND = {
    SlaLeadStatus.ON_TRACK: SlaEventKind.STARTED,
    SlaLeadStatus.WARNING: SlaEventKind.WARNING,
    SlaLeadStatus.BREACHED: SlaEventKind.BREACHED,
    SlaLeadStatus.MET: SlaEventKind.MET,
}
"""A lead's standing (``SlaEvent.lead_status``) → the event kind whose ``policy.lead.sla_status`` value shows it."""


def sla_status_write(event: SlaEvent, state: LeadState, policy: SyncPolicy) -> tuple[str | None, RecordWrite | None]:
    """(the SLA_Status__c value this event means, the write to make or None).

    The value is the lead's standing over all its clocks in their current cycle (``event.lead_status``, set by
    sla-monitor), so ``SLA_Status__c = 'Breached'`` on an open Lead is exactly the board's "breached"; an event
    from an older producer falls back to its own kind. A duplicate's events (``merged_into``) are never written
    onto the record it went into: that record's standing is its own lead's.
    """
    if event.merged_into is not None:
        return None, None
    kind = _STANDING_AS_KIND[event.lead_status] if event.lead_status is not None else event.kind
    status = policy.lead.sla_status.get(kind)
    if status is None or state.object != "Lead":
        return status, None
    if not state.written or state.sla_status == status or state.converted:
        return status, None
    breach = kind in (SlaEventKind.BREACHED, SlaEventKind.ESCALATED)
    write_kind = WriteKind.SLA_BREACH if breach else WriteKind.SLA_STATUS
    assert state.salesforce_id is not None
    return status, RecordWrite("Lead", "update", state.salesforce_id, {"SLA_Status__c": status}, write_kind)


def sla_warning_task(event: SlaEvent, state: LeadState, policy: SyncPolicy) -> RecordWrite | None:
    owner = event.owner_id or state.owner_id
    if state.salesforce_id is None or not is_user_id(owner):
        return None
    t = policy.tasks.sla_warning
    subject = f"{t.subject} ({event.clock.replace('_', ' ')} due {sf_datetime(event.due_at)[:16]}Z)"
    return _task(
        task_external_id(event.lead_id, "sla-warning", f"{event.clock}:{event.due_at.isoformat()}"),
        t,
        WriteKind.REMINDER_TASK,
        who_id=state.salesforce_id,
        owner_id=owner,
        due=event.due_at,
        tz=None,
        subject=subject,
        reminder_at=event.occurred_at,
        description=f"The {event.clock} SLA ({event.policy}) is due at {event.due_at.isoformat()}.",
    )


def escalation_task(event: SlaEvent, state: LeadState, leader_id: str | None, policy: SyncPolicy) -> RecordWrite | None:
    if state.salesforce_id is None or not is_user_id(leader_id):
        return None
    t = policy.tasks.escalation
    action = event.escalation_action or "notify team leader"
    subject = f"{t.subject}: {action} (step {event.escalation_step})"
    desc = (
        f"The {event.clock} SLA ({event.policy}) was due at {event.due_at.isoformat()} and is breached. "
        f"Owner: {event.owner_id or state.owner_id or 'unknown'}; team: {event.team or state.team or 'unknown'}. "
        f"Escalation action: {action}."
    )
    return _task(
        task_external_id(
            event.lead_id, "sla-escalation", f"{event.clock}:{event.due_at.isoformat()}:{event.escalation_step}"
        ),
        t,
        WriteKind.ESCALATION_TASK,
        who_id=state.salesforce_id,
        owner_id=leader_id,
        due=event.occurred_at,
        tz=None,
        subject=subject,
        reminder_at=event.occurred_at,
        description=desc,
    )


def now_utc_date(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()
