"""The one FastStream subscriber: a batch of ``leads.routed`` + ``sla.events`` + ``crm.changes`` records.

Thin: it hands the records to ``SyncService.process`` and, when Salesforce could not take some of them
(outage, REQUEST_LIMIT_EXCEEDED), pauses the consumer and rewinds to the batch (NackMessage → seek), so
the backlog stays in Kafka: no offset is committed for an unwritten lead, nothing is dropped, and the
pause (not a loop) decides when it is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

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
    """Pause the subscriber's partitions while Salesforce refuses work; resume on a timer."""

    def __init__(self) -> None:
        self.subscriber: Any = None
        self._resume: asyncio.TimerHandle | None = None
        self.pauses = 0

    @property
    def paused(self) -> bool:
        return self._resume is not None

    def pause(self, seconds: float) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None or not hasattr(consumer, "pause"):
            return
        with contextlib.suppress(Exception):
            consumer.pause(*consumer.assignment())
        self.pauses += 1
        if self._resume is not None:
            self._resume.cancel()
        self._resume = asyncio.get_running_loop().call_later(seconds, self.resume)
        log.warning("consumption_paused", seconds=round(seconds, 3))

    def resume(self) -> None:
        self._resume = None
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return
        with contextlib.suppress(Exception):
            consumer.resume(*consumer.paused())
        log.info("consumption_resumed")


def register(broker: KafkaBroker, settings: CrmSyncSettings, service: SyncService, pause: ConsumerPause,
             lock: asyncio.Lock) -> None:
    kinds: dict[str, Kind] = {
        settings.topic(topics.LEADS_ROUTED): "routed",
        settings.topic(topics.SLA_EVENTS): "sla",
        settings.topic(topics.CRM_CHANGES): "changes",
    }

    subscriber = broker.subscriber(
        *kinds, group_id=settings.consumer_group, batch=True, max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms, auto_offset_reset="earliest", ack_policy=DEFAULT_ACK_POLICY,
        max_poll_interval_ms=settings.max_poll_interval_ms,
    )
    pause.subscriber = subscriber

    @subscriber
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
        with HANDLER_SECONDS.labels(SERVICE, "batch").time():
            async with lock:
                result = await service.process(incoming)
        if result.unavailable:
            wait = max(service.writer.paused_for(), settings.retry_base_seconds)
            log.warning("batch_rewound", records=len(incoming), unavailable=result.unavailable,
                        resume_in=round(wait, 3), reason=service.writer.pause_reason)
            pause.pause(wait)
            raise NackMessage
