"""The Kafka entry point: a thin batch subscriber on ``leads.inbound``.

Messages arrive as raw bytes (a custom decoder skips FastStream's JSON decoding) because intake
must judge every message itself: bad JSON, invalid UTF-8 or an oversized payload becomes a
``LeadRejected``, never a crashed consumer. If the database or the broker fails, the batch is
nacked (offsets rewound) after a short pause and read again: nothing is lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from leadflow_contracts import LeadAccepted, LeadRejected, topics
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED

from leadflow_intake.service import IntakeService, Submission
from leadflow_intake.settings import IntakeSettings

log = get_logger("leadflow_intake.handlers")


async def raw_body(message: StreamMessage[Any]) -> Any:
    """Decoder that leaves the batch as the list of raw ``bytes`` values."""
    return message.body


def register_inbound(broker: KafkaBroker, settings: IntakeSettings, service: IntakeService) -> BatchSubscriber:
    inbound = settings.topic(topics.LEADS_INBOUND)
    subscriber = broker.subscriber(
        inbound,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        auto_offset_reset="earliest",
        # NACK_ON_ERROR, not the platform default ACK: with ACK an exception would still commit the
        # offsets and the batch would be lost. A raising batch is rewound and read again.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_body,
        title="intake.inbound",
        description="LeadSubmitted JSON from marketing systems (judged byte by byte).",
    )

    @subscriber
    async def on_inbound(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple | list) else (msg.raw_message,)
        batch = [
            Submission(raw=r.value or b"", channel="kafka", origin=f"{r.topic}/{r.partition}/{r.offset}")
            for r in records
        ]
        try:
            await service.process(batch)
        except Exception as exc:
            EVENTS_FAILED.labels("intake", inbound, "infrastructure").inc(len(batch))
            log.error("batch_failed_will_retry", size=len(batch), error=type(exc).__name__, exc_info=True)
            await asyncio.sleep(settings.retry_backoff_seconds)
            raise

    return subscriber


def declare_outputs(broker: KafkaBroker, settings: IntakeSettings) -> None:
    """Declare what intake publishes, so the broker's AsyncAPI document lists it.

    The messages themselves go out through ``KafkaLeadPublisher`` (one ``broker.publish`` per
    message, acknowledgements awaited together per batch); these publisher objects carry only the
    channel, title and payload schema for the generated documentation (deploy/asyncapi/intake.yaml).
    """
    broker.publisher(
        settings.topic(topics.LEADS_ACCEPTED),
        title="intake/leads.accepted",
        description="One LeadAccepted per accepted submission, keyed by lead_id.",
        schema=LeadAccepted,
    )
    broker.publisher(
        settings.topic(topics.LEADS_REJECTED),
        title="intake/leads.rejected",
        description="One LeadRejected per rejected submission: reason code, message, original bytes (base64).",
        schema=LeadRejected,
    )
