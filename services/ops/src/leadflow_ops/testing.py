"""Event factories and a users-file writer for ops tests and the benchmark (no I/O at import)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow_contracts import (
    Assignment,
    ChangeType,
    CrmChange,
    CrmSynced,
    DeadLetter,
    Enrichment,
    Grade,
    LeadRejected,
    LeadRouted,
    LeadSourceKind,
    NormalizedLead,
    PoolMember,
    Rating,
    RejectionReason,
    Score,
    SlaEvent,
    SlaEventKind,
    SlaTarget,
    SourceInfo,
    SyncOperation,
    derive_event_id,
)

from leadflow_ops.auth import hash_password

TEST_PASSWORDS = {"olivia": "operator-pass", "victor": "viewer-pass"}


def write_users(path: Path, iterations: int = 1000) -> Path:
    """A users file with an operator (olivia) and a viewer (victor); cheap hashes for fast tests."""
    lines = ["version: 1", "users:"]
    for name, role in (("olivia", "operator"), ("victor", "viewer")):
        lines += [
            f"  - username: {name}",
            f"    role: {role}",
            f'    password_hash: "{hash_password(TEST_PASSWORDS[name], iterations=iterations)}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def routed(
    lead_id: str,
    at: datetime,
    *,
    team: str = "Inbound DACH",
    rating: str = "Hot",
    owner_id: str = "005REP0000000001",
    owner_type: str = "user",
    owner_name: str | None = "Rep One",
    policy: str = "hot-15m",
    source: str = "web_form",
    submitted_delay: float = 30.0,
    due_in: float = 900.0,
    reassignment: int = 0,
    event_id: str | None = None,
    round_robin: bool = False,
    pool: Sequence[tuple[str, float]] = (),
) -> LeadRouted:
    submitted = at - timedelta(seconds=submitted_delay)
    lead = NormalizedLead(
        source_event_id="src-" + lead_id,
        submitted_at=submitted,
        accepted_at=submitted + timedelta(seconds=1),
        source=SourceInfo(system="test-forms"),
        lead_source=LeadSourceKind(source),
        first_name="Anna",
        last_name="Schmidt",
        email="anna.schmidt@example.com",
        phone_e164="+4930123456789",
        country="DE",
    )
    kwargs: dict[str, Any] = {
        "event_id": event_id
        or derive_event_id(f"src-{lead_id}", f"routed:{at.isoformat()}:{owner_id}:{team}:{reassignment}")
    }
    return LeadRouted(
        lead_id=lead_id,
        occurred_at=at,
        lead=lead,
        enrichment=Enrichment(),
        score=Score(score=80, fit=40, engagement=40, grade=Grade.A, rating=Rating(rating), ruleset_version="t1"),
        assignment=Assignment(
            owner_id=owner_id,
            owner_type=owner_type,
            owner_name=owner_name,
            team=team,
            policy=policy,
            reason="test",
            round_robin=round_robin,
            pool=tuple(PoolMember(user_id=u, weight=w) for u, w in pool),
        ),
        sla=SlaTarget(policy=policy, first_touch_due=at + timedelta(seconds=due_in), calendar="24x7", timezone="UTC"),
        reassignment=reassignment,
        **kwargs,
    )


def synced(
    lead_id: str,
    at: datetime,
    *,
    owner_id: str = "005REP0000000001",
    sf_id: str = "00Q000000000001AAA",
    submitted_at: datetime | None = None,
) -> CrmSynced:
    return CrmSynced(
        event_id=derive_event_id(f"src-{lead_id}", f"synced:{at.isoformat()}:{sf_id}:{owner_id}"),
        lead_id=lead_id,
        occurred_at=at,
        salesforce_id=sf_id,
        operation=SyncOperation.CREATED,
        owner_id=owner_id,
        submitted_at=submitted_at,
    )


def sla(
    lead_id: str,
    kind: str,
    at: datetime,
    *,
    due_at: datetime,
    started_at: datetime | None = None,
    clock: str = "first_touch",
    policy: str = "hot-15m",
    owner_id: str | None = "005REP0000000001",
    team: str | None = "Inbound DACH",
    rating: str | None = "Hot",
    step: int = 0,
    action: str | None = None,
    event_id: str | None = None,
) -> SlaEvent:
    kwargs: dict[str, Any] = {
        "event_id": event_id or derive_event_id(f"src-{lead_id}", f"sla:{clock}:{kind}:{step}:{at.isoformat()}")
    }
    return SlaEvent(
        lead_id=lead_id,
        occurred_at=at,
        kind=SlaEventKind(kind),
        clock=clock,
        policy=policy,
        due_at=due_at,
        owner_id=owner_id,
        team=team,
        rating=rating,
        lead_source="web_form",
        started_at=started_at or due_at - timedelta(minutes=15),
        met_by=owner_id if kind == "met" else None,
        met_how="task:Call" if kind == "met" else None,
        escalation_step=step,
        escalation_action=action,
        **kwargs,
    )


def user_change(
    user_id: str,
    at: datetime,
    *,
    name: str,
    team: str,
    weight: float = 1.0,
    absent: bool = False,
    active: bool = True,
    role: str = "Seller",
) -> CrmChange:
    return CrmChange(
        event_id=derive_event_id(user_id, f"change:{at.isoformat()}:{name}:{team}:{weight}:{absent}:{active}:{role}"),
        lead_id=user_id,
        occurred_at=at,
        object="User",
        record_id=user_id,
        change_type=ChangeType.UPDATED,
        record={
            "Name": name,
            "Team__c": team,
            "Weight__c": weight,
            "Is_Absent__c": absent,
            "IsActive": active,
            "Role_Name__c": role,
        },
        changed_at=at,
        system_modstamp=at,
    )


SUBMISSION = {
    "event_id": "sub-0001",
    "occurred_at": "2026-01-05T09:00:00Z",
    "source": {"system": "test-forms"},
    "person": {
        "first_name": "Anna",
        "last_name": "Schmidt",
        "email": "anna.schmidt@example",
        "phone": "+49 30 1234567",
    },
    "company": {"name": "Beispiel GmbH", "country": "DE"},
}


def rejected(
    lead_id: str,
    at: datetime,
    payload: dict[str, Any] | None = None,
    *,
    reason: str = "invalid_email",
    event_id: str | None = None,
) -> LeadRejected:
    body = json.dumps(payload or SUBMISSION).encode()
    kwargs: dict[str, Any] = {
        "event_id": event_id or derive_event_id(f"src-{lead_id}", f"rejected:{reason}:{at.isoformat()}")
    }
    return LeadRejected(
        lead_id=lead_id,
        occurred_at=at,
        reason=RejectionReason(reason),
        message="person.email: not a valid e-mail address",
        field="person.email",
        original_base64=base64.b64encode(body).decode(),
        **kwargs,
    )


def dead_letter(
    lead_id: str,
    at: datetime,
    raw: bytes,
    *,
    topic: str = "leads.scored",
    service: str = "route",
    reason: str = "schema_violation",
) -> DeadLetter:
    return DeadLetter(
        event_id=derive_event_id(f"src-{lead_id}", f"deadletter:{service}:{topic}:{reason}:{at.isoformat()}:{raw!r}"),
        lead_id=lead_id,
        occurred_at=at,
        service=service,
        topic=topic,
        reason=reason,
        message="score.rating: Input should be 'Hot', 'Warm' or 'Cold'",
        original_base64=base64.b64encode(raw).decode(),
    )
