"""Which objects and fields the feed polls, and the SOQL it sends."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from leadflow_salesforce.fields import ACCOUNT_CLIENT_FIELDS, USER_ROUTING_FIELDS
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AUDIT_FIELDS: tuple[str, ...] = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)
"""Always selected; never reported as changed fields (the event carries them as who/when)."""

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {"Lead": ("Leadflow_Id__c",), "Task": ("WhoId",)}
"""Needed to key events by lead: a Lead's leadflow id, a Task's WhoId."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class FeedObject(BaseModel):
    """One polled sObject and the fields to read (audit fields are added)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    fields: tuple[str, ...] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"objects.name: not an sObject API name: {v!r}")
        return v

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for f in v:
            if not _NAME.match(f):
                raise ValueError(f"objects.fields: not a field API name: {f!r}")
        return v

    @model_validator(mode="after")
    def _add_required(self) -> FeedObject:
        wanted = [f for f in (*AUDIT_FIELDS, *REQUIRED_FIELDS.get(self.name, ()), *self.fields)]
        seen: dict[str, str] = {}
        for f in wanted:
            seen.setdefault(f.lower(), f)
        object.__setattr__(self, "fields", tuple(seen.values()))
        return self

    @property
    def tracked_fields(self) -> tuple[str, ...]:
        """The fields diffed between versions (everything but the audit fields)."""
        audit = {a.lower() for a in AUDIT_FIELDS}
        return tuple(f for f in self.fields if f.lower() not in audit)


DEFAULT_OBJECTS: tuple[FeedObject, ...] = (
    FeedObject(
        name="User",
        fields=(
            "Username",
            "FirstName",
            "LastName",
            "Email",
            "IsActive",
            "TimeZoneSidKey",
            "ManagerId",
            "Title",
            *USER_ROUTING_FIELDS,
        ),
    ),
    FeedObject(name="Group", fields=("Name", "DeveloperName", "Type", "Email")),
    FeedObject(
        name="Account",
        fields=(
            "Name",
            "OwnerId",
            "Type",
            "Industry",
            "BillingCountry",
            *ACCOUNT_CLIENT_FIELDS,
            "External_Ref__c",
        ),
    ),
    FeedObject(
        name="Contact",
        fields=(
            "AccountId",
            "FirstName",
            "LastName",
            "Email",
            "Phone",
            "OwnerId",
            "DoNotCall",
            "HasOptedOutOfEmail",
            "MailingCountry",
            "Language__c",
        ),
    ),
    FeedObject(
        name="Lead",
        fields=(
            "Leadflow_Id__c",
            "Status",
            "OwnerId",
            "Rating",
            "LeadSource",
            "Company",
            "FirstName",
            "LastName",
            "Email",
            "Phone",
            "Country",
            "IsConverted",
            "ConvertedDate",
            "ConvertedAccountId",
            "ConvertedContactId",
            "ConvertedOpportunityId",
            "SLA_Due__c",
            "SLA_Status__c",
            "Callback_At__c",
            "Client_Type__c",
            "Matched_Account__c",
            "DoNotCall",
        ),
    ),
    FeedObject(
        name="Task",
        fields=(
            "WhoId",
            "WhatId",
            "Subject",
            "Status",
            "TaskSubtype",
            "OwnerId",
            "ActivityDate",
            "CallType",
            "CallDisposition",
            "CallDurationInSeconds",
            "IsClosed",
            "Leadflow_Task_Id__c",
        ),
    ),
    FeedObject(
        name="Opportunity",
        fields=(
            "Name",
            "AccountId",
            "StageName",
            "Amount",
            "CloseDate",
            "OwnerId",
            "LeadSource",
            "IsClosed",
            "IsWon",
        ),
    ),
)


SNAPSHOT_OBJECTS: tuple[str, ...] = ("User", "Group")
"""Read from the beginning on a fresh start (a snapshot of every record, then changes), whatever ``start_from``
says: every consumer must know every rep and queue, not only those changed since leadflow started. leadflow
never writes them, so none of their versions is an echo."""


def soql_datetime(when: datetime) -> str:
    """A SOQL datetime literal with milliseconds, UTC (``2024-05-01T12:34:56.789Z``), truncated down."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def changes_soql(obj: FeedObject, after: datetime | None) -> str:
    """The incremental query: every version (deleted ones too, via queryAll) after the cursor, in stamp order."""
    where = f" WHERE SystemModstamp > {soql_datetime(after)}" if after is not None else ""
    return f"SELECT {', '.join(obj.fields)} FROM {obj.name}{where} ORDER BY SystemModstamp, Id"  # noqa: S608 - validated names


def latest_soql(obj: FeedObject) -> str:
    """The newest existing version of an object (where a first start with start_from=latest begins)."""
    return f"SELECT SystemModstamp FROM {obj.name} ORDER BY SystemModstamp DESC LIMIT 1"  # noqa: S608
