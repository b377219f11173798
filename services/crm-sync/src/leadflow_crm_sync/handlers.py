"""Thin subscriber: ``leads.routed`` + ``sla.events`` + ``crm.changes`` through the platform consumer runtime
into ``SyncService.process`` (one batch, one transaction; a batch of ``parallel_min_records`` or more in
``parallel_parts`` groups of whole partitions side by side, a transaction each: ``by_partition``).

The runtime parses each record once by its topic (poison → ``leads.deadletter``), hands the events over with
the backlog still in Kafka behind the batch (Bulk API 2.0 vs Collections), and applies the shared failure
policy (database or broker failure: back-off and rewind; a record the code fails on twice: dead letter).
When Salesforce could not take some writes (an outage, REQUEST_LIMIT_EXCEEDED, a session that cannot be
renewed) the use case raises ``RetryAfter`` for as long as the writer is paused: the runtime pauses the
consumer's partitions and rewinds to the batch, so the backlog stays in Kafka, no offset is committed for an
unwritten lead, and no handler sleeps through the wait. The service publishes its own outputs (before it
commits its event claims) through the same ``BatchPublisher``; its dead letters are logged and counted by
the runtime like every other service's.

The group uses range assignment (``CrmSyncSettings.partition_assignment_strategy``): a member gets the same
partition numbers of all three topics, so one lead's routed, SLA and change events (all keyed by lead_id)
are handled by one consumer, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from leadflow_contracts import CrmChange, CrmSynced, DeadLetter, Event, LeadRouted, SlaEvent, topics
from leadflow_platform.clock import Clock
from leadflow_platform.consumer import (
    Batch,
    BatchPublisher,
    Consumed,
    ConsumerRuntime,
    Outgoing,
    RetryAfter,
    register_consumer,
)

from leadflow_crm_sync.adapters.gateway import SalesforceCallError
from leadflow_crm_sync.service import BatchResult, Incoming, Kind, SyncService
from leadflow_crm_sync.settings import CrmSyncSettings
from leadflow_crm_sync.writer import Unavailable

_CONTRACTS: dict[Kind, tuple[str, type[Event]]] = {
    "routed": (topics.LEADS_ROUTED, LeadRouted),
    "sla": (topics.SLA_EVENTS, SlaEvent),
    "changes": (topics.CRM_CHANGES, CrmChange),
}


class SharedExclusiveLock:
    """Batches run side by side (shared); the deferred-write drain runs alone (exclusive)."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._shared = 0
        self._exclusive = False

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._exclusive)
            self._shared += 1
        try:
            yield
        finally:
            async with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._exclusive and self._shared == 0)
            self._exclusive = True
        try:
            yield
        finally:
            async with self._cond:
                self._exclusive = False
                self._cond.notify_all()


def by_partition(items: Sequence[Consumed[Any]], parts: int, min_records: int) -> list[list[Consumed[Any]]]:
    """A large batch in up to ``parts`` groups of whole partitions (partition number modulo ``parts``), in
    arrival order within each, so the use case can write one group to Salesforce while it plans another;
    a batch under ``min_records`` stays whole. A lead's events all share one partition number (keyed by
    lead_id, range-assigned: see the module docstring), so each lead stays in one group, in order, as it
    does with several consumers (``CRMSYNC_CONSUMERS``)."""
    if parts <= 1 or len(items) < min_records:
        return [list(items)] if items else []
    groups: dict[int, list[Consumed[Any]]] = {}
    for item in items:
        groups.setdefault(item.record.partition % parts, []).append(item)
    return [groups[k] for k in sorted(groups)]


def publisher(broker: KafkaBroker, settings: CrmSyncSettings) -> Callable[[list[tuple[str, Event]]], Awaitable[None]]:
    """The service's publish step: every output handed to the producer, then one acknowledgement round."""
    batch_publisher = BatchPublisher(broker, settings.service_name)

    async def publish(outputs: list[tuple[str, Event]]) -> None:
        await batch_publisher.publish_all([Outgoing.of(settings.topic(topic), event) for topic, event in outputs])

    return publish


def register(
    broker: KafkaBroker,
    settings: CrmSyncSettings,
    service: SyncService,
    lock: SharedExclusiveLock,
    *,
    clock: Clock | None = None,
) -> list[ConsumerRuntime]:
    """``settings.consumers`` members of the group in this process, each a runtime over the same use case."""
    kinds = {settings.topic(topic): kind for kind, (topic, _) in _CONTRACTS.items()}
    contracts = {settings.topic(topic): model for topic, model in _CONTRACTS.values()}
    runtimes: list[ConsumerRuntime] = []
    for n in range(settings.consumers):
        holder: list[ConsumerRuntime] = []

        async def use_case(batch: Batch, holder: list[ConsumerRuntime] = holder) -> None:
            """Write the batch's leads, SLA statuses, Tasks and conversions to Salesforce; publish CrmSynced."""
            parts = [
                [Incoming(kinds[c.record.topic], c.record.value, c.event) for c in part]
                for part in by_partition(batch.items, settings.parallel_parts, settings.parallel_min_records)
            ]
            outcomes = await asyncio.gather(
                *(_process(service, settings, lock, part, batch.behind) for part in parts), return_exceptions=True
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            results = [o for o in outcomes if isinstance(o, BatchResult)]
            for result in results:  # a part that succeeded published its letters, whatever the other did
                for letter in result.letters:
                    holder[0].record_letter(letter)
            if failures:
                raise failures[0]
            if unavailable := sum(r.unavailable for r in results):
                raise _wait(service, settings, f"{unavailable} events not written")

        runtime = register_consumer(
            broker,
            settings,
            contracts,
            use_case,
            clock=clock,
            title=f"crm-sync/inputs{f'-{n}' if n else ''}",
            description="LeadRouted (upsert Lead, callback Task), SlaEvent (SLA status, escalation Task) and "
            "CrmChange (convertLead) into Salesforce; CrmSynced out.",
            name=f"{settings.service_name}-{n}" if settings.consumers > 1 else "",
        )
        holder.append(runtime)
        runtimes.append(runtime)
    broker.publisher(settings.topic(topics.CRM_SYNCED), title="crm-sync/crm.synced", schema=CrmSynced)
    broker.publisher(settings.topic(topics.LEADS_DEADLETTER), title="crm-sync/leads.deadletter", schema=DeadLetter)
    return runtimes


async def _process(
    service: SyncService, settings: CrmSyncSettings, lock: SharedExclusiveLock, records: list[Incoming], behind: int
) -> BatchResult:
    """One group of a batch through the use case, beside the others (the deferred drain waits for all of them)."""
    try:
        async with lock.shared():
            return await service.process(records, backlog=behind)
    except Unavailable as e:
        raise _wait(service, settings, str(e)) from e
    except SalesforceCallError as e:
        if e.kind == "bad_request":
            raise
        raise _wait(service, settings, str(e)) from e


def _wait(service: SyncService, settings: CrmSyncSettings, detail: str) -> RetryAfter:
    """Pause every partition for as long as Salesforce is paused (at least the retry base): the writer is
    shared by all of them, so the next batch would only be refused too."""
    seconds = max(service.writer.paused_for(), settings.retry_base_seconds)
    return RetryAfter(seconds, service.writer.pause_reason or detail, whole_assignment=True)
