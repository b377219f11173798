"""The Salesforce port crm-sync writes through, and the errors it raises (whole-request failures)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from leadflow_salesforce import LeadConvert, LeadConvertResult

from leadflow_crm_sync.domain.budget import ApiUsage


class SalesforceCallError(Exception):
    """A whole call failed. ``kind`` says what to do: retry later, pause (limit), or give up on the request."""

    def __init__(
        self,
        kind: Literal["retry", "rate_limited", "session", "bad_request"],
        status: int | None,
        code: str | None,
        message: str,
    ) -> None:
        super().__init__(f"{kind}: {status} {code}: {message}")
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message


class SalesforceGateway(Protocol):
    async def save(
        self, mode: Literal["upsert", "update"], sobject: str, ext_field: str | None, records: list[dict[str, Any]]
    ) -> list[Any]:
        """One sObject Collections call (≤ 200 records, allOrNone false); the raw SaveResults in order."""
        ...

    async def bulk_upsert(self, sobject: str, ext_field: str, records: list[dict[str, Any]]) -> list[Any]:
        """Bulk API 2.0 ingest (upsert by external id): one job; a Collections-style result per record, in order."""
        ...

    async def convert(self, converts: list[LeadConvert]) -> list[LeadConvertResult]:
        """SOAP convertLead (≤ 100)."""
        ...

    async def query(self, soql: str) -> list[dict[str, Any]]:
        """SOQL, all pages."""
        ...

    async def contacts_for(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(AccountId, e-mail lower-cased) → the oldest Contact on that account with that e-mail."""
        ...

    async def converted_leads(self, lead_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Lead Id → its ConvertedAccountId, ConvertedContactId, ConvertedOpportunityId and OwnerId."""
        ...

    def usage(self) -> ApiUsage | None:
        """The last ``Sforce-Limit-Info`` seen (None before the first call)."""
        ...

    async def refresh_usage(self) -> ApiUsage | None:
        """Ask Salesforce (``/limits``, one API call) when no other call has refreshed the usage."""
        ...

    async def close(self) -> None: ...
