"""Which records a lead was merged into, and which merged leads a Salesforce change concerns.

A lead that enrich found to be a duplicate never gets a Salesforce record of its own: crm-sync updates
the record it repeats (an open Lead, by Salesforce Id; leadflow's own lead still in flight, by that
lead's external id) or files a follow-up Task on a Contact. Rep activity then happens on *that* record,
and the change feed keys it by that record's lead, never by the merged lead. So sla-monitor remembers,
per merged lead, the keys of the record it went into, and looks every change up by the same keys:

- ``lf:<leadflow lead id>``: leadflow's own lead (changes on it, and Tasks on it, carry its id as ``lead_id``);
- ``sf:<Salesforce Id>``: a Lead or Contact by Id (a Lead change's record id, a Task's ``WhoId``).

Decisions (issue 12), for every merged lead and Contact follow-up:

- **Met by activity after the inquiry.** Its clocks are met by rep activity on the record it went into (a
  Lead status change, a logged call/e-mail Task, a completed follow-up Task) made at or after leadflow
  accepted the new inquiry (``activity_floor``). Activity from before, e.g. the touch that already moved
  the Lead to "Working", answered an earlier inquiry, not this one; a change feed that delivers it late
  must not count it.
- **Never reassigned by its ladder.** The record belongs to a rep who is working it (the Lead's owner, the
  Contact's account owner). A ``reassign`` or ``team_queue`` rung of a merged lead's escalation ladder
  therefore becomes ``notify_team_leader`` (``hold_the_record``): crm-sync files the escalation Task for the
  team leader on the record, and no ``ReassignRequested`` moves the record away from its rep.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from leadflow_businesstime import EscalationAction
from leadflow_contracts.crm import CrmChange
from leadflow_contracts.pipeline import LeadRouted

from leadflow_sla_monitor.domain.signals import salesforce_ids
from leadflow_sla_monitor.domain.timers import Emission


def merged_into(routed: LeadRouted) -> tuple[str, ...]:
    """The keys of the record ``routed``'s lead was merged into (empty when it is its own record)."""
    dup = routed.enrichment.duplicate_of
    if dup is None:
        return ()
    if dup.leadflow_id:
        return (f"lf:{dup.leadflow_id}",)
    return (f"sf:{dup.record_id}",)


def change_keys(change: CrmChange) -> tuple[str, ...]:
    """The keys under which leads merged into the changed record (or the Task's record) were filed."""
    return (f"lf:{change.lead_id}", *(f"sf:{i}" for i in salesforce_ids(change)))


def activity_floor(routed: LeadRouted, accepted_at: datetime | None = None) -> datetime:
    """The earliest activity on the merged-into record that answers ``routed``'s inquiry: when leadflow
    accepted it (or when it was routed, if a clock skew puts that first).

    ``accepted_at``: ``routed.lead.accepted_at`` in the monitor's time. intake stamps it on the wall clock
    while route stamps the routing on the demo clock when that is on, so the caller converts it
    (``leadflow_platform.clock.from_wall``); None takes the stamp as it is.
    """
    return min(routed.lead.accepted_at if accepted_at is None else accepted_at, routed.occurred_at)


def hold_the_record(emission: Emission, routed: LeadRouted) -> Emission:
    """A merged lead's escalation never moves the record: a reassign / team-queue rung notifies the team leader."""
    if emission.reassign_target is None or not merged_into(routed):
        return emission
    dup = routed.enrichment.duplicate_of
    record = f"{dup.object} {dup.record_id}" if dup is not None else "its record"
    return replace(
        emission,
        reassign_target=None,
        escalation_action=EscalationAction.NOTIFY_TEAM_LEADER.value,
        reason=f"{emission.reason} → {EscalationAction.NOTIFY_TEAM_LEADER.value}: merged into {record}, "
        "which its rep is working; the record is not reassigned",
    )


def merged_record(routed: LeadRouted) -> str | None:
    """``SlaEvent.merged_into``: the record a duplicate went into (``Lead <id>`` / ``Contact <Id>``), else None.
    crm-sync never writes a merged lead's SLA standing onto that record: the record's own lead owns it."""
    dup = routed.enrichment.duplicate_of
    if dup is None:
        return None
    return f"{dup.object} {dup.leadflow_id or dup.record_id}"
