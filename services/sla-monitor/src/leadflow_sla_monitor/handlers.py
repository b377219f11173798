"""Thin Kafka subscribers: parse the contract type, hand the batch to the service.

Messages arrive as raw bytes so a message that is not a valid contract event becomes a
``DeadLetter`` (reason + original bytes) instead of a crashed consumer. If the database or the
broker fails, the batch is nacked (offsets rewound) after a short pause and read again.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
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


def register(
    broker: KafkaBroker,
    settings: SlaSettings,
    monitor: SlaMonitor,
    clock: Clock,
    on_done: Callable[[], None] = lambda: None,
) -> Any:
    """One batch subscriber for both inputs (one consumer-group member, one join): each record is
    parsed by the topic it came from; routings are handled before CRM changes of the same batch."""
    routed_topic = settings.topic(topics.LEADS_ROUTED)
    changes_topic = settings.topic(topics.CRM_CHANGES)
    deadletter_topic = settings.topic(topics.LEADS_DEADLETTER)
    publisher: EventPublisher = monitor.publisher
    subscriber = broker.subscriber(
        routed_topic,
        changes_topic,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        auto_offset_reset="earliest",
        # A raising batch is rewound and read again (with ACK the offsets would be committed anyway).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_body,
        title="sla-monitor.inputs",
        description="LeadRouted (start clocks) and CrmChange (stop clocks).",
    )

    @subscriber
    async def handle(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple | list) else (msg.raw_message,)
        now = clock.now()
        routed_records = [r for r in records if r.topic == routed_topic]
        change_records = [r for r in records if r.topic != routed_topic]
        routed, bad_routed = parse_batch(routed_records, LeadRouted, routed_topic, now)
        changes, bad_changes = parse_batch(change_records, CrmChange, changes_topic, now)
        bad = bad_routed + bad_changes
        try:
            if bad:
                await publisher.publish_all([Outgoing(deadletter_topic, d) for d in bad])
                log.warning("dead_lettered", count=len(bad))
            if routed:
                await monitor.handle_routed(routed)
            if changes:
                await monitor.handle_changes(changes)
        except Exception as exc:
            for topic, n in ((routed_topic, len(routed_records)), (changes_topic, len(change_records))):
                if n:
                    EVENTS_FAILED.labels(SERVICE, topic, "infrastructure").inc(n)
            log.error("batch_failed_will_retry", size=len(records), error=type(exc).__name__)
            await asyncio.sleep(settings.retry_backoff_seconds)
            raise
        for topic, n, failed in (
            (routed_topic, len(routed_records), len(bad_routed)),
            (changes_topic, len(change_records), len(bad_changes)),
        ):
            if n:
                EVENTS_IN.labels(SERVICE, topic).inc(n)
            if failed:
                EVENTS_FAILED.labels(SERVICE, topic, "invalid_contract").inc(failed)
        if routed or changes:
            on_done()

    return subscriber
