"""Kafka record plumbing for the consumer runtime (``leadflow_platform.consumer``): the raw batch decoder,
the one validation-error formatter and the one dead-letter builder.

Records arrive raw (key, value, coordinates) and the runtime parses each contract once, so one poison
message is dead-lettered with its original bytes instead of failing the whole batch.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadflow_contracts import DeadLetter
from pydantic import ValidationError

JSON_HEADERS = {"content-type": "application/json"}
_DLQ_NS = uuid.UUID("0b7a1c52-6f0e-4a51-9d43-5f8a3c2e9b11")


@dataclass(frozen=True, slots=True)
class RawRecord:
    key: bytes | None
    value: bytes
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None
    """The record's timestamp (its producer's send time unless the topic sets LogAppendTime)."""


async def raw_batch_decoder(msg: Any) -> list[RawRecord]:
    """FastStream decoder for batch subscribers: the records as they came, nothing parsed."""
    return [
        RawRecord(r.key, r.value or b"", r.topic, r.partition, r.offset, getattr(r, "timestamp", None))
        for r in msg.raw_message
    ]


def validation_summary(err: ValidationError, limit: int = 5) -> str:
    """The one formatter for a contract validation error: ``loc: msg`` of the first few errors."""
    errors = err.errors(include_url=False, include_input=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:limit]]
    if len(errors) > limit:
        parts.append(f"(+{len(errors) - limit} more)")
    return "; ".join(parts) or str(err)


def dead_letter(
    service: str,
    record: RawRecord,
    reason: str,
    message: str,
    at: datetime,
    lead_id: str | None = None,
    retriable: bool = False,
) -> DeadLetter:
    """The one dead-letter builder for a consumed record. The event id is derived from the record's
    coordinates and the reason, so a redelivered record dead-letters under the same id (ops counts it once)."""
    key = record.key.decode("utf-8", "replace") if record.key else None
    return build_dead_letter(
        service,
        topic=record.topic,
        value=record.value,
        reason=reason,
        message=message,
        at=at,
        event_id=str(uuid.uuid5(_DLQ_NS, f"{service}:{record.topic}:{record.partition}:{record.offset}:{reason}")),
        lead_id=lead_id or key,
        retriable=retriable,
        detail={"partition": str(record.partition), "offset": str(record.offset)},
    )


def build_dead_letter(
    service: str,
    *,
    topic: str,
    value: bytes,
    reason: str,
    message: str,
    at: datetime,
    event_id: str,
    lead_id: str | None = None,
    retriable: bool = False,
    detail: Mapping[str, str] | None = None,
    not_in_salesforce: bool = False,
) -> DeadLetter:
    """Every ``DeadLetter`` is built here: ``dead_letter`` for a record by its coordinates, and a service's
    own decision about a parsed event (crm-sync: a value Salesforce refused, with the Salesforce error in
    ``detail`` and ``not_in_salesforce``) with an id the service derives from that event."""
    return DeadLetter(
        event_id=event_id,
        lead_id=(lead_id or "unknown")[:128],
        occurred_at=at,
        service=service,
        topic=topic,
        reason=reason,
        message=message[:2000],
        original_base64=base64.b64encode(value).decode(),
        retriable=retriable,
        detail=dict(detail or {}),
        failed_at=at,
        not_in_salesforce=not_in_salesforce,
    )
