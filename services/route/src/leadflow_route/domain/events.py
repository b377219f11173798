"""From contract events to routing requests, and from decisions back to a ``LeadRouted`` event."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from leadflow_contracts import (
    Assignment,
    LeadRouted,
    LeadScored,
    PoolMember,
    ReassignRequested,
    SlaTarget,
    TraceStep,
)

from leadflow_route.domain.routing import Decision, RoutingRequest
from leadflow_route.domain.sla import SlaInput

SERVICE = "route"
_NAMESPACE = uuid.UUID("6b0f4c1e-9a53-4f57-9d0e-2f8d6a3c1b7a")

Incoming = LeadScored | ReassignRequested


def routed_event_id(source_event_id: str) -> str:
    """Deterministic: a replayed input yields the same output id, so downstream dedup works."""
    return str(uuid.uuid5(_NAMESPACE, f"{SERVICE}:{source_event_id}"))


def _unique(ids: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in ids if i))


def previous_owners(event: Incoming, history: Sequence[str]) -> tuple[str, ...]:
    """Everyone who owned the lead before: our own history, the previous routing and the trace."""
    found: list[str | None] = list(history)
    if isinstance(event, ReassignRequested) and event.previous_routing is not None:
        a = event.previous_routing.assignment
        found += [*a.previous_owner_ids, a.owner_id]
        found += _trace_owners(event.previous_routing.trace)
    found += _trace_owners(event.trace)
    return _unique(found)


def _trace_owners(trace: Iterable[TraceStep]) -> list[str | None]:
    out: list[str | None] = []
    for step in trace:
        if step.service == SERVICE:
            owner = step.data.get("owner_id")
            out.append(owner if isinstance(owner, str) else None)
    return out


def routing_request(event: Incoming, history: Sequence[str]) -> RoutingRequest:
    lead, enrichment = event.lead, event.enrichment
    country = lead.country or enrichment.firmographics.country or lead.phone_country
    request = RoutingRequest(
        lead_id=event.lead_id,
        client_type=enrichment.client_type,
        country=country,
        language=lead.language,
        key_account=enrichment.match.key_account,
        account_owner_id=enrichment.match.owner_id,
        duplicate_owner_id=enrichment.duplicate_of.owner_id if enrichment.duplicate_of else None,
    )
    if isinstance(event, LeadScored):
        return request
    owners = previous_owners(event, history)
    team = event.previous_routing.assignment.team if event.previous_routing is not None else None
    return replace(
        request,
        exclude_owner_ids=frozenset(_unique([*event.exclude_owner_ids, *owners])),
        target=event.target,
        preferred_team=team,
        reassignment=True,
    )


def person_root(event: Incoming) -> str | None:
    """The person's first lead when this lead repeats it while it is in flight (enrich's identity claims)."""
    dup = event.enrichment.duplicate_of
    return dup.leadflow_id if dup is not None and dup.object == "Lead" and dup.leadflow_id else None


def person_owner(event: Incoming, root_owner: str | None, first_owner: str | None) -> tuple[str, str] | None:
    """(owner, why) the lead must follow so that one person has one owner, or None: route it by the policies.

    ``root_owner``: route's latest owner of the in-flight lead this one repeats (``person_root``), if routed;
    ``first_owner``: the owner a repeat got when it reached route before the person's first lead
    (``person_owners``), keyed by that first lead. The rule itself is ``Router._duplicate``'s.
    """
    root = person_root(event)
    if root is not None:
        if root_owner:
            return root_owner, f"same person as lead {root} (in flight)"
        if first_owner:
            return first_owner, f"same person as lead {root} (in flight; an earlier repeat was routed first)"
        return None  # the first of the person's leads to reach route: routed by the policies
    dup = event.enrichment.duplicate_of
    if dup is not None:
        return (dup.owner_id, f"duplicate of open {dup.object} {dup.record_id}") if dup.owner_id else None
    if isinstance(event, LeadScored) and first_owner:
        return first_owner, "the person's repeat reached route first and was routed"
    return None


def sla_input(event: Incoming, team: str | None) -> SlaInput:
    previous = None
    if isinstance(event, ReassignRequested) and event.previous_routing is not None:
        previous = event.previous_routing.sla
    return SlaInput(
        rating=event.score.rating.value,
        lead_source=event.lead.lead_source.value,
        client_type=event.enrichment.client_type.value,
        team=team,
        # the zone the prospect chose the callback time in, else the one enrich derived
        prospect_timezone=(event.lead.callback.timezone if event.lead.callback else None) or event.enrichment.timezone,
        callback=event.lead.callback,
        previous=previous,
    )


def reassignment_number(event: Incoming, history: Sequence[str]) -> int:
    if isinstance(event, LeadScored):
        return 0
    from_event = event.previous_routing.reassignment + 1 if event.previous_routing is not None else 1
    return max(from_event, len(history))


def routed_event(
    event: Incoming, decision: Decision, sla: SlaTarget, *, history: Sequence[str], now: datetime
) -> LeadRouted:
    owners = tuple(o for o in previous_owners(event, history) if o != decision.owner_id)
    reassignment = reassignment_number(event, history)
    step = TraceStep(
        service=SERVICE,
        decision=f"{decision.policy}:{decision.owner_type}",
        reason=decision.reason,
        at=now,
        data={
            "owner_id": decision.owner_id,
            "owner_type": decision.owner_type,
            "team": decision.team,
            "policy": decision.policy,
            "sla_policy": sla.policy,
            "first_touch_due": sla.first_touch_due.isoformat(),
            "reassignment": reassignment,
            "source_event_id": event.event_id,
            **decision.data,
        },
    )
    return LeadRouted(
        event_id=routed_event_id(event.event_id),
        lead_id=event.lead_id,
        occurred_at=now,
        trace=event.with_step(step),
        lead=event.lead,
        enrichment=event.enrichment,
        score=event.score,
        assignment=Assignment(
            owner_id=decision.owner_id,
            owner_type=decision.owner_type,
            owner_name=decision.owner_name,
            team=decision.team,
            policy=decision.policy,
            reason=decision.reason,
            previous_owner_ids=owners,
            round_robin=decision.round_robin,
            pool=tuple(PoolMember(user_id=rep_id, weight=weight) for rep_id, weight in decision.pool),
        ),
        sla=sla,
        reassignment=reassignment,
    )
