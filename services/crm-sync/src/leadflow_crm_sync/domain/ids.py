"""Deterministic Salesforce keys derived from leadflow ids (so every write can be replayed safely)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, date, datetime

LEAD_EXTERNAL_ID = "Leadflow_Id__c"
TASK_EXTERNAL_ID = "Leadflow_Task_Id__c"
_LEAD_EXT_MAX = 64
_SAFE = re.compile(r"^[A-Za-z0-9_.:\-]+$")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def lead_external_id(lead_id: str) -> str:
    """``Leadflow_Id__c`` for a lead: the lead id itself when it fits the field, else a stable hash."""
    if len(lead_id) <= _LEAD_EXT_MAX and _SAFE.match(lead_id):
        return lead_id
    return "h-" + _digest(lead_id)[: _LEAD_EXT_MAX - 2]


def task_external_id(lead_id: str, purpose: str, discriminator: str = "") -> str:
    """``Leadflow_Task_Id__c`` (≤ 80 chars): one Task per (lead, purpose, discriminator), ever."""
    return f"{purpose[:20]}-" + _digest(f"{lead_id}|{purpose}|{discriminator}")[:48]


def sf_datetime(value: datetime) -> str:
    """Salesforce REST datetime: ``2024-05-01T12:34:56.000+0000``."""
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}+0000"


def sf_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return value.isoformat()


_EVENT_NS = uuid.UUID("0b6f6f53-7c1c-4d1e-9a55-6c65616466c0")


def derived_event_id(source_event_id: str, operation: str) -> str:
    """The id of an event crm-sync publishes about ``source_event_id``: the same on every redelivery.

    The one place crm-sync makes event ids (a shared rule may replace it).
    """
    return str(uuid.uuid5(_EVENT_NS, f"crm-sync|{source_event_id}|{operation}"))


def is_user_id(record_id: str | None) -> bool:
    return bool(record_id) and str(record_id).startswith("005")


def is_queue_id(record_id: str | None) -> bool:
    return bool(record_id) and str(record_id).startswith("00G")
