"""Consumer lag from the Kafka admin API: committed offsets per group vs log-end offsets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from leadflow_platform.logging import get_logger
from leadflow_platform.offsets import end_offsets as true_end_offsets

from leadflow_ops.domain.pipeline import LagRow, Partition, consumer_lag, contract_topic, throughput

log = get_logger(__name__)


class OffsetSource(Protocol):
    async def groups(self) -> list[str]: ...

    async def committed(self, group: str, partitions: list[Partition]) -> dict[Partition, int]: ...

    async def end_offsets(self, partitions: list[Partition]) -> dict[Partition, int]: ...

    async def topic_partitions(self, topics: list[str]) -> list[Partition]: ...

    async def close(self) -> None: ...


class KafkaOffsetSource:
    """Admin client for groups and committed offsets; a group-less consumer for end offsets."""

    def __init__(self, bootstrap: str, client_id: str = "leadflow-ops-lag") -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def _ensure(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, client_id=self._client_id, enable_auto_commit=False
            )
            await consumer.start()
            self._consumer = consumer
        return self._admin, self._consumer

    async def groups(self) -> list[str]:
        admin, _ = await self._ensure()
        return sorted({g[0] for g in await admin.list_consumer_groups()})

    async def committed(self, group: str, partitions: list[Partition]) -> dict[Partition, int]:
        """Committed offsets for the given partitions (asking for "all partitions" with a null topic
        list is not understood by every broker: the embedded Tansu closes the connection)."""
        admin, _ = await self._ensure()
        if not partitions:
            return {}
        offsets = await admin.list_consumer_group_offsets(
            group, partitions=[TopicPartition(t, p) for t, p in partitions]
        )
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def end_offsets(self, partitions: list[Partition]) -> dict[Partition, int]:
        _, consumer = await self._ensure()
        if not partitions:
            return {}
        tps = [TopicPartition(t, p) for t, p in partitions]
        # the fetch high watermark: the embedded broker's ListOffsets(latest) is not the log end
        ends = await true_end_offsets(consumer, tps)
        return {(tp.topic, tp.partition): off for tp, off in ends.items()}

    async def topic_partitions(self, topics: list[str]) -> list[Partition]:
        _, consumer = await self._ensure()
        out: list[Partition] = []
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            if parts is None:
                await consumer._client.force_metadata_update()  # aiokafka has no public refresh
                parts = consumer.partitions_for_topic(topic)
            out.extend((topic, p) for p in sorted(parts or ()))
        return out

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None


@dataclass
class PipelineSnapshot:
    at: float = 0.0
    lag: list[LagRow] = field(default_factory=list)
    throughput: dict[str, float] = field(default_factory=dict)
    """Contract topic → messages/s written, between the last two samples."""
    error: str | None = None


class PipelineMonitor:
    """Samples lag and topic end offsets; keeps the latest snapshot for the page and /metrics."""

    def __init__(self, source: OffsetSource, topics: list[str], *, prefix: str, group_prefix: str) -> None:
        self.source = source
        self.topics = topics
        self.prefix = prefix
        self.group_prefix = group_prefix
        self.snapshot = PipelineSnapshot()
        self._prev_ends: dict[str, int] | None = None
        self._prev_at = 0.0

    async def sample(self) -> PipelineSnapshot:
        from leadflow_platform.metrics import CONSUMER_LAG

        from leadflow_ops.metrics import TOPIC_END_OFFSET

        try:
            groups = [g for g in await self.source.groups() if g.startswith(self.group_prefix)]
            parts = await self.source.topic_partitions(self.topics)
            ends_all = await self.source.end_offsets(parts)
            rows: list[LagRow] = []
            for group in groups:
                committed = await self.source.committed(group, parts)
                # a group reads a topic if it has committed past 0 on one of its partitions (Kafka
                # reports -1 for "never committed", Tansu reports 0)
                consumed = {tp[0] for tp, off in committed.items() if off > 0}
                mine = {tp: off for tp, off in committed.items() if tp[0] in consumed}
                if mine:
                    rows.extend(consumer_lag(group, mine, ends_all, self.prefix))
            per_topic: dict[str, int] = {}
            for (topic, _), off in ends_all.items():
                key = contract_topic(topic, self.prefix)
                per_topic[key] = per_topic.get(key, 0) + off
            now = time.monotonic()
            rates = throughput(self._prev_ends, per_topic, now - self._prev_at) if self._prev_ends is not None else {}
            self._prev_ends, self._prev_at = per_topic, now
            self.snapshot = PipelineSnapshot(at=time.time(), lag=rows, throughput=rates)
            for row in rows:
                CONSUMER_LAG.labels(service=row.service, topic=row.topic).set(row.lag)
            for topic, off in per_topic.items():
                TOPIC_END_OFFSET.labels(topic=topic).set(off)
        except Exception as exc:  # the page shows the error; the sampler keeps going
            log.warning("lag_sample_failed", error=type(exc).__name__, detail=str(exc))
            with contextlib.suppress(Exception):
                await self.source.close()  # reconnect on the next sample
            self.snapshot = PipelineSnapshot(
                at=time.time(),
                lag=self.snapshot.lag,
                throughput=self.snapshot.throughput,
                error=str(exc) or type(exc).__name__,
            )
        return self.snapshot

    async def run(self, interval: float) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(interval)
