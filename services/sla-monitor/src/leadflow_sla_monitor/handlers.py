"""Thin Kafka subscriber: ``leads.routed`` and ``crm.changes`` through the platform consumer runtime.

One batch subscriber for both inputs (one consumer-group member, one join). The runtime parses each
record by the topic it came from (poison → ``leads.deadletter`` with the reason and original bytes),
retries infrastructure failures with back-off (rewinding the batch), and dead-letters a lead whose
routing or change fails the same way twice, so the rest of its partition keeps its SLA tracking.
Routings are handled before the CRM changes of the same batch.
"""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker
from leadflow_contracts import topics
from leadflow_contracts.crm import CrmChange
from leadflow_contracts.pipeline import LeadRouted
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import Batch, ConsumerRuntime, Outgoing, register_consumer

from leadflow_sla_monitor.service import SlaMonitor
from leadflow_sla_monitor.settings import SlaSettings


def register(
    broker: KafkaBroker,
    settings: SlaSettings,
    monitor: SlaMonitor,
    clock: Clock,
    on_done: Callable[[], None] = lambda: None,
) -> ConsumerRuntime:
    routed_topic = settings.topic(topics.LEADS_ROUTED)
    changes_topic = settings.topic(topics.CRM_CHANGES)

    async def use_case(batch: Batch) -> list[Outgoing]:
        """LeadRouted (start clocks) and CrmChange (stop clocks); the monitor publishes inside its transaction."""
        routed: list[LeadRouted] = batch.of(routed_topic)
        changes: list[CrmChange] = batch.of(changes_topic)
        if routed:
            await monitor.handle_routed(routed)
        if changes:
            await monitor.handle_changes(changes)
        if routed or changes:
            on_done()
        return []

    return register_consumer(
        broker,
        settings,
        {routed_topic: LeadRouted, changes_topic: CrmChange},
        use_case,
        clock=clock,
        title="sla-monitor.inputs",
        description="LeadRouted (start clocks) and CrmChange (stop clocks).",
    )
