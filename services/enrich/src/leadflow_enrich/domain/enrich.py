"""Enrich one accepted lead: match, duplicates, client type, firmographics, time zone — each with a reason.

Pure: the mirror index, the policy, the firmographics found for the lead's domains and the time come in;
a ``LeadEnriched`` event with its trace comes out. The event id is derived from the input event id, so
a redelivered message produces the same event (consumers de-duplicate on it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from leadflow_contracts import Enrichment, Firmographics, LeadAccepted, LeadEnriched, TraceStep

from leadflow_enrich.domain.client_type import classify
from leadflow_enrich.domain.duplicates import DuplicateDecision, find_duplicate
from leadflow_enrich.domain.firmographics import choose_firmographics, reference_domains
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.matching import match_account
from leadflow_enrich.domain.policy import EnrichPolicy
from leadflow_enrich.domain.timezones import timezone_for

SERVICE = "enrich"
_EVENT_NS = uuid.UUID("8f4d7c3e-2b1a-4c5d-9e6f-0a1b2c3d4e5f")


def enriched_event_id(accepted_event_id: str) -> str:
    return str(uuid.uuid5(_EVENT_NS, "enrich:" + accepted_event_id))


def enrich(
    event: LeadAccepted,
    index: MirrorIndex,
    policy: EnrichPolicy,
    reference: Mapping[str, Firmographics],
    at: datetime,
    duplicate: DuplicateDecision | None = None,
) -> LeadEnriched:
    """``duplicate``: the decision already made (e.g. an in-flight duplicate); None = ask the mirror."""
    at = at.astimezone(UTC)
    lead = event.lead
    matched = match_account(lead, index, policy.matching)
    duplicate = duplicate or find_duplicate(event.lead_id, lead, index)
    client = classify(matched.account, lead.submitted_at.date(), policy.client_type)
    domains = reference_domains(lead, index.free_mail)
    ref_domain = next((d for d in domains if d in reference), None)
    firmo = choose_firmographics(reference.get(ref_domain) if ref_domain else None, ref_domain, matched.account, lead)
    tz = timezone_for(lead.phone_e164, lead.country, lead.region, policy)
    m = matched.match
    steps = (
        TraceStep(
            service=SERVICE,
            decision="account_match",
            reason=matched.reason,
            at=at,
            data={
                "account_id": m.account_id,
                "method": m.method.value,
                "confidence": m.confidence,
                "candidates": m.candidates,
                "policy": policy.version,
            },
        ),
        TraceStep(
            service=SERVICE,
            decision="duplicate_check",
            reason=duplicate.reason,
            at=at,
            data={
                "object": duplicate.duplicate.object if duplicate.duplicate else None,
                "record_id": duplicate.duplicate.record_id if duplicate.duplicate else None,
                "in_flight": bool(duplicate.duplicate and duplicate.duplicate.leadflow_id),
            },
        ),
        TraceStep(
            service=SERVICE,
            decision="client_type",
            reason=client.reason,
            at=at,
            data={"client_type": client.client_type.value},
        ),
        TraceStep(
            service=SERVICE,
            decision="firmographics",
            reason=firmo.reason,
            at=at,
            data={"source": firmo.firmographics.source, "size_band": firmo.firmographics.size_band},
        ),
        TraceStep(service=SERVICE, decision="timezone", reason=tz.reason, at=at, data={"timezone": tz.timezone}),
    )
    return LeadEnriched(
        event_id=enriched_event_id(event.event_id),
        lead_id=event.lead_id,
        occurred_at=at,
        trace=(*event.trace, *steps),
        lead=lead,
        enrichment=Enrichment(
            match=m,
            duplicate_of=duplicate.duplicate,
            client_type=client.client_type,
            firmographics=firmo.firmographics,
            timezone=tz.timezone,
        ),
    )
