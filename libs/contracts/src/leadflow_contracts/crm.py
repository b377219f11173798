"""Events about Salesforce: what leadflow wrote (``CrmSynced``) and what changed there (``CrmChange``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from leadflow_contracts.base import Contract, Event, UtcDatetime


class SyncOperation(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CONVERTED = "converted"
    SLA_STATUS = "sla_status"


class DroppedField(Contract):
    """A value Salesforce refused, or would refuse: the record was written without it, or (``cut``) with the
    longest start of it the field stores. The whole value is kept for the rep in Salesforce
    (``Lead.Leadflow_Dropped_Fields__c``), not in this event."""

    field: str = Field(description="The Salesforce field name, e.g. Email.")
    reason: str = Field(description="Salesforce's statusCode, e.g. INVALID_EMAIL_ADDRESS or STRING_TOO_LONG.")
    message: str = Field(default="", description="Why, without the refused value.")
    cut: bool = Field(
        default=False,
        description="True: not left out but written cut to the field's length (a long name, title or company).",
    )


class CrmSynced(Event):
    salesforce_id: str
    object: Literal["Lead", "Contact"] = "Lead"
    operation: SyncOperation
    owner_id: str | None = None
    task_id: str | None = None
    account_id: str | None = None
    contact_id: str | None = None
    opportunity_id: str | None = None
    submitted_at: UtcDatetime | None = Field(default=None, description="When the lead was first submitted.")
    source_event_id: str | None = Field(default=None, description="The event this sync applied.")
    team: str | None = None
    rating: str | None = None
    lead_source: str | None = None
    dropped_fields: tuple[DroppedField, ...] = Field(
        default=(),
        description="Values Salesforce refused (written without them) or would refuse (cut: written with what fits).",
    )
    shadow: bool = Field(
        default=False,
        description="Shadow mode: what crm-sync would have written; nothing was written to Salesforce "
        "(salesforce_id is a placeholder).",
    )


class ChangeType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class FieldChange(Contract):
    field: str
    old: Any = None
    new: Any = None


class CrmChange(Event):
    """A change made in Salesforce, keyed by the lead it concerns (Tasks by ``WhoId``)."""

    object: str
    record_id: str
    change_type: ChangeType
    changed_fields: tuple[FieldChange, ...] = ()
    record: dict[str, Any] = Field(default_factory=dict, description="The record's fields after the change.")
    changed_by: str | None = None
    changed_at: UtcDatetime
    system_modstamp: UtcDatetime
    hidden_by_leadflow: bool = Field(
        default=False,
        description="The version was written by leadflow: only changed_fields are a rep's change (one that "
        "leadflow's later write hid from the poll); the rest of record, the owner included, is leadflow's own write.",
    )
