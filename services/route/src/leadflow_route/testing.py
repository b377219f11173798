"""Builders for tests and benchmarks: reps, queues, a small routing config, scored and reassign events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from leadflow_contracts import (
    AccountMatch,
    CallbackWindow,
    ClientType,
    Enrichment,
    Grade,
    LeadRouted,
    LeadScored,
    LeadSourceKind,
    NormalizedLead,
    Rating,
    ReassignRequested,
    Score,
    SourceInfo,
    derive_event_id,
)

from leadflow_route.domain.config import RoutingConfig, parse_routing_config
from leadflow_route.domain.roster import Queue, Rep

MONDAY_10_UTC = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
"""A Monday, 11:00 in Oslo/Berlin: inside everyone's working hours in the sample roster."""

_ids = itertools.count(1)


def rep(
    id: str,
    *,
    team: str | None = "Nordics",
    role: str = "Seller",
    weight: float = 1.0,
    languages: tuple[str, ...] = ("no", "en"),
    timezone: str = "Europe/Oslo",
    hours: str | None = "Mon-Fri 08:00-16:00",
    active: bool = True,
    absent: bool = False,
    name: str | None = None,
) -> Rep:
    return Rep(
        id=id,
        name=name or id,
        username=f"{id.lower()}@example.test",
        role=role,
        team=team,
        languages=frozenset(languages),
        weight=weight,
        active=active,
        absent=absent,
        timezone=timezone,
        working_hours=hours,
    )


def queue(id: str, developer_name: str, name: str | None = None) -> Queue:
    return Queue(id=id, developer_name=developer_name, name=name or developer_name)


def sample_reps() -> list[Rep]:
    return [
        rep("HEAD", team=None, role="Head of Sales", hours="Mon-Fri 08:00-16:00"),
        rep("KAM1", team="Key Accounts", role="Key Account Manager"),
        rep("KAM2", team="Key Accounts", role="Key Account Manager", languages=("de", "en"), timezone="Europe/Berlin"),
        rep("FIN", team="Finance", role="Finance"),
        rep("NLEAD", role="Team Leader"),
        rep("N1", weight=1.0),
        rep("N2", weight=2.0),
        rep("N3", weight=3.0, languages=("sv", "en"), timezone="Europe/Stockholm"),
        rep("DLEAD", team="DACH", role="Team Leader", languages=("de",), timezone="Europe/Berlin"),
        rep("D1", team="DACH", languages=("de",), timezone="Europe/Berlin"),
        rep("D2", team="DACH", languages=("de", "en"), timezone="Europe/Berlin"),
    ]


def sample_queues() -> list[Queue]:
    return [
        queue("Q_NORD", "Queue_Nordics"),
        queue("Q_DACH", "Queue_DACH"),
        queue("Q_FIN", "Queue_Finance"),
        queue("Q_KA", "Queue_Key_Accounts"),
    ]


def sample_config(**overrides: Any) -> RoutingConfig:
    data: dict[str, Any] = {
        "version": "test-1",
        "default_team": "Nordics",
        "head_of_sales": "HEAD",
        "finance_queue": "Queue_Finance",
        "key_accounts": {"queue": "Queue_Key_Accounts"},
        "teams": {
            "Nordics": {
                "countries": ["NO", "SE"],
                "languages": ["no", "sv"],
                "leader": "NLEAD",
                "queue": "Queue_Nordics",
                "caps": {"per_hour": 100, "per_day": 500, "max_open": 1000},
            },
            "DACH": {
                "countries": ["DE", "AT", "CH"],
                "languages": ["de"],
                "leader": "DLEAD",
                "queue": "Queue_DACH",
                "caps": {"per_hour": 100, "per_day": 500, "max_open": 1000},
            },
        },
    }
    data.update(overrides)
    return parse_routing_config(data)


def scored_event(
    lead_id: str | None = None,
    *,
    country: str | None = "NO",
    language: str | None = "no",
    client_type: ClientType = ClientType.NEW,
    key_account: bool = False,
    owner_id: str | None = None,
    rating: Rating = Rating.HOT,
    lead_source: LeadSourceKind = LeadSourceKind.WEB_FORM,
    callback: CallbackWindow | None = None,
    timezone: str | None = None,
    at: datetime = MONDAY_10_UTC,
    event_id: str | None = None,
) -> LeadScored:
    lead_id = lead_id or f"lead-{next(_ids)}"
    lead = NormalizedLead(
        source_event_id=f"src-{lead_id}",
        submitted_at=at,
        accepted_at=at,
        source=SourceInfo(system="test"),
        lead_source=lead_source,
        country=country,
        language=language,
        company_name="Acme AS",
        callback=callback,
    )
    enrichment = Enrichment(
        match=AccountMatch(account_id="001X" if owner_id else None, owner_id=owner_id, key_account=key_account),
        client_type=client_type,
        timezone=timezone,
    )
    score = Score(score=80, fit=40, engagement=40, grade=Grade.A, rating=rating, ruleset_version="test")
    kwargs: dict[str, Any] = {"event_id": event_id or derive_event_id(f"src-{lead_id}", f"scored:{at.isoformat()}")}
    return LeadScored(lead_id=lead_id, occurred_at=at, lead=lead, enrichment=enrichment, score=score, **kwargs)


def reassign_event(
    routed: LeadRouted,
    *,
    target: Literal["any", "team_queue", "team_leader"] = "any",
    exclude: tuple[str, ...] = (),
    at: datetime = MONDAY_10_UTC,
    reason: str = "sla breached",
) -> ReassignRequested:
    return ReassignRequested(
        event_id=derive_event_id(routed.event_id, f"reassign:{target}:{','.join(exclude)}:{at.isoformat()}"),
        lead_id=routed.lead_id,
        occurred_at=at,
        trace=routed.trace,
        lead=routed.lead,
        enrichment=routed.enrichment,
        score=routed.score,
        reason=reason,
        requested_by="sla-monitor",
        exclude_owner_ids=exclude,
        target=target,
        escalation_step=1,
        previous_routing=routed,
    )


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "policies").is_dir() and (parent / "services").is_dir():
            return parent
    raise FileNotFoundError("repository root not found above " + str(here))
