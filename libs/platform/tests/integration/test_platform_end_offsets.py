"""True end offsets over the real embedded broker: the fetch high watermark, not ListOffsets(latest).

Tansu 0.6.0 answers ListOffsets(latest) with the newest batch's base offset + 1, so any batch of more
than one record makes it under-report. ``leadflow_platform.offsets.end_offsets`` must equal the number
of records written to each partition, whatever the batching, and consumer lag computed from it must be
exact after several batches.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_platform.offsets import end_offsets, end_offsets_of_topics, partitions_of
from leadflow_platform.topics_admin import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


async def _new_topic(bootstrap: str, partitions: int) -> str:
    name = f"t{uuid.uuid4().hex[:10]}.offsets"
    await ensure_topics(bootstrap, {name: TopicSpec(partitions=partitions)})
    return name


async def _produce_batches(bootstrap: str, topic: str, batches: list[list[int]]) -> dict[int, int]:
    """Each inner list is one produce round: the partition of every record. Returns records per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    written: dict[int, int] = {}
    try:
        for round_ in batches:
            futures = [await producer.send(topic, b"v" * 16, partition=p) for p in round_]
            await asyncio.gather(*futures)
            for p in round_:
                written[p] = written.get(p, 0) + 1
    finally:
        await producer.stop()
    return written


async def test_end_offsets_count_every_record_of_multi_record_batches(kafka_bootstrap: str) -> None:
    topic = await _new_topic(kafka_bootstrap, 3)
    batches = [[i % 3 for i in range(150)], [0] * 40, [2] * 7, [1], [i % 2 for i in range(33)]]
    written = await _produce_batches(kafka_bootstrap, topic, batches)
    ends = await end_offsets_of_topics(kafka_bootstrap, [topic])
    assert {tp.partition: off for tp, off in ends.items()} == {p: written.get(p, 0) for p in range(3)}


async def test_an_empty_partition_ends_at_zero_and_an_unknown_topic_is_not_listed(kafka_bootstrap: str) -> None:
    topic = await _new_topic(kafka_bootstrap, 2)
    await _produce_batches(kafka_bootstrap, topic, [[1] * 5])
    ends = await end_offsets_of_topics(kafka_bootstrap, [topic])
    assert ends == {TopicPartition(topic, 0): 0, TopicPartition(topic, 1): 5}
    assert await end_offsets_of_topics(kafka_bootstrap, []) == {}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(st.lists(st.integers(0, 1), min_size=1, max_size=60), min_size=1, max_size=5))
def test_end_offsets_match_records_written_for_any_batching(kafka_bootstrap: str, rounds: list[list[int]]) -> None:
    async def run() -> None:
        topic = await _new_topic(kafka_bootstrap, 2)
        written = await _produce_batches(kafka_bootstrap, topic, rounds)
        ends = await end_offsets_of_topics(kafka_bootstrap, [topic])
        assert {tp.partition: off for tp, off in ends.items()} == {p: written.get(p, 0) for p in range(2)}

    asyncio.run(run())


async def test_consumer_lag_is_exact_after_several_batches(kafka_bootstrap: str) -> None:
    """A group that consumed part of a topic: end - committed is the number of records it has not read."""
    topic = await _new_topic(kafka_bootstrap, 2)
    group = f"g-{uuid.uuid4().hex[:8]}"
    await _produce_batches(kafka_bootstrap, topic, [[0] * 100, [1] * 60, [0] * 25, [1] * 15])
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(consumer, [topic])
        consumer.assign(tps)
        await consumer.commit(
            {TopicPartition(topic, 0): OffsetAndMetadata(90, ""), TopicPartition(topic, 1): OffsetAndMetadata(75, "")}
        )
        ends = await end_offsets(consumer, tps)
        committed = {tp: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()
    lag = {tp.partition: ends[tp] - (committed[tp] or 0) for tp in tps}
    assert lag == {0: 125 - 90, 1: 75 - 75}
