"""Thin FastStream subscribers over the platform consumer runtime; the use cases in ``service`` do the work."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from leadflow_contracts import CrmChange, LeadAccepted, topics
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import ConsumerRuntime, register_consumer

from leadflow_enrich.service import ChangesService, EnrichService
from leadflow_enrich.settings import EnrichSettings


def register(
    broker: KafkaBroker, settings: EnrichSettings, enrich: EnrichService, changes: ChangesService | None, clock: Clock
) -> list[ConsumerRuntime]:
    runtimes = [
        register_consumer(
            broker,
            settings,
            {settings.topic(topics.LEADS_ACCEPTED): LeadAccepted},
            enrich,
            clock=clock,
            name="accepted",
            title="enrich/leads.accepted",
            description=(
                "LeadAccepted -> LeadEnriched (account match, duplicates, client type, firmographics, time zone)."
            ),
        )
    ]
    # What the runtime publishes, declared for the AsyncAPI document.
    broker.publisher(settings.topic(topics.LEADS_ENRICHED), title="enrich/leads.enriched")
    broker.publisher(settings.topic(topics.LEADS_DEADLETTER), title="enrich/leads.deadletter")
    if changes is not None:
        runtimes.append(
            register_consumer(
                broker,
                settings,
                {settings.topic(topics.CRM_CHANGES): CrmChange},
                changes,
                clock=clock,
                name="crm_changes",
                group_id=settings.mirror_group_id(),
                title="enrich/crm.changes",
                description="CrmChange -> the Salesforce mirror (tables, then the in-memory index).",
            )
        )
    return runtimes
