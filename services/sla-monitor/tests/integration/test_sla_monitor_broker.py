"""sla-monitor as it runs: real embedded broker, real database (SQLite and PostgreSQL), fake clock.

One lead is touched in time (met); another is ignored and walks the whole escalation ladder,
with the service restarted in the middle of it; a poison message is dead-lettered.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_contracts.base import Event
from leadflow_contracts.lead import CallbackWindow, LeadSourceKind
from leadflow_contracts.pipeline import DeadLetter, ReassignRequested
from leadflow_contracts.sla import SlaEvent
from leadflow_platform.clock import FakeClock
from leadflow_platform.testing.fixtures import consume, wait_for
from leadflow_sla_monitor.app import create_app
from leadflow_sla_monitor.settings import SlaSettings
from leadflow_sla_monitor.testing import MONDAY_9, make_routed, task_change, test_calendars, test_policies

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(settings: SlaSettings, clock: FakeClock) -> AsyncIterator[Any]:
    app = create_app(settings, clock=clock, calendars=test_calendars(), policies=test_policies(), create_topics=False)
    async with app.router.lifespan_context(app):
        yield app


async def send(bootstrap: str, topic: str, items: list[Event | tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for item in items:
            if isinstance(item, Event):
                await producer.send(topic, item.to_json_bytes(), key=item.kafka_key())
            else:
                await producer.send(topic, item[1], key=item[0])
        await producer.flush()
    finally:
        await producer.stop()


async def sla_events(bootstrap: str, topic: str, count: int) -> list[SlaEvent]:
    return [SlaEvent.model_validate_json(r.value) for r in await consume(bootstrap, topic, count, timeout=5)]


async def test_met_breach_ladder_restart_and_deadletter(
    kafka_bootstrap: str, topic_namespace: Any, database_url: str
) -> None:
    clock = FakeClock(MONDAY_9)
    settings = SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        database_url=database_url,
        instance_id="sla-test-1",
        scheduler_poll_seconds=0.05,
        retry_backoff_seconds=0.1,
    )
    sla_topic = topic_namespace(topics.SLA_EVENTS)
    reassign_topic = topic_namespace(topics.LEADS_REASSIGN)

    async def count(topic: str) -> int:
        return len(await consume(kafka_bootstrap, topic, 10_000, timeout=0.3))

    async with running(settings, clock) as app:
        await send(
            kafka_bootstrap,
            topic_namespace(topics.LEADS_ROUTED),
            [make_routed("B-met", MONDAY_9), make_routed("B-late", MONDAY_9, owner_id="005LATE"), (b"B-bad", b"{nope")],
        )
        await wait_for(lambda: count(sla_topic), timeout=60)
        await wait_for(lambda: _at_least(count(sla_topic), 4), timeout=30)  # started: 2 clocks x 2 leads
        dead = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_DEADLETTER), 1, timeout=10)
        assert DeadLetter.model_validate_json(dead[0].value).reason == "invalid_event"

        await send(
            kafka_bootstrap,
            topic_namespace(topics.CRM_CHANGES),
            [task_change("B-met", MONDAY_9 + timedelta(minutes=12), owner_id="005REP1")],
        )
        await wait_for(lambda: _at_least(count(sla_topic), 5), timeout=30)

        clock.set(MONDAY_9 + timedelta(minutes=48))  # 80 %: warning
        app.state.sla.scheduler.wake()
        await wait_for(lambda: _at_least(count(sla_topic), 6), timeout=30)
        clock.set(MONDAY_9 + timedelta(minutes=61))  # breached + notify_team_leader
        app.state.sla.scheduler.wake()
        await wait_for(lambda: _at_least(count(sla_topic), 8), timeout=30)

    # Restart mid-ladder: a new process on the same database continues where the first stopped. It
    # joins as a new consumer group (the embedded broker is slow to hand a departed member's
    # partitions over), so it also re-reads every input from the start: the replay must change nothing.
    settings2 = settings.model_copy(
        update={"instance_id": "sla-test-2", "consumer_group": "leadflow-sla-monitor-restarted"}
    )
    async with running(settings2, clock) as app2:
        clock.set(MONDAY_9 + timedelta(hours=2, minutes=31))  # reassign (10:30) and team_queue (11:30) are due
        app2.state.sla.scheduler.wake()
        await wait_for(lambda: _at_least(count(reassign_topic), 2), timeout=30)

    events = await sla_events(kafka_bootstrap, sla_topic, 100)
    by_lead: dict[str, list[tuple[str, str, str | None]]] = {}
    for e in events:
        by_lead.setdefault(e.lead_id, []).append((e.clock, e.kind.value, e.escalation_action))
    assert ("first_touch", "met", None) in by_lead["B-met"]
    assert not any(kind in {"warning", "breached"} for clock, kind, _ in by_lead["B-met"] if clock == "first_touch")
    late = [x for x in by_lead["B-late"] if x[0] == "first_touch"]
    assert late == [
        ("first_touch", "started", None),
        ("first_touch", "warning", None),
        ("first_touch", "breached", None),
        ("first_touch", "escalated", "notify_team_leader"),
        ("first_touch", "escalated", "reassign"),
        ("first_touch", "escalated", "team_queue"),
    ]
    assert len({e.event_id for e in events}) == len(events)  # nothing doubled across the restart
    met = next(e for e in events if e.kind.value == "met")
    assert met.met_by == "005REP1" and met.business_seconds == 12 * 60
    records = await consume(kafka_bootstrap, reassign_topic, 2, timeout=5)
    reassigns = [ReassignRequested.model_validate_json(r.value) for r in records]
    assert [r.target for r in reassigns] == ["any", "team_queue"]
    assert all(r.key == b"B-late" for r in records)
    assert all("005LATE" in r.exclude_owner_ids for r in reassigns)


async def test_one_missed_callback_is_one_breach_and_one_escalation_per_step(
    kafka_bootstrap: str, topic_namespace: Any, database_url: str
) -> None:
    """Nobody calls the prospect back: one ``breached`` event (the callback clock), one escalation
    event per ladder step (crm-sync turns each into one Task), the first touch stays silent; the
    call that comes afterwards meets both clocks, late."""
    clock = FakeClock(MONDAY_9)
    settings = SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        database_url=database_url,
        instance_id="sla-cb-1",
        scheduler_poll_seconds=0.05,
    )
    sla_topic = topic_namespace(topics.SLA_EVENTS)
    window = CallbackWindow(start=MONDAY_9 + timedelta(hours=2), timezone="Europe/Oslo")  # 11:00 Oslo
    routed = make_routed(
        "CB-miss", MONDAY_9, lead_source=LeadSourceKind.CALLBACK_REQUEST, policy="hot", callback=window
    )

    async def count(topic: str) -> int:
        return len(await consume(kafka_bootstrap, topic, 10_000, timeout=0.3))

    async with running(settings, clock) as app:
        await send(kafka_bootstrap, topic_namespace(topics.LEADS_ROUTED), [routed])
        await wait_for(lambda: _at_least(count(sla_topic), 3), timeout=60)  # started x 3 clocks
        clock.set(MONDAY_9 + timedelta(minutes=110))  # 10:50: the reminder before the 11:00 window
        app.state.sla.scheduler.wake()
        await wait_for(lambda: _at_least(count(sla_topic), 4), timeout=30)
        clock.set(MONDAY_9 + timedelta(minutes=140))  # 11:20: past the window's tolerance (11:15)
        app.state.sla.scheduler.wake()
        await wait_for(lambda: _at_least(count(sla_topic), 6), timeout=30)  # breached + notify
        clock.set(MONDAY_9 + timedelta(hours=6))  # the rest of the ladder (reassign, team queue)
        app.state.sla.scheduler.wake()
        await wait_for(lambda: _at_least(count(sla_topic), 8), timeout=30)
        await send(
            kafka_bootstrap,
            topic_namespace(topics.CRM_CHANGES),
            [task_change("CB-miss", MONDAY_9 + timedelta(hours=6), owner_id="005REP1")],
        )
        await wait_for(lambda: _at_least(count(sla_topic), 10), timeout=30)  # met x 2

    events = [e for e in await sla_events(kafka_bootstrap, sla_topic, 100) if e.lead_id == "CB-miss"]
    kinds = [(e.clock, e.kind.value, e.escalation_action) for e in events]
    assert [k for k in kinds if k[1] == "breached"] == [("callback", "breached", None)]
    assert [k for k in kinds if k[1] == "warning"] == [("callback", "warning", None)]
    assert [k[2] for k in kinds if k[1] == "escalated"] == ["notify_team_leader", "reassign", "team_queue"]
    assert {k[0] for k in kinds if k[1] in {"warning", "breached", "escalated"}} == {"callback"}
    assert sorted(k[0] for k in kinds if k[1] == "met") == ["callback", "first_touch"]
    assert len({e.event_id for e in events}) == len(events)
    reassigns = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_REASSIGN), 10, timeout=3)
    assert [ReassignRequested.model_validate_json(r.value).target for r in reassigns] == ["any", "team_queue"]


async def _at_least(value: Any, n: int) -> bool:
    return (await value) >= n
