"""Every SLA event carries its lead's standing over all its clocks (``lead_status``: what crm-sync writes to
``SLA_Status__c`` and the board counts as breached) and, for a duplicate, the record it went into."""

from __future__ import annotations

from datetime import timedelta

import pytest
from leadflow_contracts.pipeline import DuplicateOf
from leadflow_contracts.sla import SlaEvent, SlaLeadStatus
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine
from leadflow_sla_monitor.adapters.publisher import RecordingPublisher
from leadflow_sla_monitor.adapters.store import TimerStore
from leadflow_sla_monitor.scheduler import Scheduler
from leadflow_sla_monitor.service import Calendars, SlaMonitor
from leadflow_sla_monitor.testing import MONDAY_9, make_routed, task_change, test_calendars, test_policies

pytestmark = pytest.mark.integration


def last_status(pub: RecordingPublisher, lead_id: str) -> SlaLeadStatus | None:
    events = [e for e in pub.events("sla.events") if isinstance(e, SlaEvent) and e.lead_id == lead_id]
    return events[-1].lead_status if events else None


async def test_the_standing_follows_every_clock_and_the_current_cycle(database_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    engine = create_engine(database_url)
    store = TimerStore(engine)
    await store.create_tables()
    pub = RecordingPublisher()
    monitor = SlaMonitor(store, pub, test_policies(), Calendars(test_calendars()), clock)
    scheduler = Scheduler(monitor, clock, instance_id="t", batch_size=50, lease=timedelta(seconds=30))

    async def drain() -> None:
        while await scheduler.run_once():
            pass

    try:
        dup = make_routed("dup", MONDAY_9)
        dup = dup.model_copy(
            update={
                "enrichment": dup.enrichment.model_copy(
                    update={"duplicate_of": DuplicateOf(object="Contact", record_id="003C", matched_on="email")}
                )
            }
        )
        await monitor.handle_routed([make_routed("L", MONDAY_9), dup])
        started = [e for e in pub.events("sla.events") if isinstance(e, SlaEvent)]
        assert {(e.lead_id, e.lead_status, e.merged_into) for e in started} == {
            ("L", SlaLeadStatus.ON_TRACK, None),
            ("dup", SlaLeadStatus.ON_TRACK, "Contact 003C"),
        }
        clock.set(MONDAY_9 + timedelta(minutes=48))  # 80 % of the hot policy's hour
        await drain()
        assert last_status(pub, "L") is SlaLeadStatus.WARNING
        clock.set(MONDAY_9 + timedelta(minutes=61))
        await drain()
        assert last_status(pub, "L") is SlaLeadStatus.BREACHED
        assert last_status(pub, "dup") is SlaLeadStatus.BREACHED
        # the ladder reassigns L (a lead of its own); route answers: a new cycle for the new owner, on track
        clock.set(MONDAY_9 + timedelta(minutes=95))
        await drain()
        await monitor.handle_routed([make_routed("L", clock.now(), owner_id="005REP2", reassignment=1)])
        assert last_status(pub, "L") is SlaLeadStatus.ON_TRACK
        # the new owner calls: met; the qualify clock is still running, not warned
        clock.advance(timedelta(minutes=5))
        await monitor.handle_changes([task_change("L", clock.now(), owner_id="005REP2")])
        assert last_status(pub, "L") is SlaLeadStatus.MET
        # days later the qualify clock breaches: the lead is breached again, on its qualify clock
        clock.advance(timedelta(days=5))
        await drain()
        assert last_status(pub, "L") is SlaLeadStatus.BREACHED
        assert all(e.merged_into is None for e in pub.events("sla.events") if e.lead_id == "L")  # type: ignore[attr-defined]
        assert all(e.merged_into == "Contact 003C" for e in pub.events("sla.events") if e.lead_id == "dup")  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
