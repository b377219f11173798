"""Thin Kafka subscribers: parse the contract type, hand the batch to the service.

Messages arrive as raw bytes so a message that is not a valid contract event becomes a
``DeadLetter`` (reason + original bytes) instead of a crashed consumer. If the database or the
broker fails, the batch is nacked (offsets rewound) after a short pause and read again.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from leadflow_contracts import topics
from leadflow_contracts.base import Event
from leadflow_contracts.crm import CrmChange
from leadflow_contracts.pipeline import DeadLetter, LeadRouted
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN
from pydantic import ValidationError

from leadflow_sla_monitor.adapters.publisher import EventPublisher, Outgoing
from leadflow_sla_monitor.service import SERVICE, SlaMonitor
from leadflow_sla_monitor.settings import SlaSettings

log = get_logger("leadflow_sla_monitor.handlers")
E = TypeVar("E", bound=Event)


async def raw_body(message: StreamMessage[Any]) -> Any:
    """Decoder that leaves the batch as raw ``bytes`` values."""
    return message.body


def parse_batch(records: Sequence[Any], model: type[E], topic: str, now: datetime) -> tuple[list[E], list[DeadLetter]]:
    good: list[E] = []
    bad: list[DeadLetter] = []
    for record in records:
        raw: bytes = record.value or b""
        try:
            good.append(model.model_validate_json(raw))
        except ValidationError as exc:
            key = (record.key or b"").decode("utf-8", "replace") or "unknown"
            bad.append(
                DeadLetter(
                    lead_id=key[:128],
                    occurred_at=now,
                    service=SERVICE,
                    topic=topic,
                    reason="invalid_contract",
                    message=str(exc.errors(include_url=False, include_input=False))[:2000],
                    original_base64=base64.b64encode(raw).decode(),
                    failed_at=now,
                    detail={"partition": str(record.partition), "offset": str(record.offset)},
                )
            )
    return good, bad


def _register(
    broker: KafkaBroker,
    settings: SlaSettings,
    topic: str,
    model: type[E],
    process: Callable[[list[E]], Awaitable[int]],
    publisher: EventPublisher,
    clock: Clock,
    title: str,
    on_done: Callable[[], None],
) -> Any:
    real_topic = settings.topic(topic)
    subscriber = broker.subscriber(
        real_topic,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        auto_offset_reset="earliest",
        # A raising batch is rewound and read again (with ACK the offsets would be committed anyway).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_body,
        title=title,
    )

    @subscriber
    async def handle(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple | list) else (msg.raw_message,)
        EVENTS_IN.labels(SERVICE, real_topic).inc(len(records))
        good, bad = parse_batch(records, model, real_topic, clock.now())
        try:
            if bad:
                await publisher.publish_all([Outgoing(settings.topic(topics.LEADS_DEADLETTER), d) for d in bad])
                EVENTS_FAILED.labels(SERVICE, real_topic, "invalid_contract").inc(len(bad))
                log.warning("dead_lettered", topic=real_topic, count=len(bad))
            if good:
                await process(good)
                on_done()
        except Exception as exc:
            EVENTS_FAILED.labels(SERVICE, real_topic, "infrastructure").inc(len(records))
            log.error("batch_failed_will_retry", topic=real_topic, size=len(records), error=type(exc).__name__)
            await asyncio.sleep(settings.retry_backoff_seconds)
            raise

    return subscriber


def register(
    broker: KafkaBroker,
    settings: SlaSettings,
    monitor: SlaMonitor,
    clock: Clock,
    on_done: Callable[[], None] = lambda: None,
) -> tuple[Any, Any]:
    routed = _register(
        broker,
        settings,
        topics.LEADS_ROUTED,
        LeadRouted,
        monitor.handle_routed,
        monitor.publisher,
        clock,
        "sla-monitor.routed",
        on_done,
    )
    changes = _register(
        broker,
        settings,
        topics.CRM_CHANGES,
        CrmChange,
        monitor.handle_changes,
        monitor.publisher,
        clock,
        "sla-monitor.changes",
        on_done,
    )
    return routed, changes
