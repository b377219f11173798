"""The enrich use case for a batch of ``leads.accepted`` records: parse, enrich, publish, dead-letter.

Nothing is dropped: a record that is not a valid ``LeadAccepted`` (or that the domain code fails on) goes
to ``leads.deadletter`` with the reason and its original bytes; everything else is published to
``leads.enriched``. If publishing fails, the exception propagates and the batch is redelivered (offsets are
committed only after the handler returns); the enriched event id is derived from the accepted event id,
so a redelivery republishes the same events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from leadflow_contracts import CrmChange, Firmographics, LeadAccepted, LeadEnriched
from leadflow_platform.clock import Clock
from leadflow_platform.kafka_io import Publisher, RawRecord, dead_letter, publish_events
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN, EVENTS_OUT, HANDLER_SECONDS
from pydantic import ValidationError

from leadflow_enrich.adapters.enricher import Enricher
from leadflow_enrich.domain.enrich import SERVICE, enrich
from leadflow_enrich.domain.firmographics import reference_domains
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.policy import EnrichPolicy
from leadflow_enrich.mirror import Mirror

log = get_logger(__name__)


@dataclass
class EnrichPipeline:
    index: MirrorIndex
    policy: EnrichPolicy
    enricher: Enricher
    clock: Clock
    enriched: Publisher
    deadletter: Publisher
    source_topic: str = "leads.accepted"

    async def handle(self, records: Sequence[RawRecord]) -> list[LeadEnriched]:
        started = time.perf_counter()
        now = self.clock.now()
        EVENTS_IN.labels(SERVICE, self.source_topic).inc(len(records))
        events: list[tuple[RawRecord, LeadAccepted]] = []
        dead = []
        for rec in records:
            try:
                events.append((rec, LeadAccepted.model_validate_json(rec.value)))
            except ValidationError as e:
                dead.append(dead_letter(SERVICE, rec, "invalid_event", _summary(e), now))
        domains: set[str] = set()
        for _, ev in events:
            domains.update(reference_domains(ev.lead, self.index.free_mail))
        reference: dict[str, Firmographics] = await self.enricher.lookup(domains) if domains else {}
        out: list[LeadEnriched] = []
        for rec, ev in events:
            try:
                out.append(enrich(ev, self.index, self.policy, reference, now))
            except Exception as e:  # a bug for one lead must not stop the partition
                log.exception("enrich_failed", lead_id=ev.lead_id, event_id=ev.event_id)
                dead.append(dead_letter(SERVICE, rec, "processing_error", f"{type(e).__name__}: {e}", now,
                                        lead_id=ev.lead_id))
        await publish_events(self.enriched, out)
        if dead:
            await publish_events(self.deadletter, dead)
            for d in dead:
                EVENTS_FAILED.labels(SERVICE, self.source_topic, d.reason).inc()
                log.warning("lead_dead_lettered", lead_id=d.lead_id, reason=d.reason, detail=d.message[:300])
        EVENTS_OUT.labels(SERVICE, "leads.enriched").inc(len(out))
        HANDLER_SECONDS.labels(SERVICE, "accepted_batch").observe(time.perf_counter() - started)
        log.debug("leads_enriched", received=len(records), published=len(out), dead_lettered=len(dead),
                  matched=sum(1 for e in out if e.enrichment.match.account_id),
                  duplicates=sum(1 for e in out if e.enrichment.duplicate_of))
        return out


def _summary(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        parts.append(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}")
    return "; ".join(parts)


@dataclass
class ChangesPipeline:
    """``crm.changes`` records -> the mirror. Invalid records are dead-lettered; DB errors propagate (redelivery)."""

    mirror: Mirror
    clock: Clock
    deadletter: Publisher
    source_topic: str = "crm.changes"

    async def handle(self, records: Sequence[RawRecord]) -> int:
        started = time.perf_counter()
        now = self.clock.now()
        EVENTS_IN.labels(SERVICE, self.source_topic).inc(len(records))
        changes: list[CrmChange] = []
        dead = []
        for rec in records:
            try:
                changes.append(CrmChange.model_validate_json(rec.value))
            except ValidationError as e:
                dead.append(dead_letter(SERVICE, rec, "invalid_event", _summary(e), now))
        applied = await self.mirror.apply_changes(changes)
        if dead:
            await publish_events(self.deadletter, dead)
            for d in dead:
                EVENTS_FAILED.labels(SERVICE, self.source_topic, d.reason).inc()
                log.warning("change_dead_lettered", lead_id=d.lead_id, reason=d.reason, detail=d.message[:300])
        HANDLER_SECONDS.labels(SERVICE, "crm_changes_batch").observe(time.perf_counter() - started)
        if applied:
            log.info("mirror_changes_applied", received=len(records), applied=applied)
        return applied
