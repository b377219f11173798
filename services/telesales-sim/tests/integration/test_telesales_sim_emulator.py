"""A simulated rep works a lead in the real emulator, as itself; crm-changes sees a rep change, not an echo."""

from __future__ import annotations

import pytest
from leadflow_crm_changes.testing import recording_feed
from leadflow_platform.clock import FakeClock
from leadflow_telesales_sim.app import create_app
from leadflow_telesales_sim.settings import TelesalesSimSettings

pytestmark = pytest.mark.integration

ALWAYS_QUALIFY = {
    "ignore_probability": 0,
    "quick_probability": 1,
    "quick_first_touch_minutes": [1, 1],
    "connect_probability": 1,
    "qualify_probability": 1,
    "disqualify_probability": 0,
    "decide_after_minutes": [5, 5],
}


async def test_rep_works_lead_as_itself_and_the_feed_sees_rep_changes(
    emu, integration_sf, sim_reps, sqlite_url, tmp_path
):
    seller = sim_reps["seller"]
    lead = integration_sf.Lead.create(
        {"LastName": "Koch", "Company": "Alpen GmbH", "Leadflow_Id__c": "lf-sim-1", "OwnerId": seller}
    )["id"]
    other = integration_sf.Lead.create(
        {"LastName": "Lambert", "Company": "Delta NV", "Leadflow_Id__c": "lf-sim-2", "OwnerId": sim_reps["finance"]}
    )["id"]  # not a simulated rep's lead
    # crm-changes, as it runs in production (its own DB and gateway), collecting what it would publish
    feed, published, feed_engine = await recording_feed(tmp_path, emu.salesforce_settings())
    await feed.step()  # leadflow's own lead creations: echoes
    assert published == []

    clock = FakeClock()
    settings = TelesalesSimSettings(
        database_url=sqlite_url, salesforce=emu.salesforce_settings(), time_scale=60, behaviour=ALWAYS_QUALIFY
    )
    app = create_app(settings, clock=clock, run_simulation=False)
    async with app.router.lifespan_context(app):
        sim = app.state.simulator
        await sim.start()
        assert set(sim.reps) == {seller, sim_reps["leader"]}
        assert sim.qualified_status == "Closed - Converted"  # the emulator's picklist has no "Qualified"
        await sim.tick()
        assert sim.stats.planned == 1 and sim.stats.calls == 0  # planned, not yet due
        clock.advance(1.5)  # one simulated minute and a half at 60x
        await sim.tick()
        assert (sim.stats.calls, sim.stats.status_changes) == (1, 1)
        task = integration_sf.query(
            f"SELECT Id, WhoId, TaskSubtype, Status, CreatedById, CallDisposition FROM Task WHERE WhoId = '{lead}'"
        )["records"]
        assert len(task) == 1
        assert (task[0]["TaskSubtype"], task[0]["Status"], task[0]["CreatedById"]) == ("Call", "Completed", seller)
        rec = integration_sf.Lead.get(lead)
        assert (rec["Status"], rec["LastModifiedById"]) == ("Working - Contacted", seller)
        await feed.step()
        clock.advance(5)
        await sim.tick()
        assert sim.plans[lead].state == "finished"
        assert integration_sf.Lead.get(lead)["Status"] == "Closed - Converted"
        await sim.tick()  # the qualified lead left the queue; nothing more happens
        assert (sim.stats.calls, sim.stats.status_changes) == (1, 2)
    await feed.step()
    await feed_engine.dispose()
    assert integration_sf.Lead.get(other)["Status"] == "Open - Not Contacted"
    assert feed.totals.echoes == 6  # the org's 4 users and leadflow's 2 leads: all written by the integration user
    by = sorted((e.object, e.change_type.value, e.changed_by, e.lead_id) for e in published)
    assert by == [
        ("Lead", "updated", seller, "lf-sim-1"),
        ("Lead", "updated", seller, "lf-sim-1"),
        ("Task", "created", seller, "lf-sim-1"),
    ]
    statuses = [next(c for c in e.changed_fields if c.field == "Status") for e in published if e.object == "Lead"]
    assert [(c.old, c.new) for c in statuses] == [
        ("Open - Not Contacted", "Working - Contacted"),
        ("Working - Contacted", "Closed - Converted"),
    ]


async def test_rep_works_a_follow_up_on_a_contact_and_the_feed_keys_it_by_the_contact(
    emu, integration_sf, sim_reps, sqlite_url, tmp_path
):
    """crm-sync's follow-up Task for a repeat inquiry from a Contact: the rep calls the Contact and completes the
    Task, as itself; crm-changes publishes both as rep changes keyed by the Contact (what sla-monitor files the
    merged lead under)."""
    seller = sim_reps["seller"]
    contact = integration_sf.Contact.create({"LastName": "Berg", "OwnerId": seller})["id"]
    follow_up = integration_sf.Task.create(
        {"WhoId": contact, "OwnerId": seller, "Subject": "Follow up: new inquiry", "TaskSubtype": "Task"}
    )["id"]
    integration_sf.Task.create(  # a reminder is not a follow-up: left alone
        {"WhoId": contact, "OwnerId": seller, "Subject": "SLA reminder: lead due", "TaskSubtype": "Task"}
    )
    feed, published, feed_engine = await recording_feed(tmp_path, emu.salesforce_settings())
    await feed.step()
    assert published == []  # the integration user's writes are echoes

    clock = FakeClock()
    settings = TelesalesSimSettings(
        database_url=sqlite_url, salesforce=emu.salesforce_settings(), time_scale=60, behaviour=ALWAYS_QUALIFY
    )
    app = create_app(settings, clock=clock, run_simulation=False)
    async with app.router.lifespan_context(app):
        sim = app.state.simulator
        await sim.start()
        await sim.tick()
        assert sim.stats.planned == 1 and follow_up in sim.plans
        clock.advance(1.5)
        await sim.tick()
        assert (sim.stats.calls, sim.stats.follow_ups_completed, sim.stats.status_changes) == (1, 1, 0)
        tasks = integration_sf.query_all(
            f"SELECT Id, Subject, TaskSubtype, Status, LastModifiedById FROM Task WHERE WhoId = '{contact}'"
        )["records"]
        by_subject = {t["Subject"]: t for t in tasks}
        assert (
            by_subject["Follow up: new inquiry"]["Status"],
            by_subject["Follow up: new inquiry"]["LastModifiedById"],
        ) == (
            "Completed",
            seller,
        )
        assert (by_subject["Call"]["TaskSubtype"], by_subject["Call"]["Status"]) == ("Call", "Completed")
        assert by_subject["SLA reminder: lead due"]["Status"] != "Completed"
        await sim.tick()
        assert sim.stats.calls == 1  # done: nothing is repeated
    await feed.step()
    await feed_engine.dispose()
    seen = sorted(
        (e.object, e.record.get("Subject"), e.record.get("Status"), e.changed_by, e.lead_id) for e in published
    )
    assert seen == [
        ("Task", "Call", "Completed", seller, contact),
        ("Task", "Follow up: new inquiry", "Completed", seller, contact),
    ]
