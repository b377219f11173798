"""The envelope every leadflow event shares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC. Naive datetimes are refused."""


class Contract(BaseModel):
    """Base of every contract model: immutable; unknown fields from newer producers are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class TraceStep(Contract):
    """One decision made about a lead, kept with the lead for audit."""

    service: str
    decision: str
    reason: str
    at: UtcDatetime
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


EVENT_ID_NAMESPACE = uuid.UUID("5b0f3c0e-7d55-4c8e-9a7e-2f1c6d4b8a90")


def derive_event_id(source_event_id: str, operation: str) -> str:
    """A deterministic event id: the same source event and operation always give the same id, so a
    redelivery after a crash republishes the same event and every consumer counts it once."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_event_id}:{operation}"))


class Event(Contract):
    """Envelope: ``event_id`` (idempotency key), ``lead_id`` (Kafka key), time, version, decisions so far.

    ``event_id`` has no default: every producer derives it from what caused the event (the source event id
    and the operation, e.g. ``derive_event_id``), never at random, so redeliveries are recognised."""

    event_id: str = Field(
        min_length=1,
        max_length=128,
        description="Idempotency key, derived from the source event and the operation (never random).",
    )
    lead_id: str = Field(min_length=1, max_length=128)
    occurred_at: UtcDatetime
    schema_version: int = 1
    trace: tuple[TraceStep, ...] = ()

    def kafka_key(self) -> bytes:
        return self.lead_id.encode()

    def with_step(self, step: TraceStep) -> tuple[TraceStep, ...]:
        """The trace to carry forward with ``step`` appended."""
        return (*self.trace, step)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()
