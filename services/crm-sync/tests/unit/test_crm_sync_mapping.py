from __future__ import annotations

from datetime import timedelta

import pytest
from leadflow_contracts import DuplicateOf, LeadSourceKind, SlaEventKind
from leadflow_contracts.pipeline import ClientType
from leadflow_crm_sync.domain.ids import lead_external_id, task_external_id
from leadflow_crm_sync.domain.mapping import (
    callback_task,
    content_hash,
    escalation_task,
    inquiry_task,
    lead_fields,
    plan_lead,
    sla_status_write,
    sla_warning_task,
)
from leadflow_crm_sync.domain.policy import WriteKind, load_policy
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.testing import T0, routed, sla_event

pytestmark = pytest.mark.unit
POLICY = load_policy()
REP = "005000000000001AAA"


def test_lead_fields_carry_owner_score_sla_and_custom_fields() -> None:
    ev = routed(account_id="001000000000001AAA", client_type=ClientType.KEY_ACCOUNT, key_account=True)
    f = lead_fields(ev, POLICY)
    assert f["OwnerId"] == REP
    assert f["Rating"] == "Hot" and f["Grade__c"] == "A" and f["Score__c"] == 72.0
    assert f["SLA_Due__c"] == "2026-01-05T09:30:00.000+0000"
    assert f["Client_Type__c"] == "Key Account"
    assert f["Matched_Account__c"] == "001000000000001AAA"
    assert f["Routing_Reason__c"] == "round_robin: weighted round-robin in Nordics"
    assert f["Score_Reasons__c"].splitlines()[0] == "+20 fit: title seniority: head"
    assert f["Language__c"] == "no" and f["LeadSource"] == "Web"


def test_required_fields_fall_back_and_consent_maps_to_opt_outs() -> None:
    ev = routed(last_name=None, company=None, do_not_call=True, do_not_email=True)
    f = lead_fields(ev, POLICY)
    assert f["LastName"] == "[not provided]" and f["Company"] == "[not provided]"
    assert f["DoNotCall"] is True and f["HasOptedOutOfEmail"] is True


@pytest.mark.parametrize(
    ("kind", "picklist"),
    [
        (LeadSourceKind.CALLBACK_REQUEST, "Phone Inquiry"),
        (LeadSourceKind.LIST_UPLOAD, "Purchased List"),
        (LeadSourceKind.PARTNER, "Partner Referral"),
        (LeadSourceKind.REACTIVATION, "Other"),
    ],
)
def test_lead_source_kinds_map_onto_the_org_picklist(kind: LeadSourceKind, picklist: str) -> None:
    assert lead_fields(routed(source=kind), POLICY)["LeadSource"] == picklist


def test_callback_due_is_the_sla_due_time() -> None:
    cb = T0 + timedelta(hours=5)
    f = lead_fields(routed(callback_at=cb), POLICY)
    assert f["SLA_Due__c"] == "2026-01-05T14:00:00.000+0000" and f["Callback_At__c"] == f["SLA_Due__c"]


def test_first_write_upserts_by_external_id_with_status_and_sla_status() -> None:
    plan = plan_lead(routed(), LeadState(lead_id="lead-1"), POLICY)
    assert plan.kind is WriteKind.NEW_LEAD and plan.target == "lead_upsert"
    assert plan.write is not None and plan.write.mode == "upsert" and plan.write.key == "lead-1"
    rec = plan.write.record()
    assert rec["Leadflow_Id__c"] == "lead-1" and rec["Status"] == "Open - Not Contacted"
    assert rec["SLA_Status__c"] == "On Track" and rec["attributes"] == {"type": "Lead"}
    assert "PostalCode" not in rec  # None values are never sent: a rep's data is not blanked


def test_pending_sla_status_goes_into_the_first_write() -> None:
    plan = plan_lead(routed(), LeadState(lead_id="lead-1", pending_sla_status="Breached"), POLICY)
    assert plan.write is not None and plan.write.fields["SLA_Status__c"] == "Breached"


def test_same_content_again_is_not_written() -> None:
    ev = routed()
    first = plan_lead(ev, LeadState(lead_id="lead-1"), POLICY)
    state = LeadState(lead_id="lead-1", salesforce_id="00Q1", content_hash=first.content_hash, owner_id=REP)
    again = plan_lead(routed(event_id="another-event"), state, POLICY)
    assert again.write is None and again.reason == "unchanged since the last write"


def test_later_writes_leave_status_to_the_reps_and_classify_owner_change() -> None:
    state = LeadState(lead_id="lead-1", salesforce_id="00Q1", content_hash="old", owner_id=REP)
    plan = plan_lead(routed(owner_id="005000000000002AAA", reassignment=1), state, POLICY)
    assert plan.kind is WriteKind.OWNER_CHANGE
    assert plan.write is not None and "Status" not in plan.write.fields and "SLA_Status__c" not in plan.write.fields
    cosmetic = plan_lead(routed(score=80), state, POLICY)
    assert cosmetic.kind is WriteKind.LEAD_UPDATE


def test_duplicate_of_a_lead_updates_that_record_by_id() -> None:
    dup = DuplicateOf(object="Lead", record_id="00Q000000000777AAA", matched_on="email")
    plan = plan_lead(routed(duplicate_of=dup, last_name=None), LeadState(lead_id="lead-9"), POLICY)
    assert plan.target == "lead_update" and plan.write is not None
    assert plan.write.mode == "update" and plan.write.key == "00Q000000000777AAA"
    rec = plan.write.record()
    assert rec["Id"] == "00Q000000000777AAA" and "Leadflow_Id__c" not in rec
    assert "LastName" not in rec, "a fallback name must not overwrite the existing record's name"
    assert "LeadSource" not in rec and "Status" not in rec
    assert "OwnerId" not in rec, "a duplicate never moves the record it is merged into"


@pytest.mark.parametrize("reassignment", [0, 1, 3])
@pytest.mark.parametrize("in_flight", [False, True])
@pytest.mark.parametrize("written", [False, True])
def test_a_duplicate_never_writes_the_owner_of_its_record(reassignment: int, in_flight: bool, written: bool) -> None:
    """Whatever owner route gave the duplicate (a queue after an escalation, another rep), the record keeps its
    owner: arriving, being re-routed by its own escalation, first write or later."""
    root = "lead-root"
    dup = (
        DuplicateOf(object="Lead", record_id=root, matched_on="phone", leadflow_id=root)
        if in_flight
        else DuplicateOf(object="Lead", record_id="00Q000000000777AAA", matched_on="email", owner_id=REP)
    )
    state = (
        LeadState(lead_id="lead-9", salesforce_id="00Q000000000777AAA", content_hash="old", owner_id=REP, mode="update")
        if written
        else LeadState(lead_id="lead-9")
    )
    for owner, kind in (("005000000000002AAA", "user"), ("00G000000000001AAA", "queue")):
        ev = routed("lead-9", duplicate_of=dup, owner_id=owner, owner_type=kind, reassignment=reassignment)
        plan = plan_lead(ev, state, POLICY)
        assert plan.write is not None and plan.target == "lead_update"
        assert "OwnerId" not in plan.write.fields and "OwnerId" not in plan.write.record()
        assert plan.write.key == (lead_external_id(root) if in_flight else "00Q000000000777AAA")


def test_duplicate_of_a_contact_writes_no_lead_but_a_task_on_the_contact() -> None:
    dup = DuplicateOf(
        object="Contact", record_id="003000000000123AAA", matched_on="phone", owner_id="005000000000042AAA"
    )
    ev = routed(duplicate_of=dup, owner_id="00G000000000001AAA", owner_type="queue")
    plan = plan_lead(ev, LeadState(lead_id="lead-1"), POLICY)
    assert plan.target == "contact" and plan.write is None
    task = inquiry_task(ev, dup.record_id, POLICY)
    assert task.fields["WhoId"] == dup.record_id
    assert task.fields["OwnerId"] == "005000000000042AAA", "a queue cannot own a Task: the contact's owner does"
    assert task.key == task_external_id("lead-1", "inquiry")


def test_converted_lead_is_not_written_again() -> None:
    state = LeadState(lead_id="lead-1", salesforce_id="00Q1", content_hash="x", converted=True)
    assert plan_lead(routed(score=10), state, POLICY).write is None


def test_callback_task_is_due_at_the_requested_time_with_a_reminder() -> None:
    cb = T0 + timedelta(hours=3)  # 13:00 in Oslo
    task = callback_task(routed(callback_at=cb), "00Q000000000001AAA", POLICY)
    assert task is not None
    f = task.fields
    assert f["Subject"] == "Call back" and f["IsReminderSet"] is True
    assert f["ReminderDateTime"] == "2026-01-05T12:00:00.000+0000" and f["ActivityDate"] == "2026-01-05"
    assert f["OwnerId"] == REP and f["WhoId"] == "00Q000000000001AAA"
    assert task.mode == "upsert" and task.ext_field == "Leadflow_Task_Id__c"
    assert callback_task(routed(), "00Q1", POLICY) is None


def test_callback_activity_date_is_the_prospects_local_date() -> None:
    cb = T0.replace(hour=23, minute=30)  # 00:30 next day in Oslo
    task = callback_task(routed(callback_at=cb), "00Q1", POLICY)
    assert task is not None and task.fields["ActivityDate"] == "2026-01-06"


def test_sla_status_update_needs_a_written_lead_and_skips_no_change() -> None:
    written = LeadState(lead_id="lead-1", salesforce_id="00Q000000000001AAA", sla_status="On Track")
    status, write = sla_status_write(sla_event(kind=SlaEventKind.BREACHED), written, POLICY)
    assert status == "Breached" and write is not None
    assert write.kind is WriteKind.SLA_BREACH and write.fields == {"SLA_Status__c": "Breached"}
    assert write.mode == "update" and write.key == "00Q000000000001AAA"
    _, warn = sla_status_write(sla_event(kind=SlaEventKind.WARNING), written, POLICY)
    assert warn is not None and warn.kind is WriteKind.SLA_STATUS
    _, none = sla_status_write(sla_event(kind=SlaEventKind.STARTED), written, POLICY)
    assert none is None, "already On Track"
    status, pending = sla_status_write(sla_event(), LeadState(lead_id="lead-1"), POLICY)
    assert status == "Breached" and pending is None


def test_warning_and_escalation_tasks() -> None:
    state = LeadState(lead_id="lead-1", salesforce_id="00Q000000000001AAA", owner_id=REP)
    warn = sla_warning_task(sla_event(kind=SlaEventKind.WARNING), state, POLICY)
    assert warn is not None and warn.fields["OwnerId"] == REP and warn.kind is WriteKind.REMINDER_TASK
    esc = escalation_task(
        sla_event(kind=SlaEventKind.ESCALATED, step=1, action="notify_team_leader"), state, "005000000000077AAA", POLICY
    )
    assert esc is not None and esc.fields["OwnerId"] == "005000000000077AAA"
    assert "notify_team_leader" in esc.fields["Subject"] and esc.kind is WriteKind.ESCALATION_TASK
    assert escalation_task(sla_event(kind=SlaEventKind.ESCALATED), state, None, POLICY) is None


def test_external_ids_are_stable_and_fit_their_fields() -> None:
    assert lead_external_id("lead-1") == "lead-1"
    long_id = "x" * 128
    assert lead_external_id(long_id) == lead_external_id(long_id) and len(lead_external_id(long_id)) <= 64
    assert lead_external_id("web form/42") != "web form/42"
    key = task_external_id("x" * 128, "sla-escalation", "first_touch:2026-01-05T09:30:00+00:00:3")
    assert len(key) <= 80 and key == task_external_id(
        "x" * 128, "sla-escalation", "first_touch:2026-01-05T09:30:00+00:00:3"
    )


def test_content_hash_ignores_first_write_only_fields() -> None:
    f = lead_fields(routed(), POLICY)
    assert content_hash(f) == content_hash({**f, "Status": "Working - Contacted", "SLA_Status__c": "Met"})
    assert content_hash(f) != content_hash({**f, "OwnerId": "005000000000002AAA"})


@pytest.mark.parametrize(
    "original",
    [
        "chloé.garcía@example.fr",
        "müller@bücher.example",
        "δοκιμή@παράδειγμα.δοκιμή",
        "用户@例子.广告",
        "x" * 90 + "@a.example",
    ],
)
def test_an_address_intake_could_not_store_is_left_out_before_the_call_and_kept_for_the_rep(original: str) -> None:
    base = routed(email=None)
    lead = base.lead.model_copy(update={"email_original": original})
    plan = plan_lead(base.model_copy(update={"lead": lead}), LeadState(lead_id="lead-1"), POLICY)
    assert plan.write is not None
    assert "Email" not in plan.write.fields  # never sent: no call is spent on a refusal
    assert [(d.field, d.code, d.value) for d in plan.write.dropped] == [("Email", "NOT_STORABLE", original)]
    assert original in plan.write.fields["Leadflow_Dropped_Fields__c"]  # the rep reads it on the Lead


def test_a_number_intake_could_not_verify_is_written_as_given() -> None:
    base = routed()
    lead = base.lead.model_copy(update={"phone_e164": None, "phone_unverified": "0301 23 45 (ext. 7)"})
    plan = plan_lead(base.model_copy(update={"lead": lead}), LeadState(lead_id="lead-1"), POLICY)
    assert plan.write is not None and plan.write.fields["Phone"] == "0301 23 45 (ext. 7)"
    assert plan.write.dropped == ()
