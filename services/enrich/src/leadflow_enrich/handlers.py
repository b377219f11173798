"""Thin FastStream subscribers: raw batches in, the use cases in ``pipeline`` do the work."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from leadflow_contracts import topics
from leadflow_platform.broker import DEFAULT_ACK_POLICY
from leadflow_platform.kafka_io import raw_batch_decoder

from leadflow_enrich.pipeline import ChangesPipeline, EnrichPipeline
from leadflow_enrich.settings import EnrichSettings

CONSUMER_GROUP = "leadflow-enrich"


def register(broker: KafkaBroker, settings: EnrichSettings, enrich: EnrichPipeline,
             changes: ChangesPipeline | None) -> None:
    @broker.subscriber(
        settings.topic(topics.LEADS_ACCEPTED),
        group_id=CONSUMER_GROUP,
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        ack_policy=DEFAULT_ACK_POLICY,
        decoder=raw_batch_decoder,
        title="enrich/leads.accepted",
    )
    async def on_leads_accepted(records: list[Any]) -> None:
        """LeadAccepted -> LeadEnriched (account match, duplicates, client type, firmographics, time zone)."""
        await enrich.handle(records)

    if changes is None:
        return

    @broker.subscriber(
        settings.topic(topics.CRM_CHANGES),
        group_id=settings.mirror_group_id(),
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        ack_policy=DEFAULT_ACK_POLICY,
        decoder=raw_batch_decoder,
        title="enrich/crm.changes",
    )
    async def on_crm_changes(records: list[Any]) -> None:
        """CrmChange -> the Salesforce mirror (tables, then the in-memory index)."""
        await changes.handle(records)
