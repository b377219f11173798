"""Done-when of issue 11: 3,200 leads as the world writes them run through intake over the real embedded
broker; for each lead the expected country, E.164 phone or "unverified", language and e-mail decision;
none is lost."""

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_intake.app import create_app
from leadflow_intake.settings import IntakeSettings
from leadflow_intake.testing_corpus import DEFAULT_REGION, Expected, actual_from_accepted, build_corpus
from leadflow_platform.testing.fixtures import consume, wait_for

pytestmark = pytest.mark.integration


async def test_the_corpus_over_the_real_broker_lead_by_lead(kafka_bootstrap, topic_namespace, sqlite_url):
    corpus = build_corpus()
    expected_accepted = sum(1 for c in corpus if c.expected.status == "accepted")
    settings = IntakeSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        database_url=sqlite_url,
        consumer_group=f"intake-{topic_namespace.prefix}",
        batch_timeout_ms=20,
        default_region=DEFAULT_REGION,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
        await producer.start()
        try:
            sends = [
                await producer.send(topic_namespace("leads.inbound"), json.dumps(c.payload).encode(),
                                    key=c.event_id.encode())
                for c in corpus
            ]  # fmt: skip
            await asyncio.gather(*sends)
        finally:
            await producer.stop()
        counts = app.state.intake.service.counts
        await wait_for(lambda: counts["accepted"] + counts["rejected"] >= len(corpus), timeout=240)
    accepted = await consume(kafka_bootstrap, topic_namespace("leads.accepted"), expected_accepted, timeout=60)
    rejected = await consume(kafka_bootstrap, topic_namespace("leads.rejected"), len(corpus) - expected_accepted,
                             timeout=60)  # fmt: skip
    got: dict[str, Expected] = {}
    for record in accepted:
        event = json.loads(record.value)
        got[event["lead"]["source_event_id"]] = actual_from_accepted(event)
    for record in rejected:
        event = json.loads(record.value)
        got[event["source_event_id"]] = Expected("rejected", reason=event["reason"])
    assert len(accepted) + len(rejected) == len(corpus) == len(got), "every lead has exactly one verdict"
    wrong = [(c.index, c.kinds, got.get(c.event_id), c.expected) for c in corpus if got.get(c.event_id) != c.expected]
    assert wrong == []
