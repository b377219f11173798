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
from datetime import datetime

from leadflow_contracts import CrmChange, Firmographics, LeadAccepted, LeadEnriched
from leadflow_platform.clock import Clock
from leadflow_platform.kafka_io import Publisher, RawRecord, dead_letter, publish_events
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN, EVENTS_OUT, HANDLER_SECONDS
from pydantic import ValidationError

from leadflow_enrich.adapters.enricher import Enricher
from leadflow_enrich.adapters.identity_claims import IdentityClaims
from leadflow_enrich.domain.duplicates import DuplicateDecision, find_duplicate
from leadflow_enrich.domain.enrich import SERVICE, enrich
from leadflow_enrich.domain.firmographics import reference_domains
from leadflow_enrich.domain.identity import Candidate, identity_keys
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
    identities: IdentityClaims | None = None
    """In-flight identity claims (shared by the replicas); None = the mirror alone decides duplicates."""

    async def _duplicates(self, events: Sequence[tuple[RawRecord, LeadAccepted]],
                          now: datetime) -> dict[str, DuplicateDecision]:
        """The mirror's duplicate decision per lead, completed by the in-flight claims (see domain.identity)."""
        decided: dict[str, DuplicateDecision] = {}
        candidates: list[Candidate] = []
        for _, ev in events:
            found = find_duplicate(ev.lead_id, ev.lead, self.index)
            decided[ev.lead_id] = found
            # a lead the mirror already resolves, or whose own Lead is already in Salesforce, claims nothing
            resolved = found.duplicate is not None or ev.lead_id in self.index.lead_by_leadflow_id
            candidates.append(Candidate(ev.lead_id, identity_keys(ev.lead), resolved))
        if self.identities is None:
            return decided
        plan = await self.identities.resolve(candidates, self.index.leadflow_lead_is_live, now)
        for lead_id, in_flight in plan.duplicates.items():
            decided[lead_id] = DuplicateDecision(
                in_flight.duplicate_of(),
                f"same {in_flight.on} as lead {in_flight.root}, still on its way to Salesforce (in-flight identity)")
        return decided

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
        duplicates = await self._duplicates(events, now)  # DB errors propagate: the batch is redelivered
        out: list[LeadEnriched] = []
        for rec, ev in events:
            try:
                out.append(enrich(ev, self.index, self.policy, reference, now, duplicates.get(ev.lead_id)))
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
