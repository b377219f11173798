"""Thin FastStream subscriber: raw batches of ``leads.enriched`` in, ``ScorePipeline`` does the work."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from leadflow_contracts import topics
from leadflow_platform.broker import DEFAULT_ACK_POLICY
from leadflow_platform.kafka_io import raw_batch_decoder

from leadflow_score.pipeline import ScorePipeline
from leadflow_score.settings import ScoreSettings

CONSUMER_GROUP = "leadflow-score"


def register(broker: KafkaBroker, settings: ScoreSettings, pipeline: ScorePipeline) -> None:
    @broker.subscriber(
        settings.topic(topics.LEADS_ENRICHED),
        group_id=CONSUMER_GROUP,
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        ack_policy=DEFAULT_ACK_POLICY,
        decoder=raw_batch_decoder,
        title="score/leads.enriched",
    )
    async def on_leads_enriched(records: list[Any]) -> None:
        """LeadEnriched -> LeadScored (fit, decayed engagement, grade, rating, optional model blend)."""
        await pipeline.handle(records)
