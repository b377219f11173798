"""The enrich use cases over the platform consumer runtime (records parsed once by the runtime).

``EnrichService``: a batch of ``LeadAccepted`` → one ``LeadEnriched`` each (account match, duplicates
including identities in flight, client type, firmographics, time zone). A lead the domain code fails on
raises: the runtime isolates it and dead-letters it when it fails the same way twice; a database error
propagates and the batch is redelivered. The enriched event id is derived from the accepted event id, so a
redelivery republishes the same events.

``ChangesService``: ``crm.changes`` → the Salesforce mirror (tables, then the in-memory index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadflow_contracts import CrmChange, Firmographics, LeadAccepted
from leadflow_platform.consumer import Batch, Outgoing
from leadflow_platform.logging import get_logger

from leadflow_enrich.adapters.enricher import Enricher
from leadflow_enrich.adapters.identity_claims import IdentityClaims
from leadflow_enrich.domain.duplicates import DuplicateDecision, find_duplicate
from leadflow_enrich.domain.enrich import enrich
from leadflow_enrich.domain.firmographics import reference_domains
from leadflow_enrich.domain.identity import Candidate, identity_keys
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.policy import EnrichPolicy
from leadflow_enrich.mirror import Mirror

log = get_logger(__name__)


@dataclass
class EnrichService:
    index: MirrorIndex
    policy: EnrichPolicy
    enricher: Enricher
    enriched_topic: str = "leads.enriched"
    identities: IdentityClaims | None = None
    """In-flight identity claims (shared by the replicas); None = the mirror alone decides duplicates."""

    async def _duplicates(self, events: Sequence[LeadAccepted], now: datetime) -> dict[str, DuplicateDecision]:
        """The mirror's duplicate decision per lead, completed by the in-flight claims (see domain.identity)."""
        decided: dict[str, DuplicateDecision] = {}
        candidates: list[Candidate] = []
        for ev in events:
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
                f"same {in_flight.on} as lead {in_flight.root}, still on its way to Salesforce (in-flight identity)",
            )
        return decided

    async def __call__(self, batch: Batch) -> list[Outgoing]:
        """LeadAccepted -> LeadEnriched (account match, duplicates, client type, firmographics, time zone)."""
        events: list[LeadAccepted] = [item.event for item in batch.items]
        domains: set[str] = set()
        for ev in events:
            domains.update(reference_domains(ev.lead, self.index.free_mail))
        reference: dict[str, Firmographics] = await self.enricher.lookup(domains) if domains else {}
        duplicates = await self._duplicates(events, batch.now)  # DB errors propagate: the batch is redelivered
        out = [enrich(ev, self.index, self.policy, reference, batch.now, duplicates.get(ev.lead_id)) for ev in events]
        log.debug(
            "leads_enriched",
            published=len(out),
            matched=sum(1 for e in out if e.enrichment.match.account_id),
            duplicates=sum(1 for e in out if e.enrichment.duplicate_of),
        )
        return [Outgoing.of(self.enriched_topic, e) for e in out]


@dataclass
class ChangesService:
    """``crm.changes`` -> the mirror. DB errors propagate (redelivery)."""

    mirror: Mirror

    async def __call__(self, batch: Batch) -> list[Outgoing]:
        """CrmChange -> the Salesforce mirror (tables, then the in-memory index)."""
        changes: list[CrmChange] = [item.event for item in batch.items]
        applied = await self.mirror.apply_changes(changes)
        if applied:
            log.debug("mirror_changes_applied", received=len(changes), applied=applied)
        return []
