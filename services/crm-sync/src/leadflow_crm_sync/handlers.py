"""The FastStream batch subscriber(s): ``leads.routed`` + ``sla.events`` + ``crm.changes`` records in one batch.

Thin: it hands the records to ``SyncService.process`` and, when Salesforce could not take some of them
(outage, REQUEST_LIMIT_EXCEEDED), pauses the consumer and rewinds to the batch (NackMessage → seek), so
the backlog stays in Kafka: no offset is committed for an unwritten lead, nothing is dropped, and the
pause (not a loop) decides when it is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from leadflow_contracts import topics
from leadflow_platform.broker import DEFAULT_ACK_POLICY
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_IN, HANDLER_SECONDS

from leadflow_crm_sync.service import SERVICE, Incoming, Kind, SyncService
from leadflow_crm_sync.settings import CrmSyncSettings

log = get_logger(__name__)


class ConsumerPause:
    """Pause the subscribers' partitions while Salesforce refuses work; resume on a timer."""

    def __init__(self) -> None:
        self.subscribers: list[Any] = []
        self._resume: asyncio.TimerHandle | None = None
        self.pauses = 0

    @property
    def paused(self) -> bool:
        return self._resume is not None

    def _consumers(self) -> list[Any]:
        found = (getattr(s, "consumer", None) for s in self.subscribers)
        return [c for c in found if c is not None and hasattr(c, "pause")]

    def pause(self, seconds: float) -> None:
        consumers = self._consumers()
        if not consumers:
            return
        for consumer in consumers:
            with contextlib.suppress(Exception):
                consumer.pause(*consumer.assignment())
        self.pauses += 1
        if self._resume is not None:
            self._resume.cancel()
        self._resume = asyncio.get_running_loop().call_later(seconds, self.resume)
        log.warning("consumption_paused", seconds=round(seconds, 3))

    def resume(self) -> None:
        self._resume = None
        for consumer in self._consumers():
            with contextlib.suppress(Exception):
                consumer.resume(*consumer.paused())
        log.info("consumption_resumed")


class SharedExclusiveLock:
    """Batches run side by side (shared); the deferred-write drain runs alone (exclusive)."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._shared = 0
        self._exclusive = False

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._exclusive)
            self._shared += 1
        try:
            yield
        finally:
            async with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._exclusive and self._shared == 0)
            self._exclusive = True
        try:
            yield
        finally:
            async with self._cond:
                self._exclusive = False
                self._cond.notify_all()


def register(
    broker: KafkaBroker,
    settings: CrmSyncSettings,
    service: SyncService,
    pause: ConsumerPause,
    lock: SharedExclusiveLock,
) -> None:
    kinds: dict[str, Kind] = {
        settings.topic(topics.LEADS_ROUTED): "routed",
        settings.topic(topics.SLA_EVENTS): "sla",
        settings.topic(topics.CRM_CHANGES): "changes",
    }
    for _ in range(settings.consumers):
        # Range assignment: a member gets the same partition numbers of all three topics, so one lead's
        # routed, SLA and change events (all keyed by lead_id) are handled by one consumer, in order.
        subscriber = broker.subscriber(
            *kinds,
            group_id=settings.consumer_group,
            batch=True,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,  # the embedded broker holds a fetch for all of it
            auto_offset_reset="earliest",
            ack_policy=DEFAULT_ACK_POLICY,
            max_poll_interval_ms=settings.max_poll_interval_ms,
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.session_timeout_ms // 10,
        )
        pause.subscribers.append(subscriber)
        subscriber(_handler(kinds, settings, service, pause, lock))


def _backlog(pause: ConsumerPause, records: Any) -> int:
    """Records still in Kafka behind this batch (high watermark − next offset), over its partitions."""
    last: dict[tuple[str, int], int] = {}
    for r in records:
        key = (r.topic, r.partition)
        last[key] = max(last.get(key, -1), r.offset)
    behind = 0
    for consumer in pause._consumers():
        for (topic, partition), offset in last.items():
            with contextlib.suppress(Exception):
                high = consumer.highwater(TopicPartition(topic, partition))
                if high is not None:
                    behind += max(0, high - offset - 1)
    return behind


def _handler(
    kinds: dict[str, Kind],
    settings: CrmSyncSettings,
    service: SyncService,
    pause: ConsumerPause,
    lock: SharedExclusiveLock,
) -> Any:
    failures = [0]

    async def on_batch(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple | list) else (raw,)
        incoming = []
        for r in records:
            kind = kinds.get(r.topic)
            if kind is None or r.value is None:
                continue
            EVENTS_IN.labels(SERVICE, r.topic).inc()
            incoming.append(Incoming(kind, bytes(r.value)))
        if not incoming:
            return
        try:
            with HANDLER_SECONDS.labels(SERVICE, "batch").time():
                async with lock.shared():
                    result = await service.process(incoming, backlog=_backlog(pause, records))
        except Exception:
            # AckPolicy.ACK would commit the batch of a raising handler: rewind instead, after a growing pause,
            # so an unexpected failure (database down, a bug) loses nothing. Poison messages never get here:
            # they are dead-lettered by the service.
            failures[0] += 1
            wait = min(60.0, settings.retry_base_seconds * 2 ** min(failures[0], 8))
            log.exception("batch_failed", records=len(incoming), consecutive=failures[0], resume_in=round(wait, 3))
            pause.pause(wait)
            raise NackMessage from None
        failures[0] = 0
        if result.unavailable:
            wait = max(service.writer.paused_for(), settings.retry_base_seconds)
            log.warning(
                "batch_rewound",
                records=len(incoming),
                unavailable=result.unavailable,
                resume_in=round(wait, 3),
                reason=service.writer.pause_reason,
            )
            pause.pause(wait)
            raise NackMessage

    return on_batch
