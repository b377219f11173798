"""Durable timers on a real database (SQLite and PostgreSQL): the whole flow with a fake clock,
restarts that lose and double nothing, and two instances that fire each timer once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from leadflow_contracts.crm import FieldChange
from leadflow_contracts.lead import CallbackWindow, LeadSourceKind
from leadflow_contracts.pipeline import ReassignRequested
from leadflow_contracts.sla import SlaEvent
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine
from leadflow_sla_monitor.adapters.publisher import RecordingPublisher
from leadflow_sla_monitor.adapters.store import TimerStore
from leadflow_sla_monitor.domain.timers import TimerState
from leadflow_sla_monitor.scheduler import Scheduler
from leadflow_sla_monitor.service import Calendars, SlaMonitor
from leadflow_sla_monitor.testing import (
    MONDAY_9,
    lead_change,
    make_routed,
    task_change,
    test_calendars,
    test_policies,
)

pytestmark = pytest.mark.integration
OSLO = ZoneInfo("Europe/Oslo")


class Crash(BaseException):
    """Stands for the process dying (not an ordinary error the scheduler would handle)."""


class CrashAfterPublish(RecordingPublisher):
    armed = False

    async def publish_all(self, messages):  # type: ignore[no-untyped-def]
        await super().publish_all(messages)
        if self.armed:
            raise Crash()


async def build(url: str, clock: FakeClock, publisher: RecordingPublisher | None = None, name: str = "a"):
    engine = create_engine(url)
    store = TimerStore(engine)
    await store.create_tables()
    pub = publisher or RecordingPublisher()
    monitor = SlaMonitor(store, pub, test_policies(), Calendars(test_calendars()), clock)
    scheduler = Scheduler(monitor, clock, instance_id=name, batch_size=50, lease=timedelta(seconds=30))
    return engine, store, monitor, scheduler, pub


def sla_events(pub: RecordingPublisher) -> list[SlaEvent]:
    return [e for e in pub.events("sla.events") if isinstance(e, SlaEvent)]


async def drain(scheduler: Scheduler) -> int:
    total = 0
    while n := await scheduler.run_once():
        total += n
    return total


async def test_first_touch_met_by_a_call_task(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine, store, monitor, scheduler, pub = await build(database_url, clock)
    try:
        await monitor.handle_routed([make_routed("L1", MONDAY_9)])
        assert sorted(e.clock for e in sla_events(pub) if e.kind == "started") == ["first_touch", "qualify"]
        clock.advance(timedelta(minutes=20))
        touched = clock.now()
        await monitor.handle_changes([task_change("L1", touched, owner_id="005REP1")])
        met = [e for e in sla_events(pub) if e.kind == "met"]
        assert len(met) == 1
        assert met[0].clock == "first_touch" and met[0].met_by == "005REP1" and met[0].met_how == "task:Call"
        assert met[0].business_seconds == 20 * 60 and met[0].wall_seconds == 20 * 60
        # Redelivery of the same change does nothing more.
        await monitor.handle_changes([task_change("L1", touched, owner_id="005REP1")])
        assert len([e for e in sla_events(pub) if e.kind == "met"]) == 1
        # Days later nothing fires for first touch; qualify warns and breaches on its own.
        clock.advance(timedelta(days=7))
        await drain(scheduler)
        kinds = {(e.clock, e.kind) for e in sla_events(pub)}
        assert ("first_touch", "breached") not in kinds and ("qualify", "breached") in kinds
        # A status change later (Salesforce id only) qualifies through the id learnt from a Lead change.
        await monitor.handle_changes([lead_change("L1", clock.now(), status="Working - Contacted", record_id="00QL1")])
        task = task_change("00QL1", clock.now(), who_id="00QL1", record_id="00T2")
        await monitor.handle_changes([task])  # keyed by the Salesforce id: found through the mapping
        assert (await store.get_timer("L1", "qualify")).state is TimerState.ESCALATED  # type: ignore[union-attr]
        await monitor.handle_changes([lead_change("00QL1", clock.now(), status="Qualified", record_id="00QL1")])
        qualify = await store.get_timer("L1", "qualify")
        assert qualify is not None and qualify.state is TimerState.MET and qualify.met_how == "status:Qualified"
    finally:
        await engine.dispose()


async def test_breach_and_whole_escalation_ladder(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine, store, monitor, scheduler, pub = await build(database_url, clock)
    try:
        await monitor.handle_routed([make_routed("L2", MONDAY_9, owner_id="005REP1", previous_owner_ids=("005OLD",))])
        clock.set(MONDAY_9 + timedelta(minutes=48))  # 80 %
        assert await drain(scheduler) == 1
        assert [e.kind for e in sla_events(pub) if e.clock == "first_touch"][-1] == "warning"
        clock.set(MONDAY_9 + timedelta(minutes=60))
        await drain(scheduler)
        ft = [e for e in sla_events(pub) if e.clock == "first_touch"]
        assert [(e.kind, e.escalation_action) for e in ft[-2:]] == [
            ("breached", None),
            ("escalated", "notify_team_leader"),
        ]
        clock.advance(timedelta(minutes=30))
        await drain(scheduler)
        reassigns = [e for e in pub.events("leads.reassign") if isinstance(e, ReassignRequested)]
        assert len(reassigns) == 1
        assert reassigns[0].target == "any" and reassigns[0].requested_by == "sla-monitor"
        assert set(reassigns[0].exclude_owner_ids) == {"005REP1", "005OLD"}
        assert reassigns[0].previous_routing is not None and reassigns[0].escalation_step == 2

        # route answers with a new owner: the first-touch clock restarts for them (policy reset_on_reassign).
        rerouted = make_routed("L2", clock.now(), owner_id="005REP2", reassignment=1)
        await monitor.handle_routed([rerouted])
        timer = await store.get_timer("L2", "first_touch")
        assert timer is not None and timer.state is TimerState.OPEN and timer.owner_id == "005REP2"
        assert timer.cycle == 1 and timer.due_at == clock.now() + timedelta(minutes=60)
        qualify = await store.get_timer("L2", "qualify")
        assert qualify is not None and qualify.owner_id == "005REP2"

        # The new owner ignores it too: breach (second in a row for nobody: a different rep), ladder again.
        clock.advance(timedelta(hours=3))
        await drain(scheduler)
        reassigns = [e for e in pub.events("leads.reassign") if isinstance(e, ReassignRequested)]
        assert [r.target for r in reassigns] == ["any", "any", "team_queue"]
        assert set(reassigns[1].exclude_owner_ids) == {"005REP1", "005REP2", "005OLD"}  # no ping-pong
        timer = await store.get_timer("L2", "first_touch")
        assert timer is not None and timer.state is TimerState.ESCALATED and timer.next_fire_at is None
        ids = [e.event_id for e in sla_events(pub)]
        assert len(ids) == len(set(ids))
    finally:
        await engine.dispose()


async def test_owner_marked_unavailable_after_breaches_in_a_row(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine, _store, monitor, scheduler, pub = await build(database_url, clock)
    try:
        await monitor.handle_routed([make_routed(f"U{i}", MONDAY_9, owner_id="005SLOW") for i in range(3)])
        clock.advance(timedelta(minutes=61))
        await drain(scheduler)
        marks = [e for e in sla_events(pub) if e.escalation_action == "mark_unavailable"]
        assert len(marks) == 1 and marks[0].owner_id == "005SLOW"  # exactly at the 2nd breach, not the 3rd
        # Meeting a clock on time resets the run.
        await monitor.handle_routed([make_routed("U9", clock.now(), owner_id="005SLOW")])
        await monitor.handle_changes([task_change("U9", clock.now() + timedelta(minutes=5), owner_id="005SLOW")])
        await monitor.handle_routed([make_routed(f"V{i}", clock.now(), owner_id="005SLOW") for i in range(2)])
        clock.advance(timedelta(minutes=61))
        await drain(scheduler)
        assert len([e for e in sla_events(pub) if e.escalation_action == "mark_unavailable"]) == 2
    finally:
        await engine.dispose()


async def test_callback_clock_in_the_prospects_time_zone(database_url: str) -> None:
    new_york = ZoneInfo("America/New_York")
    clock = FakeClock(MONDAY_9)
    engine, store, monitor, scheduler, pub = await build(database_url, clock)
    try:
        window = CallbackWindow(start=MONDAY_9.replace(hour=15), timezone="America/New_York")  # 10:00 New York
        routed = make_routed(
            "CB1",
            MONDAY_9,
            lead_source=LeadSourceKind.CALLBACK_REQUEST,
            policy="callback",
            callback=window,
            prospect_timezone="America/New_York",
        )
        await monitor.handle_routed([routed])
        cb = await store.get_timer("CB1", "callback")
        ft = await store.get_timer("CB1", "first_touch")
        assert cb is not None and ft is not None
        assert cb.due_at.astimezone(new_york).hour == 10 and cb.due_at.astimezone(new_york).minute == 15
        # The clocks run in the prospect's zone, and the first touch is due with the callback (10:15),
        # following it silently: only the callback clock reminds (and would breach).
        assert ft.timezone == "America/New_York"
        assert ft.due_at == cb.due_at and ft.warn_at is None and ft.next_fire_at is None
        clock.set(window.start - timedelta(minutes=15))
        await drain(scheduler)
        assert [e.kind for e in sla_events(pub) if e.clock == "callback"][-1] == "warning"
        assert [e.kind for e in sla_events(pub) if e.clock == "first_touch"] == ["started"]
        await monitor.handle_changes([task_change("CB1", window.start + timedelta(minutes=3))])
        met = [e for e in sla_events(pub) if e.kind == "met" and e.clock == "callback"]
        assert len(met) == 1 and met[0].wall_seconds == (window.start + timedelta(minutes=3) - MONDAY_9).total_seconds()
        assert any(e.kind == "met" and e.clock == "first_touch" for e in sla_events(pub))
        assert not any(e.kind == "breached" for e in sla_events(pub))
    finally:
        await engine.dispose()


async def test_restart_mid_run_loses_and_doubles_nothing(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine, _store, monitor, scheduler, pub = await build(database_url, clock, CrashAfterPublish(), name="a")
    leads = [f"R{i}" for i in range(20)]
    try:
        await monitor.handle_routed([make_routed(lead, MONDAY_9, policy="default") for lead in leads])
        clock.advance(timedelta(days=1))  # 240 business minutes have passed for all
        # Instance "a" claims, publishes, and dies before recording what it did.
        pub.armed = True  # type: ignore[attr-defined]
        with pytest.raises(Crash):
            await scheduler.run_once()
        crashed_ids = {e.event_id for e in pub.events("sla.events") if e.kind != "started"}  # type: ignore[attr-defined]
        assert crashed_ids
    finally:
        await engine.dispose()

    # A new process: its claims wait for the dead one's lease, then the same events are published again.
    engine2, store2, _monitor2, scheduler2, pub2 = await build(database_url, clock, name="b")
    try:
        assert await scheduler2.run_once() == 0  # leases still held by the dead instance
        clock.advance(timedelta(seconds=31))
        await drain(scheduler2)
        replayed = [e for e in sla_events(pub2)]
        breached = [e for e in replayed if e.kind == "breached" and e.clock == "first_touch"]
        assert sorted(e.lead_id for e in breached) == sorted(leads)  # nothing lost
        assert crashed_ids <= {e.event_id for e in replayed}  # the same ids: consumers dedupe
        assert len({e.event_id for e in replayed}) == len(replayed)  # nothing doubled by the new process
        for lead in leads:
            timer = await store2.get_timer(lead, "first_touch")
            assert timer is not None and timer.state is TimerState.ESCALATED and timer.version >= 1
        assert await drain(scheduler2) == 0
    finally:
        await engine2.dispose()


async def test_two_instances_fire_each_timer_once(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine_a, _store_a, monitor_a, sched_a, pub_a = await build(database_url, clock, name="a")
    engine_b, _store_b, _monitor_b, sched_b, pub_b = await build(database_url, clock, name="b")
    try:
        n = 300
        for start in range(0, n, 100):
            await monitor_a.handle_routed(
                [make_routed(f"T{i}", MONDAY_9, policy="default") for i in range(start, start + 100)]
            )
        pub_a.published.clear()
        clock.advance(timedelta(days=1))
        sched_a.batch_size = sched_b.batch_size = 25

        async def work(s: Scheduler) -> int:
            total = 0
            for _ in range(100):
                claimed = await s.run_once()
                total += claimed
                if not claimed:
                    break
                await asyncio.sleep(0)
            return total

        fired_a, fired_b = await asyncio.gather(work(sched_a), work(sched_b))
        events = sla_events(pub_a) + sla_events(pub_b)
        breached = [e for e in events if e.kind == "breached"]
        assert fired_a + fired_b == n  # one claim per lead: first touch is due, qualification is days away
    finally:
        await engine_a.dispose()
        await engine_b.dispose()
    assert len(breached) == n
    assert len({e.lead_id for e in breached}) == n
    assert len({e.event_id for e in events}) == len(events)
    assert fired_a > 0 and fired_b > 0, (fired_a, fired_b)


async def test_routing_and_reassignment_in_one_batch(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine, store, monitor, _scheduler, pub = await build(database_url, clock)
    try:
        later = MONDAY_9 + timedelta(minutes=70)
        first = make_routed("B1", MONDAY_9, owner_id="005A")
        second = make_routed("B1", later, owner_id="005B", reassignment=1)
        again = make_routed("B1", MONDAY_9, owner_id="005A", event_id=first.event_id)  # a redelivery
        await monitor.handle_routed([first, second, again])
        timer = await store.get_timer("B1", "first_touch")
        assert timer is not None and timer.owner_id == "005B" and timer.cycle == 1 and timer.started_at == later
        started = [e for e in sla_events(pub) if e.kind == "started" and e.clock == "first_touch"]
        assert [e.owner_id for e in started] == ["005A", "005B"]
        async with engine.connect() as conn:
            lead = await store.get_lead(conn, "B1")
        assert lead is not None and lead.previous_owners == ("005A",) and lead.reassignment == 1
        # A team leader moves the lead by hand in Salesforce: the open clocks follow, deadlines kept.
        moved = lead_change("B1", later, record_id="00QB1").model_copy(
            update={"changed_fields": (FieldChange(field="OwnerId", old="005B", new="005C"),)}
        )
        await monitor.handle_changes([moved])
        after = await store.get_timer("B1", "first_touch")
        assert after is not None and after.owner_id == "005C" and after.due_at == timer.due_at
    finally:
        await engine.dispose()


async def test_on_the_demo_clock_a_salesforce_touch_counts_at_its_demo_instant(database_url: str) -> None:
    """Salesforce stamps the wall clock; sla-monitor on the 60x demo clock reads the touch at the
    matching demo instant, so a call 30 real seconds after routing took 30 demo minutes."""
    from leadflow_platform.clock import ScaledClock

    wall = [datetime(2026, 12, 4, 17, 0, tzinfo=UTC)]
    clock = ScaledClock(60, wall[0], start=MONDAY_9, source=lambda: wall[0])
    engine, _store, monitor, scheduler, pub = await build(database_url, clock)  # type: ignore[arg-type]
    try:
        await monitor.handle_routed([make_routed("DEMO1", clock.now())])
        wall[0] += timedelta(seconds=30)
        await monitor.handle_changes([task_change("DEMO1", wall[0])])
        met = next(e for e in sla_events(pub) if e.kind == "met" and e.clock == "first_touch")
        assert met.occurred_at == MONDAY_9 + timedelta(minutes=30)
        assert met.wall_seconds == 30 * 60 and met.business_seconds == 30 * 60
        wall[0] += timedelta(seconds=45)  # 75 demo minutes after routing: nothing left to breach
        await drain(scheduler)
        assert not any(e.kind == "breached" and e.clock == "first_touch" for e in sla_events(pub))
    finally:
        await engine.dispose()
