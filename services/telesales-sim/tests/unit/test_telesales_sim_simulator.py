"""The simulation loop over a hand-written Salesforce fake and a FakeClock: who does what, when, as whom."""

from __future__ import annotations

from datetime import date

import pytest
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine
from leadflow_telesales_sim.adapters.repository import PlanStore
from leadflow_telesales_sim.adapters.salesforce import FollowUp, QueuedLead, Rep
from leadflow_telesales_sim.domain.model import load_behaviour
from leadflow_telesales_sim.simulator import Simulator

pytestmark = pytest.mark.unit

QUICK_QUALIFY = {
    "ignore_probability": 0,
    "quick_probability": 1,
    "quick_first_touch_minutes": [1, 1],
    "connect_probability": 1,
    "qualify_probability": 1,
    "disqualify_probability": 0,
    "decide_after_minutes": [4, 4],
}


class FakeOrg:
    """Leads by id (owner, status); records every write with the acting rep."""

    def __init__(self) -> None:
        self.leads: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}  # open/closed Tasks: who, owner, subject, status
        self.writes: list[tuple] = []

    async def reps(self, roles, usernames):
        return [Rep("005A", "a@x.example"), Rep("005B", "b@x.example")]

    async def lead_statuses(self):
        return {"Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"}

    async def queued_leads(self, owner_ids, statuses):
        return [
            QueuedLead(k, v["owner"], v["status"])
            for k, v in sorted(self.leads.items())
            if v["owner"] in owner_ids and v["status"] in statuses
        ]

    async def open_follow_ups(self, owner_ids, subjects):
        return [
            FollowUp(k, v["who"], v["owner"])
            for k, v in sorted(self.tasks.items())
            if v["owner"] in owner_ids
            and v["status"] != "Completed"
            and any(v["subject"].startswith(s) for s in subjects)
        ]

    async def complete_task(self, rep, task_id):
        self.writes.append(("complete", rep.user_id, task_id))
        self.tasks[task_id]["status"] = "Completed"

    async def log_call(self, rep, lead_id, disposition, seconds, day: date):
        self.writes.append(("call", rep.user_id, lead_id, disposition))
        return f"00T{len(self.writes)}"

    async def set_status(self, rep, lead_id, status):
        self.writes.append(("status", rep.user_id, lead_id, status))
        self.leads[lead_id]["status"] = status


@pytest.fixture
async def store(sqlite_url):
    engine = create_engine(sqlite_url)
    s = PlanStore(engine)
    await s.create_tables()
    yield s
    await engine.dispose()


def make(org, store, clock, **overrides):
    return Simulator(
        org,
        store,
        clock,
        load_behaviour(overrides={**QUICK_QUALIFY, **overrides}),
        time_scale=60,
        seed=1,
        rep_roles=["Seller"],
        rep_usernames=[],
    )


async def test_rep_calls_then_qualifies_as_itself_on_the_simulated_schedule(store):
    org, clock = FakeOrg(), FakeClock()
    org.leads["00Q1"] = {"owner": "005A", "status": "Open - Not Contacted"}
    sim = make(org, store, clock)
    await sim.start()
    await sim.tick()
    assert org.writes == []
    clock.advance(1)
    await sim.tick()
    assert org.writes == [("call", "005A", "00Q1", "Connected"), ("status", "005A", "00Q1", "Working - Contacted")]
    clock.advance(3.9)
    await sim.tick()
    assert len(org.writes) == 2
    clock.advance(0.2)
    await sim.tick()
    assert org.writes[-1] == ("status", "005A", "00Q1", "Closed - Converted")
    assert sim.plans["00Q1"].state == "finished"


async def test_restart_resumes_plans_without_redoing_actions(store):
    org, clock = FakeOrg(), FakeClock()
    org.leads["00Q1"] = {"owner": "005A", "status": "Open - Not Contacted"}
    sim = make(org, store, clock)
    await sim.start()
    await sim.tick()
    clock.advance(1)
    await sim.tick()
    again = make(org, store, clock)  # a restarted process: plans come from the database
    await again.start()
    clock.advance(4)
    await again.tick()
    assert [w[0] for w in org.writes] == ["call", "status", "status"]
    assert again.stats.planned == 0


async def test_reassigned_lead_is_cancelled_for_the_old_rep_and_planned_for_the_new(store):
    org, clock = FakeOrg(), FakeClock()
    org.leads["00Q1"] = {"owner": "005A", "status": "Open - Not Contacted"}
    org.leads["00Q2"] = {"owner": "005Z", "status": "Open - Not Contacted"}  # not a simulated rep
    sim = make(org, store, clock)
    await sim.start()
    await sim.tick()
    org.leads["00Q1"]["owner"] = "005B"  # reassigned (SLA escalation) before the first call
    await sim.tick()
    clock.advance(1)
    await sim.tick()
    assert {w[1] for w in org.writes} == {"005B"} and all(w[2] == "00Q1" for w in org.writes)
    assert sim.stats.planned == 2


async def test_ignored_leads_are_never_touched(store):
    org, clock = FakeOrg(), FakeClock()
    org.leads = {f"00Q{i}": {"owner": "005A", "status": "Open - Not Contacted"} for i in range(5)}
    sim = make(org, store, clock, ignore_probability=1)
    await sim.start()
    await sim.tick()
    clock.advance(3600)
    await sim.tick()
    assert org.writes == [] and sim.stats.by_outcome == {"ignored": 5}


def test_reps_keep_pace_with_the_demo_clock() -> None:
    from leadflow_platform.settings import DemoClockSettings
    from leadflow_telesales_sim.app import sim_time_scale
    from leadflow_telesales_sim.settings import TelesalesSimSettings

    off = DemoClockSettings(scale=1)
    on = DemoClockSettings(scale=120)
    default = TelesalesSimSettings.model_fields["time_scale"].default
    assert sim_time_scale(TelesalesSimSettings(demo_clock=off)) == default
    assert sim_time_scale(TelesalesSimSettings(demo_clock=on)) == 120
    assert sim_time_scale(TelesalesSimSettings(demo_clock=on, time_scale=30)) == 30  # an explicit setting wins


FOLLOW_UP = "Follow up: new inquiry"


async def test_follow_up_on_a_contact_is_called_and_completed_by_its_rep(store):
    org, clock = FakeOrg(), FakeClock()
    org.tasks["00TF1"] = {"who": "003C1", "owner": "005B", "subject": FOLLOW_UP, "status": "Not Started"}
    org.tasks["00TF2"] = {"who": "003C2", "owner": "005Z", "subject": FOLLOW_UP, "status": "Not Started"}  # not ours
    org.tasks["00TCB"] = {"who": "003C1", "owner": "005B", "subject": "Call back", "status": "Not Started"}
    sim = make(org, store, clock)
    await sim.start()
    await sim.tick()
    assert org.writes == [] and sim.stats.planned == 1
    clock.advance(1)  # quick first touch after one simulated minute
    await sim.tick()
    assert org.writes == [("call", "005B", "003C1", "Connected"), ("complete", "005B", "00TF1")]
    assert sim.plans["00TF1"].state == "finished" and sim.stats.follow_ups_completed == 1
    clock.advance(3600)
    await sim.tick()  # completed: it left the queue, nothing more; the callback Task is not a follow-up
    assert len(org.writes) == 2 and sim.stats.status_changes == 0


async def test_follow_up_on_an_untouched_lead_sets_it_working_but_never_decides_it(store):
    org, clock = FakeOrg(), FakeClock()
    org.leads["00Q1"] = {"owner": "005Z", "status": "Open - Not Contacted"}  # someone else's, no follow-up
    org.leads["00Q2"] = {"owner": "005A", "status": "Open - Not Contacted"}  # ours, untouched
    org.leads["00Q3"] = {"owner": "005Z", "status": "Working - Contacted"}  # someone else's, already worked
    for i in (2, 3):
        org.tasks[f"00TF{i}"] = {"who": f"00Q{i}", "owner": "005A", "subject": FOLLOW_UP, "status": "Not Started"}
    sim = make(org, store, clock, qualify_probability=0)
    await sim.start()
    await sim.tick()
    clock.advance(1)
    await sim.tick()
    by_record: dict[str, list[str]] = {}
    for w in org.writes:
        by_record.setdefault(w[2], []).append(w[0])
    # the Lead's own plan and the follow-up both call; only one of them moves it to Working
    assert by_record["00Q2"] == ["call", "status", "call"] and org.leads["00Q2"]["status"] == "Working - Contacted"
    # the follow-up on a worked Lead: a call on it, the Task completed, its status left to its owner
    assert by_record["00Q3"] == ["call"] and ("complete", "005A", "00TF3") in org.writes
    assert "00Q1" not in by_record
    clock.advance(3600)
    await sim.tick()
    assert org.leads["00Q3"]["status"] == "Working - Contacted"  # a follow-up never qualifies or disqualifies
    assert sum(w[0] == "status" for w in org.writes) == 1


async def test_follow_ups_can_be_switched_off(store):
    org, clock = FakeOrg(), FakeClock()
    org.tasks["00TF1"] = {"who": "003C1", "owner": "005A", "subject": FOLLOW_UP, "status": "Not Started"}
    sim = make(org, store, clock)
    sim.follow_up_subjects = []
    await sim.start()
    clock.advance(3600)
    await sim.tick()
    assert org.writes == [] and sim.stats.planned == 0


async def test_a_record_salesforce_refuses_is_given_up_and_the_rest_goes_on(store):
    """A follow-up whose Lead was converted meanwhile: Salesforce refuses the call on it. The rep gives that one up;
    the other plans are worked (one refused record never blocks the queue)."""
    from simple_salesforce.exceptions import SalesforceMalformedRequest

    class Refusing(FakeOrg):
        async def log_call(self, rep, lead_id, disposition, seconds, day: date):
            if lead_id == "00QGONE":
                raise SalesforceMalformedRequest("url", 400, "Task", [{"errorCode": "FIELD_INTEGRITY_EXCEPTION"}])
            return await super().log_call(rep, lead_id, disposition, seconds, day)

    org, clock = Refusing(), FakeClock()
    org.tasks["00TF1"] = {"who": "00QGONE", "owner": "005A", "subject": FOLLOW_UP, "status": "Not Started"}
    org.leads["00Q2"] = {"owner": "005A", "status": "Open - Not Contacted"}
    sim = make(org, store, clock)
    await sim.start()
    await sim.tick()
    clock.advance(1)
    await sim.tick()
    assert sim.plans["00TF1"].state == "cancelled" and org.tasks["00TF1"]["status"] == "Not Started"
    assert ("call", "005A", "00Q2", "Connected") in org.writes
    clock.advance(10)
    await sim.tick()
    assert not any(w[2] == "00QGONE" for w in org.writes)


async def test_an_outage_stops_the_tick_and_loses_no_plan(store):
    org, clock = FakeOrg(), FakeClock()
    org.leads["00Q1"] = {"owner": "005A", "status": "Open - Not Contacted"}
    sim = make(org, store, clock)
    await sim.start()
    await sim.tick()
    clock.advance(1)
    real = org.log_call

    async def down(*args, **kwargs):
        raise ConnectionError("Salesforce is down")

    org.log_call = down
    with pytest.raises(ConnectionError):
        await sim.tick()
    assert sim.plans["00Q1"].state == "active" and sim.plans["00Q1"].done == 0
    org.log_call = real
    await sim.tick()
    assert org.writes[0] == ("call", "005A", "00Q1", "Connected")
