"""Thin subscriber: parse contract events, call the route service, publish ``LeadRouted`` keyed by lead_id.

One batch subscriber reads ``leads.scored``, ``leads.reassign`` and ``crm.changes`` (one consumer,
one group join). Bytes that are not a valid contract event go to ``leads.deadletter`` with the
reason and the original bytes. A database or publish failure is retried (with backoff) rather than
raised: the ack policy commits offsets when the handler ends, even with an exception, so raising would
skip the batch. Republishing is harmless: a lead's ``LeadRouted`` always has the same event id.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker
from leadflow_contracts import CrmChange, DeadLetter, LeadScored, ReassignRequested, topics
from leadflow_platform.broker import DEFAULT_ACK_POLICY
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN, EVENTS_OUT, HANDLER_SECONDS
from prometheus_client import Counter
from pydantic import ValidationError

from leadflow_route.domain.events import Incoming
from leadflow_route.service import RouteService
from leadflow_route.settings import RouteSettings

log = get_logger(__name__)
SERVICE = "route"
JSON_HEADERS = {"content-type": "application/json"}
DECISIONS = Counter("leadflow_route_decisions_total", "Routing decisions", ["policy", "owner_type"])


@dataclass(frozen=True)
class RawRecord:
    topic: str
    key: bytes | None
    value: bytes


def raw_records(msg: Any) -> list[RawRecord]:
    """Custom decoder: keep every record's topic, key and bytes (no JSON decoding by the framework)."""
    raw = msg.raw_message
    records = raw if isinstance(raw, tuple | list) else (raw,)
    return [RawRecord(r.topic, r.key, r.value or b"") for r in records]


class RouteHandlers:
    def __init__(self, broker: KafkaBroker, service: RouteService, settings: RouteSettings, clock: Clock) -> None:
        self.broker = broker
        self.service = service
        self.settings = settings
        self.clock = clock
        self.t_scored = settings.topic(topics.LEADS_SCORED)
        self.t_reassign = settings.topic(topics.LEADS_REASSIGN)
        self.t_changes = settings.topic(topics.CRM_CHANGES)
        self.t_routed = settings.topic(topics.LEADS_ROUTED)
        self.t_dead = settings.topic(topics.LEADS_DEADLETTER)

    def register(self) -> None:
        subscriber = self.broker.subscriber(
            self.t_scored, self.t_reassign, self.t_changes,
            group_id=self.settings.consumer_group,
            auto_offset_reset="earliest",
            batch=True,
            max_records=self.settings.batch_max_records,
            batch_timeout_ms=self.settings.batch_timeout_ms,
            ack_policy=DEFAULT_ACK_POLICY,
            decoder=raw_records,
        )
        subscriber(self.on_batch)

    async def on_batch(self, records: list[Any]) -> None:
        started = time.perf_counter()
        leads: list[tuple[Incoming, RawRecord]] = []
        changes: list[CrmChange] = []
        dead: list[DeadLetter] = []
        for record in records:
            EVENTS_IN.labels(SERVICE, record.topic).inc()
            try:
                if record.topic == self.t_scored:
                    leads.append((LeadScored.model_validate_json(record.value), record))
                elif record.topic == self.t_reassign:
                    leads.append((ReassignRequested.model_validate_json(record.value), record))
                elif record.topic == self.t_changes:
                    changes.append(CrmChange.model_validate_json(record.value))
            except ValidationError as exc:
                dead.append(self._dead_letter(record, "invalid_event", _first_error(exc)))
        if leads:
            result = await self._retrying("route", lambda: self.service.route([e for e, _ in leads]))
            by_id = {e.event_id: r for e, r in leads}
            for event_id, reason in result.failed:
                dead.append(self._dead_letter(by_id[event_id], "no_owner", reason))
            await self._retrying("publish", lambda: self._publish(self.t_routed, result.published))
            for routed in result.routed:
                DECISIONS.labels(routed.assignment.policy, routed.assignment.owner_type).inc()
                log.info("lead_routed", lead_id=routed.lead_id, owner_id=routed.assignment.owner_id,
                         owner_type=routed.assignment.owner_type, team=routed.assignment.team,
                         policy=routed.assignment.policy, reason=routed.assignment.reason,
                         sla_policy=routed.sla.policy, first_touch_due=routed.sla.first_touch_due.isoformat())
            if result.replays:
                log.info("replays_republished", count=result.replays)
        if changes:
            await self._retrying("changes", lambda: self.service.apply_changes(changes))
        if dead:
            letters = [(d.lead_id, d.to_json_bytes()) for d in dead]
            await self._retrying("publish", lambda: self._publish(self.t_dead, letters))
        HANDLER_SECONDS.labels(SERVICE, "batch").observe(time.perf_counter() - started)

    async def _retrying(self, what: str, call: Any) -> Any:
        delay = 0.1
        while True:
            try:
                return await call()
            except Exception as exc:
                log.warning("batch_retry", what=what, error=f"{type(exc).__name__}: {exc}", delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)

    async def _publish(self, topic: str, messages: Sequence[tuple[str, bytes]]) -> None:
        """Hand every message to the producer first (``no_confirm``), then await all acknowledgements together:
        the producer batches them, and a failure raises here, before the offsets are committed."""
        if not messages:
            return
        pending: list[asyncio.Future[Any]] = []
        for lead_id, payload in messages:
            sent = await self.broker.publish(payload, topic, key=lead_id.encode(), headers=JSON_HEADERS,
                                             no_confirm=True)
            if asyncio.isfuture(sent):  # TestKafkaBroker delivers synchronously and returns no future
                pending.append(sent)
        if pending:
            await asyncio.gather(*pending)
        EVENTS_OUT.labels(SERVICE, topic).inc(len(messages))

    def _dead_letter(self, record: RawRecord, reason: str, message: str) -> DeadLetter:
        EVENTS_FAILED.labels(SERVICE, record.topic, reason).inc()
        lead_id = (record.key or b"").decode(errors="replace") or "unknown"
        log.warning("dead_lettered", lead_id=lead_id, topic=record.topic, reason=reason, detail=message[:300])
        now = self.clock.now()
        return DeadLetter(
            lead_id=lead_id[:128], occurred_at=now, service=SERVICE, topic=record.topic, reason=reason,
            message=message[:2000], original_base64=base64.b64encode(record.value).decode(), failed_at=now,
        )


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    e = errors[0]
    where = ".".join(str(p) for p in e.get("loc", ())) or "<root>"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {e.get('msg')}{more}"
