"""Thin FastStream subscribers over the platform consumer runtime; the use cases in ``service`` do the work."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from leadflow_contracts import CrmChange, LeadAccepted, topics
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import BatchPublisher, ConsumerRuntime, subscribe

from leadflow_enrich.service import ChangesService, EnrichService
from leadflow_enrich.settings import EnrichSettings


def register(broker: KafkaBroker, settings: EnrichSettings, enrich: EnrichService, changes: ChangesService | None,
             clock: Clock) -> list[ConsumerRuntime]:
    publisher = BatchPublisher(broker, settings.service_name)
    deadletter = settings.topic(topics.LEADS_DEADLETTER)
    accepted = ConsumerRuntime(
        service=settings.service_name, contracts={settings.topic(topics.LEADS_ACCEPTED): LeadAccepted},
        use_case=enrich, publisher=publisher, deadletter_topic=deadletter, settings=settings, clock=clock,
        name="accepted",
    )
    subscribe(broker, settings, accepted, title="enrich/leads.accepted",
              description="LeadAccepted -> LeadEnriched (account match, duplicates, client type, firmographics, "
              "time zone).")
    # What the runtime publishes, declared for the AsyncAPI document.
    broker.publisher(settings.topic(topics.LEADS_ENRICHED), title="enrich/leads.enriched")
    broker.publisher(deadletter, title="enrich/leads.deadletter")
    runtimes = [accepted]
    if changes is not None:
        mirror = ConsumerRuntime(
            service=settings.service_name, contracts={settings.topic(topics.CRM_CHANGES): CrmChange},
            use_case=changes, publisher=publisher, deadletter_topic=deadletter, settings=settings, clock=clock,
            name="crm_changes",
        )
        subscribe(broker, settings, mirror, group_id=settings.mirror_group_id(), title="enrich/crm.changes",
                  description="CrmChange -> the Salesforce mirror (tables, then the in-memory index).")
        runtimes.append(mirror)
    return runtimes
