"""The importer starts reading verdicts at the true end of leads.accepted / leads.rejected.

With ListOffsets(latest) from the embedded broker the start was the newest batch's base offset + 1,
so earlier verdicts were re-read; the start must be exactly the number of records already there.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_importer.runner import _end_offsets

pytestmark = pytest.mark.integration


async def test_verdict_start_is_the_true_end_after_several_batches(kafka_bootstrap: str, topic_namespace) -> None:
    accepted, rejected = topic_namespace(topics.LEADS_ACCEPTED), topic_namespace(topics.LEADS_REJECTED)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20)
    await producer.start()
    try:
        for topic, partition, count in [(accepted, 0, 70), (accepted, 0, 12), (rejected, 2, 9), (accepted, 1, 3)]:
            await asyncio.gather(*[await producer.send(topic, b"{}", partition=partition) for _ in range(count)])
    finally:
        await producer.stop()
    start = await _end_offsets(kafka_bootstrap, [accepted, rejected])
    assert {(tp.topic, tp.partition): off for tp, off in start.items() if off} == {
        (accepted, 0): 82,
        (accepted, 1): 3,
        (rejected, 2): 9,
    }
    assert len(start) == 6
