"""One batch subscriber for every topic ops reads, over the platform consumer runtime: each record is
parsed once as its contract type and the batch is applied to the read models in one transaction.
Unparseable records are never dropped: the runtime dead-letters them on ``leads.deadletter`` — except
those on the dead-letter topics themselves, which become raw entries in the dead-letter browser (so
nothing loops). A database failure backs off and rewinds the batch (no in-handler retry loop).
"""

from __future__ import annotations

import hashlib
from typing import Any

from faststream.kafka import KafkaBroker
from leadflow_contracts import CrmChange, CrmSynced, DeadLetter, Event, LeadRejected, LeadRouted, SlaEvent
from leadflow_contracts import topics as T
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import Batch, ConsumerRuntime, Outgoing, register_consumer

from leadflow_ops.adapters.repository import OpsRepository, RawDeadLetter
from leadflow_ops.metrics import DEAD_LETTERS
from leadflow_ops.settings import OpsSettings

CONTRACTS: dict[str, type[Event]] = {
    T.LEADS_ROUTED: LeadRouted,
    T.CRM_SYNCED: CrmSynced,
    T.SLA_EVENTS: SlaEvent,
    T.CRM_CHANGES: CrmChange,
    T.LEADS_REJECTED: LeadRejected,
    T.LEADS_DEADLETTER: DeadLetter,
}
DLQ_TOPICS = frozenset({T.LEADS_REJECTED, T.LEADS_DEADLETTER})


class OpsConsumer:
    """The ops use case: a parsed batch → the read models (one transaction, each event at most once)."""

    def __init__(self, repo: OpsRepository, prefix: str = "") -> None:
        self.repo = repo
        self.prefix = prefix

    def contract_topic(self, topic: str) -> str:
        return topic[len(self.prefix) :] if self.prefix and topic.startswith(self.prefix) else topic

    async def __call__(self, batch: Batch) -> list[Outgoing]:
        items: list[Any] = [c.event for c in batch.items]
        for p in batch.poison:
            r, topic = p.record, self.contract_topic(p.record.topic)
            digest = hashlib.sha256(r.value).hexdigest()[:16]
            lead_id = (r.key or b"").decode("utf-8", errors="replace") or None
            items.append(
                RawDeadLetter(topic, f"raw:{topic}:{r.partition}:{r.offset}:{digest}", r.value, p.reason, lead_id)
            )
        result = await self.repo.apply(items, batch.now)
        for topic, reason in result.dead_letters:
            DEAD_LETTERS.labels(topic=topic, reason=reason).inc()
        return []


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
