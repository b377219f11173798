"""Consumer lag on the ops page over the real embedded broker, after several multi-record batches.

The embedded broker's ListOffsets(latest) is the newest batch's base offset + 1; the page must use the
fetch high watermark (leadflow_platform.offsets) so a real backlog never shows as 0.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from leadflow_contracts import topics as T
from leadflow_ops.adapters.kafka_lag import KafkaOffsetSource, PipelineMonitor
from leadflow_platform.testing.fixtures import TopicNamespace

pytestmark = pytest.mark.integration


async def test_lag_and_end_offsets_count_every_record_after_several_batches(kafka_bootstrap: str) -> None:
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create(partitions=2)
    topic = ns(T.LEADS_ROUTED)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20)
    await producer.start()
    try:
        for partition, count in [(0, 120), (1, 80), (0, 30), (1, 45), (0, 1)]:
            futures = [await producer.send(topic, b"{}", partition=partition) for _ in range(count)]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    group = f"leadflow-crm-sync-{uuid.uuid4().hex[:6]}"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        consumer.assign(tps)
        await consumer.commit({tps[0]: OffsetAndMetadata(100, ""), tps[1]: OffsetAndMetadata(125, "")})
    finally:
        await consumer.stop()

    source = KafkaOffsetSource(kafka_bootstrap)
    monitor = PipelineMonitor(source, [topic], prefix=ns.prefix, group_prefix=group)
    try:
        snap = await monitor.sample()
    finally:
        await source.close()
    assert snap.error is None
    (row,) = [r for r in snap.lag if r.group == group]
    assert (row.topic, row.end, row.committed, row.lag) == (T.LEADS_ROUTED, 151 + 125, 225, (151 - 100) + 0)
