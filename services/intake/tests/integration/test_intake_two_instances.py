"""Two intake instances in one consumer group on the real broker share the work, and every lead
is accepted exactly once."""

import asyncio
import contextlib

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import LeadAccepted
from leadflow_intake.app import create_app
from leadflow_intake.settings import IntakeSettings
from leadflow_intake.testing import lead_bytes
from leadflow_platform.testing.fixtures import consume, wait_for

pytestmark = pytest.mark.integration

LEADS = 300


def assignment(app) -> set:
    consumer = app.state.intake.subscriber.consumer
    return set(consumer.assignment()) if consumer is not None else set()


async def test_two_instances_accept_every_lead_exactly_once(kafka_bootstrap, topic_namespace, tmp_path):
    ns = topic_namespace
    shared_db = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    apps = [
        create_app(
            IntakeSettings(
                kafka_bootstrap=kafka_bootstrap,
                topic_prefix=ns.prefix,
                database_url=shared_db,
                consumer_group=f"{ns.prefix}intake",
                instance_id=f"intake-{i}",
                batch_timeout_ms=20,
                batch_max_records=50,
            )
        )
        for i in (1, 2)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        await wait_for(
            lambda: all(assignment(a) for a in apps) and len(assignment(apps[0]) | assignment(apps[1])) == 3,
            timeout=60,
        )
        assert not assignment(apps[0]) & assignment(apps[1])

        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            futures = [
                await producer.send(ns("leads.inbound"), lead_bytes(i), key=f"k{i}".encode()) for i in range(LEADS)
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

        services = [a.state.intake.service for a in apps]
        await wait_for(lambda: sum(s.counts["accepted"] for s in services) >= LEADS, timeout=60)
        await asyncio.sleep(1)  # anything extra would show up now
        records = await consume(kafka_bootstrap, ns("leads.accepted"), LEADS + 50, timeout=3)

    source_ids = [LeadAccepted.model_validate_json(r.value).lead.source_event_id for r in records]
    assert len(source_ids) == LEADS
    assert sorted(source_ids) == sorted(f"evt-{i}" for i in range(LEADS))
    counts = [s.counts["accepted"] for s in services]
    assert sum(counts) == LEADS and all(c > 0 for c in counts), counts
