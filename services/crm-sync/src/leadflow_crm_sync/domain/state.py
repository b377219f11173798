"""What crm-sync remembers about each lead (held by the repository, decided on by the domain)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal


@dataclass(frozen=True)
class LeadState:
    lead_id: str
    salesforce_id: str | None = None
    object: Literal["Lead", "Contact"] = "Lead"
    mode: Literal["upsert", "update"] = "upsert"
    content_hash: str | None = None
    owner_id: str | None = None
    team: str | None = None
    rating: str | None = None
    lead_source: str | None = None
    submitted_at: datetime | None = None
    matched_account_id: str | None = None
    account_owner_id: str | None = None
    key_account: bool = False
    client_type: str | None = None
    company: str | None = None
    email: str | None = None
    campaign: str | None = None
    sla_status: str | None = None
    pending_sla_status: str | None = None
    converted: bool = False
    last_event_id: str | None = None

    @property
    def written(self) -> bool:
        return self.salesforce_id is not None

    def with_(self, **changes: Any) -> LeadState:
        return replace(self, **changes)
