"""One batch subscriber for every topic ops reads: parse each record as its contract type, apply the
batch to the read models in one transaction. Unparseable records are never dropped: they become
``DeadLetter``s on ``leads.deadletter`` (or, for the dead-letter topics themselves, a raw entry in the
dead-letter browser, so nothing loops).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from leadflow_contracts import CrmChange, CrmSynced, DeadLetter, LeadRejected, LeadRouted, SlaEvent
from leadflow_contracts import topics as T
from leadflow_platform.broker import DEFAULT_ACK_POLICY
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN, EVENTS_OUT, HANDLER_SECONDS
from pydantic import ValidationError

from leadflow_ops.adapters.repository import OpsRepository, RawDeadLetter
from leadflow_ops.metrics import DEAD_LETTERS
from leadflow_ops.settings import OpsSettings

log = get_logger(__name__)
T_ = TypeVar("T_")

CONTRACTS: dict[str, type[Any]] = {
    T.LEADS_ROUTED: LeadRouted,
    T.CRM_SYNCED: CrmSynced,
    T.SLA_EVENTS: SlaEvent,
    T.CRM_CHANGES: CrmChange,
    T.LEADS_REJECTED: LeadRejected,
    T.LEADS_DEADLETTER: DeadLetter,
}
DLQ_TOPICS = frozenset({T.LEADS_REJECTED, T.LEADS_DEADLETTER})


@dataclass(frozen=True)
class Record:
    topic: str
    """Contract topic name (prefix removed)."""
    value: bytes
    key: bytes | None
    partition: int
    offset: int


Publish = Callable[[DeadLetter, str], Awaitable[None]]


def parse(record: Record, now: Any) -> tuple[Any | None, DeadLetter | None]:
    """(contract event, None) or (None | RawDeadLetter, DeadLetter to publish)."""
    model = CONTRACTS[record.topic]
    try:
        data = json.loads(record.value)
    except ValueError as exc:
        reason, message = "invalid_json", str(exc)
    else:
        try:
            return model.model_validate(data), None
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            reason = "schema_violation"
            message = f"{'.'.join(str(p) for p in first['loc']) or '(root)'}: {first['msg']}"
    lead_id = (record.key or b"").decode("utf-8", errors="replace") or "unknown"
    if record.topic in DLQ_TOPICS:
        digest = hashlib.sha256(record.value).hexdigest()[:16]
        event_id = f"raw:{record.topic}:{record.partition}:{record.offset}:{digest}"
        return RawDeadLetter(record.topic, event_id, record.value, reason, lead_id), None
    dead = DeadLetter(
        lead_id=lead_id[:128],
        occurred_at=now,
        service="ops",
        topic=record.topic,
        reason=reason,
        message=message[:500],
        original_base64=base64.b64encode(record.value).decode(),
        detail={"partition": str(record.partition), "offset": str(record.offset)},
        failed_at=now,
    )
    return None, dead


class OpsConsumer:
    def __init__(self, repo: OpsRepository, clock: Clock, publish_dead_letter: Publish) -> None:
        self.repo = repo
        self.clock = clock
        self.publish_dead_letter = publish_dead_letter

    async def _until_done(self, step: str, op: Callable[[], Awaitable[T_]]) -> T_:
        """Retry ``op`` with capped backoff until it succeeds. The ack policy commits offsets even when a
        handler raises, so raising would lose the batch; cancellation (shutdown) stops without a commit."""
        delay = 0.2
        while True:
            try:
                return await op()
            except Exception as exc:
                log.warning("ops_step_failed_retrying", step=step, error=type(exc).__name__, retry_in=delay)
                await self.clock.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def handle(self, records: list[Record]) -> None:
        started = time.perf_counter()
        now = self.clock.now()
        items: list[Any] = []
        for record in records:
            EVENTS_IN.labels(service="ops", topic=record.topic).inc()
            event, dead = parse(record, now)
            if event is not None:
                items.append(event)
            if dead is not None:
                EVENTS_FAILED.labels(service="ops", topic=record.topic, reason=dead.reason).inc()
                log.warning("poison_message", topic=record.topic, reason=dead.reason, lead_id=dead.lead_id)
                await self._until_done(
                    "publish_dead_letter", functools.partial(self.publish_dead_letter, dead, T.LEADS_DEADLETTER)
                )
                EVENTS_OUT.labels(service="ops", topic=T.LEADS_DEADLETTER).inc()
        result = await self._until_done("apply", lambda: self.repo.apply(items, now))
        for topic, reason in result.dead_letters:
            DEAD_LETTERS.labels(topic=topic, reason=reason).inc()
        HANDLER_SECONDS.labels(service="ops", handler="read_models").observe(time.perf_counter() - started)


def raw_records(prefix: str) -> Callable[[Any], Awaitable[list[Record]]]:
    """A FastStream decoder that hands the handler the raw records (no JSON decoding before we can
    dead-letter a bad message)."""

    async def decode(msg: Any) -> list[Record]:
        raw = msg.raw_message
        records = raw if isinstance(raw, list | tuple) else (raw,)
        return [
            Record(
                topic=r.topic[len(prefix) :] if prefix and r.topic.startswith(prefix) else r.topic,
                value=r.value or b"",
                key=r.key,
                partition=r.partition,
                offset=r.offset,
            )
            for r in records
        ]

    return decode


def register(broker: KafkaBroker, settings: OpsSettings, consumer: OpsConsumer) -> None:
    topics = [settings.topic(name) for name in CONTRACTS]

    @broker.subscriber(
        *topics,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.batch_max_records,
        ack_policy=DEFAULT_ACK_POLICY,
        decoder=raw_records(settings.topic_prefix),
    )
    async def read_models(records: Any) -> None:
        await consumer.handle(records)
