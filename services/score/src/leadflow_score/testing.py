"""Factories for tests and benchmarks: enriched leads with sensible defaults, and a fake model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from leadflow_contracts import (
    ClientType,
    Engagement,
    Enrichment,
    Firmographics,
    LeadEnriched,
    LeadSourceKind,
    ModelScore,
    NormalizedLead,
    SourceInfo,
    derive_event_id,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def enriched(
    lead_id: str = "lead-1",
    *,
    at: datetime = T0,
    client_type: ClientType = ClientType.NEW,
    firmographics: Firmographics | None = None,
    event_id: str | None = None,
    **lead: Any,
) -> LeadEnriched:
    base: dict[str, Any] = {
        "source_event_id": "src-1",
        "submitted_at": lead.pop("submitted_at", at),
        "accepted_at": at,
        "source": SourceInfo(system="test"),
        "lead_source": LeadSourceKind.WEB_FORM,
    }
    if isinstance(lead.get("engagement"), dict):
        lead["engagement"] = Engagement(**lead["engagement"])
    base.update(lead)
    kwargs: dict[str, Any] = {
        "lead_id": lead_id,
        "occurred_at": at,
        "lead": NormalizedLead(**base),
        "enrichment": Enrichment(client_type=client_type, firmographics=firmographics or Firmographics()),
    }
    kwargs["event_id"] = event_id or derive_event_id(lead_id, f"enriched:{at.isoformat()}")
    return LeadEnriched(**kwargs)


class FakeModel:
    """A hand-written model: a fixed probability per lead id (None = no opinion); records every call."""

    def __init__(
        self, probabilities: dict[str, float | None], version: str = "fake-1", fail: Exception | None = None
    ) -> None:
        self.probabilities = probabilities
        self.version = version
        self.fail = fail
        self.calls: list[list[str]] = []

    def score_batch(self, leads: Sequence[LeadEnriched]) -> list[ModelScore | None]:
        self.calls.append([e.lead_id for e in leads])
        if self.fail is not None:
            raise self.fail
        out: list[ModelScore | None] = []
        for e in leads:
            p = self.probabilities.get(e.lead_id)
            out.append(None if p is None else ModelScore(model_version=self.version, probability=p))
        return out
