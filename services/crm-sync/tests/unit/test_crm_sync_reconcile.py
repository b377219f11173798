"""The pure plan/reconcile steps of a batch (no I/O): events + states + write results → decisions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_contracts import DuplicateOf, SlaEventKind, SyncOperation
from leadflow_crm_sync.domain import reconcile as rc
from leadflow_crm_sync.domain.budget import ApiUsage
from leadflow_crm_sync.domain.conversion import ConvertedIds
from leadflow_crm_sync.domain.deferred import DeferredWrite
from leadflow_crm_sync.domain.policy import WriteKind, load_policy
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import Dropped, Outcome, SaveResult
from leadflow_crm_sync.testing import T0, lead_change, routed, sla_event

pytestmark = pytest.mark.unit
POLICY = load_policy(None)
NOW = T0 + timedelta(hours=2)
LOW = ApiUsage(used=99_990, total=100_000)
SF = "00Q000000000001AAA"


def ok(created: bool = True, rid: str = SF, dropped: tuple[Dropped, ...] = ()) -> SaveResult:
    return SaveResult(Outcome.CREATED if created else Outcome.UPDATED, id=rid, dropped=dropped)


@given(order=st.permutations(range(4)))
def test_the_latest_routing_of_a_lead_wins_whatever_the_order(order: list[int]) -> None:
    events = [routed("l", reassignment=i, occurred_at=T0 + timedelta(minutes=i), event_id=f"e{i}") for i in range(4)]
    items = [(events[i], b"") for i in order]
    (item,) = rc.latest_per_lead(items).values()
    assert item.event.event_id == "e3"
    assert sorted(e.event_id for e in item.superseded) == ["e0", "e1", "e2"]


def test_plan_routed_writes_new_leads_skips_unchanged_and_defers_below_the_budget() -> None:
    new, same = routed("new"), routed("same")
    first = rc.plan_routed([(same, b"")], {}, POLICY, None)
    written = LeadState(
        lead_id="same",
        salesforce_id=SF,
        content_hash=first.plans["same"].content_hash,
        owner_id=same.assignment.owner_id,
    )
    plan = rc.plan_routed([(new, b""), (same, b"")], {"same": written}, POLICY, None)
    assert set(plan.writes) == {"new"} and plan.plans["same"].write is None
    assert plan.writes["new"].fields["Status"] == "Open - Not Contacted"
    # An owner change is critical (goes through below the reserve); a plain update waits.
    moved = routed("same", owner_id="005000000000002AAA", reassignment=1, occurred_at=T0 + timedelta(hours=1))
    assert set(rc.plan_routed([(moved, b"")], {"same": written}, POLICY, LOW).writes) == {"same"}
    rescored = routed("same", score=99.0, event_id="rescored")
    held = rc.plan_routed([(rescored, b"")], {"same": written}, POLICY, LOW)
    assert held.writes == {} and held.deferred_leads == {"same"}
    (d,) = held.deferred
    assert d.kind == "lead" and d.event == rescored and held.states["same"].owner_id == written.owner_id


def test_apply_routed_turns_results_into_states_tasks_failures_and_held_events() -> None:
    cb, bad, later = (
        routed("cb", callback_at=T0 + timedelta(hours=3)),
        routed("bad"),
        routed("later", event_id="later-2"),
    )
    older = routed("later", event_id="later-1", occurred_at=T0 - timedelta(minutes=1))
    plan = rc.plan_routed([(cb, b"cb"), (bad, b"bad"), (older, b"o"), (later, b"l")], {}, POLICY, None)
    results = {
        "cb": ok(),
        "bad": SaveResult(Outcome.FAILED, status_code="DUPLICATES_DETECTED", message="dup"),
        "later": rc.UNWRITTEN,
    }
    step, tasks = rc.apply_routed(plan, results, {}, POLICY, NOW)
    assert step.states["cb"].salesforce_id == SF and step.states["cb"].sla_status == "On Track"
    assert [(t.lead_id, t.purpose, t.write.fields["WhoId"]) for t in tasks] == [("cb", "callback", SF)]
    assert step.blocked == {"later-2", "later-1"} and "later" not in step.states
    ((topic, dead),) = step.outputs
    assert topic == "leads.deadletter" and dead.not_in_salesforce and dead.lead_id == "bad"
    outputs = rc.routed_outputs(plan, step.states, results, {(cb.event_id, "callback"): "00T1"}, step.blocked, NOW)
    assert [(o.lead_id, o.operation, o.task_id) for _, o in outputs] == [("cb", SyncOperation.CREATED, "00T1")]


def test_a_contact_duplicate_is_an_inquiry_task_not_a_lead() -> None:
    dup = routed("c", duplicate_of=DuplicateOf(object="Contact", record_id="003000000000001AAA", matched_on="email"))
    plan = rc.plan_routed([(dup, b"")], {}, POLICY, None)
    assert plan.writes == {}
    step, tasks = rc.apply_routed(plan, {}, {}, POLICY, NOW)
    assert step.states["c"].object == "Contact" and [t.purpose for t in tasks] == ["inquiry"]
    (out,) = rc.routed_outputs(plan, step.states, {}, {}, set(), NOW)
    assert out[1].operation is SyncOperation.UPDATED and out[1].salesforce_id == "003000000000001AAA"


def test_dropped_values_are_reported_with_the_sync() -> None:
    ev = routed("d")
    plan = rc.plan_routed([(ev, b"")], {}, POLICY, None)
    res = {"d": ok(dropped=(Dropped("Email", "INVALID_EMAIL_ADDRESS", "bad", "x@"),))}
    step, _ = rc.apply_routed(plan, res, {}, POLICY, NOW)
    ((_, out),) = rc.routed_outputs(plan, step.states, res, {}, set(), NOW, shadow=True)
    assert [(d.field, d.reason) for d in out.dropped_fields] == [("Email", "INVALID_EMAIL_ADDRESS")]
    assert out.shadow is True and "dropped Email" in out.trace[-1].reason


def test_tasks_are_written_once_per_key_and_deferred_below_the_budget() -> None:
    ev = routed("t", callback_at=T0 + timedelta(hours=3))
    (job,) = rc.apply_routed(rc.plan_routed([(ev, b"")], {}, POLICY, None), {"t": ok()}, {}, POLICY, NOW)[1]
    twice = [job, rc.TaskJob(routed("t", event_id="again"), b"", "routed", "t", "callback", job.write)]
    plan = rc.plan_tasks(twice, {}, None, POLICY)
    assert len(plan.writes) == 1 and len(plan.todo) == 2
    step, recorded = rc.apply_tasks(plan, {job.write.key: ok(rid="00T9")}, NOW)
    assert plan.ids == {(ev.event_id, "callback"): "00T9", ("again", "callback"): "00T9"}
    assert len(recorded) == 2 and not step.outputs
    known = rc.plan_tasks([job], {job.write.key: "00T8"}, None, POLICY)
    assert known.writes == [] and known.ids == {(ev.event_id, "callback"): "00T8"}
    assert rc.plan_tasks([job], {}, LOW, POLICY).writes == [job.write], "a callback is critical"
    reminder = replace(job, write=replace(job.write, kind=WriteKind.REMINDER_TASK))
    held = rc.plan_tasks([reminder], {}, LOW, POLICY)
    assert held.writes == [] and [d.kind for d in held.deferred] == ["task"]


def test_sla_status_waits_for_the_first_write_and_escalations_need_a_leader() -> None:
    early = sla_event("new", SlaEventKind.BREACHED)
    plan = rc.plan_sla([(early, b"")], {}, POLICY, None, {})
    assert plan.status_writes == [] and plan.states["new"].pending_sla_status == "Breached"
    written = {"w": LeadState(lead_id="w", salesforce_id=SF, sla_status="On Track", owner_id="005000000000001AAA")}
    esc = sla_event("w", SlaEventKind.ESCALATED, step=1, action="notify team leader")
    assert rc.escalations_needing_a_leader([(esc, b"")], written) == [esc]
    no_directory = rc.plan_sla([(esc, b"")], written, POLICY, None, {})
    assert no_directory.blocked == {esc.event_id} and no_directory.tasks == []
    plan = rc.plan_sla([(esc, b"")], written, POLICY, None, {esc.event_id: "005000000000009AAA"})
    (write,) = [w for _, _, w, _ in plan.status_writes]
    assert write.fields == {"SLA_Status__c": "Breached"} and write.key == SF
    assert plan.tasks[0].write.fields["OwnerId"] == "005000000000009AAA"
    step = rc.apply_sla(plan, [ok(False)], written, NOW)
    assert step.states["w"].sla_status == "Breached"
    (out,) = rc.sla_outputs(plan, {**written, **step.states}, {(esc.event_id, "sla-escalated"): "00T3"}, set(), NOW)
    assert out[1].operation is SyncOperation.SLA_STATUS and out[1].task_id == "00T3"


def test_a_record_converts_once_per_batch_and_a_conversion_seen_in_salesforce_is_recorded() -> None:
    state = LeadState(lead_id="q", salesforce_id=SF, owner_id="005000000000001AAA")
    twice = [(lead_change("q", SF), b"", state), (lead_change("q", SF), b"", state)]
    plan = rc.plan_changes(twice, {}, POLICY, NOW.date(), NOW)
    assert len(plan.jobs) == 1 and plan.outputs == []
    assert rc.plan_changes(twice, {SF: ConvertedIds("001", "003", None)}, POLICY, NOW.date(), NOW).jobs == []
    seen = lead_change("q", SF, converted=True, record={"ConvertedAccountId": "001A"})
    observed = rc.plan_changes([(seen, b"", state)], {}, POLICY, NOW.date(), NOW)
    assert observed.jobs == [] and observed.conversions == [(SF, "q", ConvertedIds("001A", None, None))]


def test_apply_conversions_publishes_ids_fails_and_holds() -> None:
    state = LeadState(lead_id="q", salesforce_id=SF, owner_id="005000000000001AAA")
    jobs = rc.plan_changes([(lead_change("q", SF), b"", state)], {}, POLICY, NOW.date(), NOW).jobs
    ids = ConvertedIds("001A", "003A", "006A")
    step, opps = rc.apply_conversions(jobs, {SF: rc.ConversionResult(ids=ids)}, NOW)
    ((_, out),) = step.outputs
    assert out.operation is SyncOperation.CONVERTED and out.opportunity_id == "006A"
    assert step.states["q"].converted and [w.key for w in opps] == ["006A"]
    failed, _ = rc.apply_conversions(jobs, {SF: rc.ConversionResult(code="FIELD_INTEGRITY_EXCEPTION")}, NOW)
    assert failed.dead_lettered == 1 and failed.states == {}
    held, _ = rc.apply_conversions(jobs, {SF: rc.UNWRITTEN}, NOW)
    assert held.blocked == {jobs[0].event.event_id}
    before, opps = rc.apply_conversions(jobs, {SF: rc.ConversionResult(ids=ids, owner_id="005R", already=True)}, NOW)
    assert before.states["q"].owner_id == "005R" and opps == []


def test_deferred_writes_round_trip_through_their_stored_form() -> None:
    ev = routed("r", score=99.0)
    plan = rc.plan_routed(
        [(ev, b"")],
        {"r": LeadState(lead_id="r", salesforce_id=SF, owner_id=ev.assignment.owner_id, content_hash="old")},
        POLICY,
        LOW,
    )
    (d,) = plan.deferred
    again = DeferredWrite.from_row("r", d.payload())
    assert again == d and again.key == d.key


def test_no_function_in_crm_sync_is_more_complex_than_mccabe_10() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    src = Path(rc.__file__).parents[1]
    out = subprocess.run(
        [ruff, "check", "--no-cache", "--select", "C901", "--config", "lint.mccabe.max-complexity=10", str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout
