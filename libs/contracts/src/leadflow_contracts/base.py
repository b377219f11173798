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


def new_event_id() -> str:
    return str(uuid.uuid4())


class Event(Contract):
    """Envelope: ``event_id`` (idempotency key), ``lead_id`` (Kafka key), time, version, decisions so far."""

    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=128)
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
