"""SLA_Status__c shows the lead's standing over all its clocks (``SlaEvent.lead_status``), a duplicate's
standing is never written onto the record it went into, and a repeat inquiry on a Lead files a follow-up
Task for its rep (issue 12: the board's "breached" = ``SLA_Status__c = 'Breached'`` on open Leads)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_contracts import DuplicateOf, SlaEventKind, SlaLeadStatus
from leadflow_crm_sync.domain import reconcile as rc
from leadflow_crm_sync.domain.mapping import inquiry_task, sla_status_write
from leadflow_crm_sync.domain.policy import WriteKind, load_policy
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import Outcome, SaveResult
from leadflow_crm_sync.testing import T0, routed, sla_event

pytestmark = pytest.mark.unit
POLICY = load_policy(None)
SF = "00Q000000000001AAA"
WRITTEN = LeadState(lead_id="w", salesforce_id=SF, sla_status="On Track", owner_id="005000000000001AAA")
PICKLIST = {
    SlaLeadStatus.ON_TRACK: "On Track",
    SlaLeadStatus.WARNING: "Warning",
    SlaLeadStatus.BREACHED: "Breached",
    SlaLeadStatus.MET: "Met",
}


@given(kind=st.sampled_from(list(SlaEventKind)), standing=st.sampled_from(list(SlaLeadStatus)))
def test_the_status_written_is_the_leads_standing_whatever_the_event(
    kind: SlaEventKind, standing: SlaLeadStatus
) -> None:
    ev = sla_event("w", kind).model_copy(update={"lead_status": standing})
    status, write = sla_status_write(ev, WRITTEN, POLICY)
    assert status == PICKLIST[standing]
    if status == WRITTEN.sla_status:
        assert write is None
    else:
        assert write is not None and write.fields == {"SLA_Status__c": status} and write.key == SF
        assert (write.kind is WriteKind.SLA_BREACH) == (standing is SlaLeadStatus.BREACHED)


def test_an_older_producers_event_falls_back_to_its_kind() -> None:
    assert sla_status_write(sla_event("w", SlaEventKind.BREACHED), WRITTEN, POLICY)[0] == "Breached"
    assert sla_status_write(sla_event("w", SlaEventKind.CANCELLED), WRITTEN, POLICY) == (None, None)


@pytest.mark.parametrize("standing", list(SlaLeadStatus))
def test_a_duplicates_standing_is_never_written_onto_the_record_it_went_into(standing: SlaLeadStatus) -> None:
    ev = sla_event("w", SlaEventKind.BREACHED).model_copy(update={"lead_status": standing, "merged_into": f"Lead {SF}"})
    assert sla_status_write(ev, WRITTEN, POLICY) == (None, None)
    plan = rc.plan_sla([(ev, b"")], {"w": WRITTEN}, POLICY, None, {})
    assert plan.status_writes == [] and plan.states.get("w") is None


def test_a_cycle_restarted_after_a_reassignment_is_on_track_again() -> None:
    """sla-monitor's order is the lead's story: a breach (stamped at its due time) then the new owner's cycle."""
    breach = sla_event("w", SlaEventKind.BREACHED, occurred_at=T0 + timedelta(minutes=30)).model_copy(
        update={"lead_status": SlaLeadStatus.BREACHED}
    )
    restarted = sla_event("w", SlaEventKind.STARTED, occurred_at=T0 + timedelta(minutes=20)).model_copy(
        update={"lead_status": SlaLeadStatus.ON_TRACK}
    )
    breached = LeadState(lead_id="w", salesforce_id=SF, sla_status="Breached", owner_id="005000000000001AAA")
    plan = rc.plan_sla([(breach, b""), (restarted, b"")], {"w": WRITTEN}, POLICY, None, {})
    assert [w.fields["SLA_Status__c"] for _, _, w, _ in plan.status_writes][-1] == "On Track"
    plan = rc.plan_sla([(restarted, b"")], {"w": breached}, POLICY, None, {})
    assert [w.fields for _, _, w, _ in plan.status_writes] == [{"SLA_Status__c": "On Track"}]


IN_FLIGHT = DuplicateOf(object="Lead", record_id="first", matched_on="phone", leadflow_id="first")


@pytest.mark.parametrize(
    ("dup", "outcome", "task"),
    [
        (DuplicateOf(object="Lead", record_id=SF, matched_on="email"), Outcome.UPDATED, True),
        (IN_FLIGHT, Outcome.UPDATED, True),
        (IN_FLIGHT, Outcome.CREATED, False),  # landed before the first lead's own write: a brand-new Lead
        (None, Outcome.CREATED, False),
    ],
)
def test_a_repeat_inquiry_on_a_lead_files_a_follow_up_task_for_its_rep(
    dup: DuplicateOf | None, outcome: Outcome, task: bool
) -> None:
    ev = routed("again", duplicate_of=dup)
    plan = rc.plan_routed([(ev, b"")], {}, POLICY, None)
    _, tasks = rc.apply_routed(plan, {"again": SaveResult(outcome, id=SF)}, {}, POLICY, T0)
    follow_ups = [t for t in tasks if t.purpose == "inquiry"]
    assert bool(follow_ups) is task
    if task:
        (job,) = follow_ups
        fields = job.write.fields
        assert fields["WhoId"] == SF and fields["Subject"] == POLICY.tasks.inquiry.subject
        assert fields["OwnerId"] == ev.assignment.owner_id
        assert "WhatId" not in fields  # Salesforce refuses a WhatId next to a Lead WhoId
        assert "existing lead" in fields["Description"]


def test_a_contact_follow_up_keeps_its_account() -> None:
    dup = DuplicateOf(object="Contact", record_id="003000000000001AAA", matched_on="email")
    ev = routed("c", duplicate_of=dup)
    ev = ev.model_copy(
        update={
            "enrichment": ev.enrichment.model_copy(
                update={"match": ev.enrichment.match.model_copy(update={"account_id": "001000000000001AAA"})}
            )
        }
    )
    fields = inquiry_task(ev, dup.record_id, POLICY).fields
    assert fields["WhatId"] == "001000000000001AAA" and "existing contact" in fields["Description"]
