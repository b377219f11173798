"""One batch subscriber for every topic ops reads, over the platform consumer runtime: each record is
parsed once as its contract type and the batch is applied to the read models in one transaction.
Unparseable records are never dropped: the runtime dead-letters them on ``leads.deadletter`` — except
those on the dead-letter topics themselves, which become raw entries in the dead-letter browser (so
nothing loops). A database failure backs off and rewinds the batch (no in-handler retry loop).
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from leadflow_contracts import (
    CrmChange,
    CrmSynced,
    DeadLetter,
    Event,
    LeadRejected,
    LeadRouted,
    RosterPublished,
    SlaEvent,
)
from leadflow_contracts import topics as T
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import ConsumerRuntime, register_consumer

from leadflow_ops.service import OpsConsumer
from leadflow_ops.settings import OpsSettings

CONTRACTS: dict[str, type[Event]] = {
    T.LEADS_ROUTED: LeadRouted,
    T.CRM_SYNCED: CrmSynced,
    T.SLA_EVENTS: SlaEvent,
    T.CRM_CHANGES: CrmChange,
    T.LEADS_REJECTED: LeadRejected,
    T.LEADS_DEADLETTER: DeadLetter,
    T.CRM_ROSTER: RosterPublished,
}
DLQ_TOPICS = frozenset({T.LEADS_REJECTED, T.LEADS_DEADLETTER})


def register(broker: KafkaBroker, settings: OpsSettings, consumer: OpsConsumer, clock: Clock) -> ConsumerRuntime:
    return register_consumer(
        broker,
        settings,
        {settings.topic(name): model for name, model in CONTRACTS.items()},
        consumer,
        clock=clock,
        title="ops.read_models",
        description="Every event ops shows, applied to its read models.",
        name="read_models",
        keep_poison_from=frozenset(settings.topic(name) for name in DLQ_TOPICS),
    )
