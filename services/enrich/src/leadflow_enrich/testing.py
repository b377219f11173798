"""Factories for tests and benchmarks: accepted leads and mirror records with sensible defaults."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from leadflow_contracts import LeadAccepted, LeadSourceKind, NormalizedLead, SourceInfo, derive_event_id

from leadflow_enrich.domain.records import AccountRecord, ContactRecord, LeadRecord

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def normalized_lead(**fields: Any) -> NormalizedLead:
    email = fields.get("email")
    if email and "email_domain" not in fields:
        fields["email_domain"] = email.rsplit("@", 1)[1].lower()
    base: dict[str, Any] = {
        "source_event_id": "src-1",
        "submitted_at": T0,
        "accepted_at": T0,
        "source": SourceInfo(system="test"),
        "lead_source": LeadSourceKind.WEB_FORM,
    }
    base.update(fields)
    return NormalizedLead(**base)


def accepted(lead_id: str = "lead-1", event_id: str | None = None, **fields: Any) -> LeadAccepted:
    kwargs: dict[str, Any] = {
        "lead_id": lead_id,
        "occurred_at": fields.pop("occurred_at", T0),
        "lead": normalized_lead(**fields),
    }
    kwargs["event_id"] = event_id or derive_event_id(lead_id, f"accepted:{kwargs['occurred_at'].isoformat()}")
    return LeadAccepted(**kwargs)


def account(id: str, name: str, **fields: Any) -> AccountRecord:
    fields.setdefault("system_modstamp", T0)
    fields.setdefault("last_activity", date(2025, 12, 1))
    fields.setdefault("owner_id", "005OWNER")
    return AccountRecord(id=id, name=name, **fields)


def contact(id: str, account_id: str | None, email: str | None = None, **fields: Any) -> ContactRecord:
    fields.setdefault("system_modstamp", T0)
    return ContactRecord(id=id, account_id=account_id, email=email, **fields)


def sf_lead(id: str, email: str | None = None, **fields: Any) -> LeadRecord:
    fields.setdefault("system_modstamp", T0)
    fields.setdefault("status", "Open - Not Contacted")
    return LeadRecord(id=id, email=email, **fields)
