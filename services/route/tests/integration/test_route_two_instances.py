"""Two route instances in one consumer group on the real broker, sharing one database (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import DeadLetter, LeadRouted, topics
from leadflow_platform.clock import FakeClock
from leadflow_platform.testing.fixtures import consume, wait_for
from leadflow_route.adapters.roster_source import StaticRosterSource
from leadflow_route.app import create_app
from leadflow_route.settings import RouteSettings
from leadflow_route.testing import (
    MONDAY_10_UTC,
    reassign_event,
    sample_config,
    sample_queues,
    sample_reps,
    scored_event,
)

pytestmark = pytest.mark.integration

LEADS = 240


def config():  # type: ignore[no-untyped-def]
    return sample_config(
        teams={
            "Nordics": {"countries": ["NO"], "queue": "Queue_Nordics", "leader": "NLEAD"},
            "DACH": {"countries": ["DE"], "queue": "Queue_DACH", "caps": {"per_hour": 7, "per_day": 50}},
        }
    )


@contextlib.asynccontextmanager
async def running(settings: RouteSettings) -> AsyncIterator[Any]:
    app = create_app(
        settings,
        clock=FakeClock(MONDAY_10_UTC),
        roster_source=StaticRosterSource(sample_reps(), sample_queues()),
        routing_config=config(),
        create_topics=False,
        refresh_roster=False,
    )
    calls: Counter[str] = Counter()
    service = app.state.service
    original = service.route

    async def counting(events):  # type: ignore[no-untyped-def]
        calls["leads"] += len(events)
        return await original(events)

    service.route = counting
    app.state.calls = calls
    async with app.router.lifespan_context(app):
        yield app


async def test_two_instances_share_the_ledger(kafka_bootstrap: str, topic_namespace: Any, database_url: str) -> None:
    def settings(n: int) -> RouteSettings:
        return RouteSettings(
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=topic_namespace.prefix,
            database_url=database_url,
            instance_id=f"route-{n}",
            kafka_client_id=f"route-test-{n}",
            batch_max_records=20,
            consumer_group=f"leadflow-route-{topic_namespace.prefix}",
        )

    async with running(settings(1)) as one, running(settings(2)) as two:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for i in range(LEADS):
                ev = scored_event(f"two-{i}", country="NO" if i % 2 else "DE", language=None)
                await producer.send(topic_namespace(topics.LEADS_SCORED), ev.to_json_bytes(), key=ev.lead_id.encode())
            await producer.flush()
        finally:
            await producer.stop()
        await wait_for(lambda: one.state.calls["leads"] + two.state.calls["leads"] >= LEADS, timeout=60)
        records = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_ROUTED), LEADS, timeout=30)
        both = (one.state.calls["leads"], two.state.calls["leads"])
        ledger = await one.state.store.ledger_snapshot()

        # the same group also takes reassignments and dead-letters what it cannot read
        first = LeadRouted.model_validate_json(next(r.value for r in records if r.key == b"two-1"))
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            req = reassign_event(first)
            await producer.send(topic_namespace(topics.LEADS_REASSIGN), req.to_json_bytes(), key=b"two-1")
            await producer.send(topic_namespace(topics.LEADS_SCORED), b"\xff not json", key=b"broken-1")
            await producer.flush()
        finally:
            await producer.stop()
        more = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_ROUTED), LEADS + 1, timeout=30)
        letters = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_DEADLETTER), 1, timeout=30)

    routed = [LeadRouted.model_validate_json(r.value) for r in records]
    assert len(routed) == LEADS and len({r.lead_id for r in routed}) == LEADS
    assert all(r.key == e.lead_id.encode() for r, e in zip(records, routed, strict=True))
    assert min(both) > 0, f"both instances must have routed leads, got {both}"
    got = Counter(r.assignment.owner_id for r in routed)
    # 120 Nordics leads by weights 1:2:3 (exact under the shared ledger); DACH reps capped at 7 an hour each
    assert (got["N1"], got["N2"], got["N3"]) == (20, 40, 60)
    assert (got["D1"], got["D2"], got["Q_DACH"]) == (7, 7, 106)
    assert [ledger.get(r).assigned_total for r in ("N1", "N2", "N3", "D1", "D2")] == [20, 40, 60, 7, 7]

    reassigned = [LeadRouted.model_validate_json(r.value) for r in more if r.key == b"two-1"]
    assert len(reassigned) == 2 and reassigned[-1].reassignment == 1
    assert reassigned[-1].assignment.owner_id != first.assignment.owner_id
    assert reassigned[-1].assignment.previous_owner_ids == (first.assignment.owner_id,)
    letter = DeadLetter.model_validate_json(letters[0].value)
    assert (letter.lead_id, letter.reason) == ("broken-1", "invalid_event")
