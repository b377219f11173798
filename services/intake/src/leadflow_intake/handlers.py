"""The Kafka entry point: ``leads.inbound`` through the platform consumer runtime into ``IntakeService``.

``leads.inbound`` is a raw topic for the runtime (no contract parsing): intake judges every message
itself, so bad JSON, invalid UTF-8 or an oversized payload becomes a ``LeadRejected``, never a crashed
consumer. If the database or the broker fails, the runtime backs off and the batch is rewound and read
again: nothing is lost (claims are committed only together with the publish).
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from leadflow_contracts import LeadAccepted, LeadRejected, topics
from leadflow_platform.consumer import Batch, Outgoing, register_consumer

from leadflow_intake.service import IntakeService, Submission
from leadflow_intake.settings import IntakeSettings


def register_inbound(broker: KafkaBroker, settings: IntakeSettings, service: IntakeService) -> Any:
    """Subscribe intake's use case; returns the FastStream subscriber (tests read its partition assignment)."""

    async def use_case(batch: Batch) -> list[Outgoing]:
        """LeadSubmitted JSON from marketing systems (judged byte by byte)."""
        await service.process(
            [Submission(raw=r.value, channel="kafka", origin=f"{r.topic}/{r.partition}/{r.offset}") for r in batch.raw]
        )
        return []  # the service publishes inside its claim transaction

    runtime = register_consumer(
        broker,
        settings,
        {settings.topic(topics.LEADS_INBOUND): None},
        use_case,
        clock=service.clock,
        title="intake.inbound",
        description="LeadSubmitted JSON from marketing systems (judged byte by byte).",
        count_in=False,  # IntakeService counts what it judges (Kafka and HTTP alike)
    )
    return runtime.subscriber


def declare_outputs(broker: KafkaBroker, settings: IntakeSettings) -> None:
    """Declare what intake publishes, so the broker's AsyncAPI document lists it.

    The messages themselves go out through ``KafkaLeadPublisher`` (the platform's confirm-once publisher,
    inside the claim transaction); these publisher objects carry only the channel, title and payload
    schema for the generated documentation (deploy/asyncapi/intake.yaml).
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
