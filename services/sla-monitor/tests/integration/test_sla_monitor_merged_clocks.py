"""Merged leads and Contact follow-ups: rep activity on the record a lead went into stops that lead's clocks
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from leadflow_contracts.pipeline import DuplicateOf, LeadRouted
from leadflow_contracts.sla import SlaEvent
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine
from leadflow_sla_monitor.adapters.publisher import RecordingPublisher
from leadflow_sla_monitor.adapters.store import TimerStore
from leadflow_sla_monitor.domain.merged import change_keys, merged_into
from leadflow_sla_monitor.service import Calendars, SlaMonitor
from leadflow_sla_monitor.testing import MONDAY_9, lead_change, make_routed, task_change, test_calendars, test_policies

pytestmark = pytest.mark.integration


def merged(lead_id: str, dup: DuplicateOf) -> LeadRouted:
    ev = make_routed(lead_id, MONDAY_9, owner_id="005REP2")
    return ev.model_copy(update={"enrichment": ev.enrichment.model_copy(update={"duplicate_of": dup})})


def met(pub: RecordingPublisher) -> set[tuple[str, str]]:
    return {(e.lead_id, e.clock) for e in pub.events("sla.events") if isinstance(e, SlaEvent) and e.kind == "met"}


async def test_activity_on_the_merged_into_record_meets_the_merged_leads_clocks(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine = create_engine(database_url)
    store = TimerStore(engine)
    await store.create_tables()
    pub = RecordingPublisher()
    monitor = SlaMonitor(store, pub, test_policies(), Calendars(test_calendars()), clock)
    try:
        await monitor.handle_routed(
            [
                make_routed("first", MONDAY_9),  # leadflow's own lead
                merged("again", DuplicateOf(object="Lead", record_id="first", matched_on="email", leadflow_id="first")),
                merged(
                    "again-2", DuplicateOf(object="Lead", record_id="first", matched_on="phone", leadflow_id="first")
                ),
                merged("old-lead", DuplicateOf(object="Lead", record_id="00QOLD", matched_on="email")),
                merged("follow-up", DuplicateOf(object="Contact", record_id="003CONTACT", matched_on="email")),
                make_routed("bystander", MONDAY_9),
            ]
        )
        await monitor.handle_routed([make_routed("first", MONDAY_9)])  # a replay files nothing twice
        clock.advance(timedelta(minutes=10))
        # a rep calls the first lead: a Task keyed by the first lead's id
        await monitor.handle_changes([task_change("first", clock.now(), who_id="00QFIRST", record_id="00T1")])
        assert met(pub) == {("first", "first_touch"), ("again", "first_touch"), ("again-2", "first_touch")}
        # a rep works the pre-existing Lead (not leadflow's: keyed by its Salesforce Id)
        await monitor.handle_changes([lead_change("00QOLD", clock.now(), status="Working", record_id="00QOLD")])
        assert ("old-lead", "first_touch") in met(pub)
        # a rep logs an e-mail on the Contact the follow-up went to
        mail = task_change(
            "003CONTACT", clock.now(), subtype="Email", subject="Email: re", who_id="003CONTACT", record_id="00T2"
        )
        await monitor.handle_changes([mail])
        assert ("follow-up", "first_touch") in met(pub)
        # qualifying the first lead qualifies the leads merged into it; the bystander is untouched
        await monitor.handle_changes([lead_change("first", clock.now(), status="Qualified", record_id="00QFIRST")])
        assert {("again", "qualify"), ("again-2", "qualify"), ("first", "qualify")} <= met(pub)
        assert not any(lead == "bystander" for lead, _ in met(pub))
        # the merged lead never took the record's Salesforce id (the record is the first lead's)
        async with engine.connect() as conn:
            assert (await store.get_lead(conn, "again")).salesforce_id is None  # type: ignore[union-attr]
            assert (await store.get_lead(conn, "first")).salesforce_id == "00QFIRST"  # type: ignore[union-attr]
        # each met once, even when the same change is delivered again
        before = len(pub.events("sla.events"))
        await monitor.handle_changes([lead_change("first", clock.now(), status="Qualified", record_id="00QFIRST")])
        assert len(pub.events("sla.events")) == before
    finally:
        await engine.dispose()


def test_keys_of_a_merged_lead_and_of_a_change_meet() -> None:
    own = make_routed("x", MONDAY_9)
    assert merged_into(own) == ()
    in_flight = merged("y", DuplicateOf(object="Lead", record_id="x", matched_on="email", leadflow_id="x"))
    assert set(merged_into(in_flight)) <= set(change_keys(lead_change("x", MONDAY_9, status="Working")))
    contact = merged("z", DuplicateOf(object="Contact", record_id="003C", matched_on="phone"))
    assert set(merged_into(contact)) <= set(change_keys(task_change("003C", MONDAY_9, who_id="003C")))
    assert not set(merged_into(contact)) & set(change_keys(task_change("003D", MONDAY_9, who_id="003D")))


async def test_a_duplicate_of_a_worked_lead_is_met_by_activity_after_it_and_never_reassigned(database_url: str) -> None:
    """The Lead was worked before the new inquiry: that old touch (delivered late by the change feed) does not
    answer it; the rep's next activity does. While unanswered, its ladder notifies the team leader and never
    moves the record (no ``leads.reassign``), for a Lead duplicate and a Contact follow-up alike."""
    from leadflow_contracts.pipeline import ReassignRequested
    from leadflow_sla_monitor.scheduler import Scheduler

    clock = FakeClock(MONDAY_9)
    engine = create_engine(database_url)
    store = TimerStore(engine)
    await store.create_tables()
    pub = RecordingPublisher()
    monitor = SlaMonitor(store, pub, test_policies(), Calendars(test_calendars()), clock)
    scheduler = Scheduler(monitor, clock, instance_id="t", batch_size=50, lease=timedelta(seconds=30))
    try:
        clock.advance(timedelta(minutes=5))
        worked = merged("again", DuplicateOf(object="Lead", record_id="00QWORKED", matched_on="email"))
        follow_up = merged("inquiry", DuplicateOf(object="Contact", record_id="003C", matched_on="phone"))
        worked, follow_up = (
            e.model_copy(
                update={"occurred_at": clock.now(), "lead": e.lead.model_copy(update={"accepted_at": clock.now()})}
            )
            for e in (worked, follow_up)
        )
        await monitor.handle_routed([worked, follow_up, make_routed("own", clock.now())])
        # the touches that made the Lead "Working" and the Contact's last call, from before the inquiries
        before = MONDAY_9 + timedelta(minutes=1)
        await monitor.handle_changes(
            [
                lead_change("00QWORKED", before, status="Working - Contacted", record_id="00QWORKED"),
                task_change("003C", before, who_id="003C", record_id="00TOLD"),
            ]
        )
        assert not met(pub)
        # nobody answers: the whole ladder runs, and nothing is reassigned for the merged leads
        clock.advance(timedelta(days=1))
        while await scheduler.run_once():
            pass
        escalated = [e for e in pub.events("sla.events") if isinstance(e, SlaEvent) and e.kind == "escalated"]
        by_lead = {
            lead: [e.escalation_action for e in escalated if e.lead_id == lead and e.escalation_step > 0]
            for lead in ("again", "inquiry", "own")
        }
        assert by_lead["again"] == by_lead["inquiry"] == ["notify_team_leader"] * 3
        assert by_lead["own"] == ["notify_team_leader", "reassign", "team_queue"]
        reassigned = {e.lead_id for e in pub.events("leads.reassign") if isinstance(e, ReassignRequested)}
        assert reassigned == {"own"}
        # the rep completes the follow-up Task on the Contact and changes the worked Lead's status: met (late)
        done = task_change(
            "003C", clock.now(), subtype="Task", subject="Follow up: new inquiry", who_id="003C", record_id="00TFU"
        )
        await monitor.handle_changes(
            [
                done,
                lead_change(
                    "00QWORKED",
                    clock.now(),
                    status="Qualified",
                    old_status="Working - Contacted",
                    record_id="00QWORKED",
                ),
            ]
        )
        assert {("again", "first_touch"), ("again", "qualify"), ("inquiry", "first_touch")} <= met(pub)
        hows = {
            (e.lead_id, e.clock): e.met_how
            for e in pub.events("sla.events")
            if isinstance(e, SlaEvent) and e.kind == "met"
        }
        assert hows[("inquiry", "first_touch")] == "task:Follow-up"
    finally:
        await engine.dispose()


async def test_on_the_demo_clock_the_inquirys_wall_stamp_is_read_in_demo_time(database_url: str) -> None:
    """``make run``: intake stamps ``accepted_at`` on the wall clock, route and sla-monitor run on the demo clock
    (here a demo morning *after* the wall date, at 60x). A touch Salesforce stamped before the inquiry reached
    leadflow must not count, one after it must, whatever the two clocks read."""
    from datetime import UTC, datetime

    from leadflow_platform.clock import ScaledClock

    wall0 = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    demo0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Oslo
    wall = [wall0]
    clock = ScaledClock(60, wall0, start=demo0, source=lambda: wall[0])
    engine = create_engine(database_url)
    store = TimerStore(engine)
    await store.create_tables()
    pub = RecordingPublisher()
    monitor = SlaMonitor(store, pub, test_policies(), Calendars(test_calendars()), clock)
    try:
        accepted_wall = wall0 + timedelta(seconds=10)
        wall[0] = accepted_wall + timedelta(seconds=1)
        ev = make_routed("again", clock.now(), owner_id="005REP2")  # routed on the demo clock
        ev = ev.model_copy(
            update={
                "lead": ev.lead.model_copy(update={"accepted_at": accepted_wall}),  # accepted on the wall clock
                "enrichment": ev.enrichment.model_copy(
                    update={"duplicate_of": DuplicateOf(object="Lead", record_id="00QW", matched_on="email")}
                ),
            }
        )
        await monitor.handle_routed([ev])
        # Salesforce stamps on the wall clock: a status change 5 s before the inquiry, delivered late
        await monitor.handle_changes(
            [lead_change("00QW", wall0 + timedelta(seconds=5), status="Working", record_id="00QW")]
        )
        assert not met(pub)
        call = task_change("00QW", accepted_wall + timedelta(seconds=20), who_id="00QW", record_id="00TW")
        await monitor.handle_changes([call])
        assert met(pub) == {("again", "first_touch")}
    finally:
        await engine.dispose()
