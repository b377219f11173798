"""Thin FastStream subscriber: ``leads.enriched`` through the platform consumer runtime into ``ScoreService``."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from leadflow_contracts import LeadEnriched, topics
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import ConsumerRuntime, register_consumer

from leadflow_score.service import ScoreService
from leadflow_score.settings import ScoreSettings


def register(broker: KafkaBroker, settings: ScoreSettings, service: ScoreService, clock: Clock) -> ConsumerRuntime:
    runtime = register_consumer(
        broker,
        settings,
        {settings.topic(topics.LEADS_ENRICHED): LeadEnriched},
        service,
        clock=clock,
        title="score/leads.enriched",
        description="LeadEnriched -> LeadScored (fit, decayed engagement, grade, rating, optional model blend).",
    )
    # What the runtime publishes (through the broker), declared for the AsyncAPI document.
    broker.publisher(settings.topic(topics.LEADS_SCORED), title="score/leads.scored")
    broker.publisher(settings.topic(topics.LEADS_DEADLETTER), title="score/leads.deadletter")
    return runtime
