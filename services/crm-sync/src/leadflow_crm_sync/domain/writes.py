"""The write plan: what crm-sync asks Salesforce to do, and what came back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from leadflow_crm_sync.domain.policy import WriteKind


@dataclass(frozen=True)
class Unstorable:
    """A value intake already found Salesforce cannot store (e.g. an e-mail with a non-ASCII local part in an
    org without Email Address Internationalization): left out before the call, kept for the rep like a refused one.
    """

    value: str
    reason: str

    def __str__(self) -> str:  # content hashes and logs see the value, as for any other field
        return self.value


@dataclass(frozen=True)
class Dropped:
    """One refused value: the field, Salesforce's code and message, and the value that was not written."""

    field: str
    code: str
    message: str
    value: Any
    cut: bool = False
    """True: not left out but written cut to what fits (``fallback.fit``); ``value`` is the whole one."""


@dataclass(frozen=True)
class RecordWrite:
    """One record in an sObject Collections call.

    ``mode="upsert"``: PATCH composite/sobjects/{sobject}/{ext_field} (the record carries the external id);
    ``mode="update"``: PATCH composite/sobjects (the record carries ``Id``).
    """

    sobject: str
    mode: Literal["upsert", "update"]
    key: str
    fields: dict[str, Any]
    kind: WriteKind
    ext_field: str | None = None
    dropped: tuple[Dropped, ...] = ()
    """Values left out because Salesforce refuses them (see ``domain.fallback``)."""

    def group(self) -> tuple[str, str, str | None]:
        return (self.mode, self.sobject, self.ext_field)

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"attributes": {"type": self.sobject}}
        rec.update(self.fields)
        if self.mode == "update":
            rec["Id"] = self.key
        elif self.ext_field:
            rec[self.ext_field] = self.key
        return rec


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    FAILED = "failed"  # permanent: dead-letter with the Salesforce error
    RETRY = "retry"  # retriable per record (e.g. UNABLE_TO_LOCK_ROW)
    CONVERTED_LEAD = "converted_lead"  # the lead was converted in the meantime: nothing more to write
    TARGET_GONE = "target_gone"  # update by Id on a deleted/unknown/converted record


@dataclass(frozen=True)
class SaveResult:
    """One record's answer, classified."""

    outcome: Outcome
    id: str | None = None
    status_code: str | None = None
    message: str | None = None
    fields: tuple[str, ...] = field(default_factory=tuple)
    dropped: tuple[Dropped, ...] = ()
    """The values the record was written without (or, on failure, left out before it still failed)."""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.CREATED, Outcome.UPDATED)
