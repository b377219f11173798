"""Thin FastStream subscriber: ``leads.enriched`` through the platform consumer runtime into ``ScoreService``."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from leadflow_contracts import LeadEnriched, topics
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import BatchPublisher, ConsumerRuntime, subscribe

from leadflow_score.service import ScoreService
from leadflow_score.settings import ScoreSettings


def register(broker: KafkaBroker, settings: ScoreSettings, service: ScoreService, clock: Clock) -> ConsumerRuntime:
    runtime = ConsumerRuntime(
        service=settings.service_name,
        contracts={settings.topic(topics.LEADS_ENRICHED): LeadEnriched},
        use_case=service,
        publisher=BatchPublisher(broker, settings.service_name),
        deadletter_topic=settings.topic(topics.LEADS_DEADLETTER),
        settings=settings,
        clock=clock,
    )
    subscribe(broker, settings, runtime, title="score/leads.enriched",
              description="LeadEnriched -> LeadScored (fit, decayed engagement, grade, rating, optional model blend).")
    # What the runtime publishes (through the broker), declared for the AsyncAPI document.
    broker.publisher(settings.topic(topics.LEADS_SCORED), title="score/leads.scored")
    broker.publisher(settings.topic(topics.LEADS_DEADLETTER), title="score/leads.deadletter")
    return runtime
