"""The real gateway: simple-salesforce (unmodified) over leadflow_salesforce's verified TLS session."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from typing import Any, Literal

import requests
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import SALESFORCE_BUDGET, SALESFORCE_CALLS
from leadflow_salesforce import ConvertLeadFault, LeadConvert, LeadConvertResult, SalesforceSettings, connect
from leadflow_salesforce import convert_leads as _convert_leads
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError, SalesforceExpiredSession
from simple_salesforce.format import format_soql

from leadflow_crm_sync.adapters.gateway import SalesforceCallError
from leadflow_crm_sync.domain.budget import ApiUsage
from leadflow_crm_sync.domain.outcomes import classify_request_error

log = get_logger(__name__)
IN_CHUNK = 200
"""Values per SOQL ``IN (…)``: keeps the query URL well under the limit."""


def bulk_rows(records: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[str]]:
    """Collections records as Bulk 2.0 CSV rows: one header (the union of fields); a field a record does not
    set is empty, which Bulk leaves unchanged on an existing record (so nothing a rep filled in is blanked)."""
    header = list(dict.fromkeys(k for r in records for k in r if k != "attributes"))
    rows = [{k: _csv_value(r.get(k)) for k in header} for r in records]
    return rows, header


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_error(text: str) -> dict[str, Any]:
    """``STATUS_CODE:message:Field1,Field2 --`` (Bulk 2.0 failedResults) as a Collections error."""
    text = text.strip().removesuffix("--").strip()
    code, _, rest = text.partition(":")
    message, _, fields = rest.rpartition(":")
    if not message:  # no fields part
        message, fields = rest, ""
    return {
        "statusCode": code or "UNKNOWN_EXCEPTION",
        "message": message,
        "fields": [f.strip() for f in fields.split(",") if f.strip()],
    }


def bulk_results(records: list[dict[str, Any]], ext_field: str, ok: str, failed: str) -> list[Any]:
    """Per-record results in the records' order, from the job's successful and failed CSVs (a record in
    neither was not processed: a retriable error, so it is sent again)."""
    by_key: dict[str, dict[str, Any]] = {}
    for row in csv.DictReader(io.StringIO(ok)):
        if row.get(ext_field):
            by_key[row[ext_field]] = {
                "id": row.get("sf__Id"),
                "success": True,
                "errors": [],
                "created": str(row.get("sf__Created", "")).lower() == "true",
            }
    for row in csv.DictReader(io.StringIO(failed)):
        if row.get(ext_field):
            by_key[row[ext_field]] = {
                "id": row.get("sf__Id") or None,
                "success": False,
                "errors": [_parse_error(row.get("sf__Error") or "")],
            }
    retry = {
        "success": False,
        "errors": [{"statusCode": "UNKNOWN_EXCEPTION", "message": "not processed by the Bulk job", "fields": []}],
    }
    return [by_key.get(str(r.get(ext_field)), retry) for r in records]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _error_code(content: Any) -> tuple[str | None, str]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode") or content[0].get("statusCode"), str(content[0].get("message") or "")
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), str(content.get("message") or "")
    return None, str(content)[:300]


class SimpleSalesforceGateway:
    def __init__(self, settings: SalesforceSettings, *, service: str = "crm-sync", concurrency: int = 2) -> None:
        self._settings = settings
        self._service = service
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self._sem = asyncio.Semaphore(concurrency)
        self._usage: ApiUsage | None = None
        self.logins = 0

    # ---- connection --------------------------------------------------------------------------------
    def _client(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                try:
                    self._sf = connect(self._settings, metrics_service=self._service)  # exports the API usage
                except SalesforceAuthenticationFailed as e:
                    raise SalesforceCallError("retry", 500, "LOGIN_FAILED", str(e.message)[:300]) from None
                except requests.RequestException as e:
                    raise SalesforceCallError("retry", None, type(e).__name__, str(e)[:300]) from None
                self.logins += 1
                log.info("salesforce_login", instance=self._sf.sf_instance, logins=self.logins)
            return self._sf

    def _drop_client(self) -> None:
        with self._lock:
            self._sf = None

    def _note_usage(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage") if sf.api_usage else None
        if usage is not None:
            self._usage = ApiUsage(used=int(usage.used), total=int(usage.total))
            SALESFORCE_BUDGET.labels(self._service).set(self._usage.remaining)

    def _call(self, operation: str, fn: Any) -> Any:
        sf = self._client()
        try:
            result = fn(sf)
        except SalesforceExpiredSession:
            # Session-id mode cannot refresh, or the re-login failed: build a new client next time.
            self._drop_client()
            SALESFORCE_CALLS.labels(self._service, operation, "session").inc()
            raise SalesforceCallError("session", 401, "INVALID_SESSION_ID", "session expired") from None
        except SalesforceError as e:
            code, message = _error_code(e.content)
            kind = classify_request_error(e.status, code)
            SALESFORCE_CALLS.labels(self._service, operation, kind).inc()
            raise SalesforceCallError(kind, e.status, code, message) from None
        except ConvertLeadFault as e:
            kind = classify_request_error(e.status, e.code)
            SALESFORCE_CALLS.labels(self._service, operation, kind).inc()
            raise SalesforceCallError(kind, e.status, e.code, e.message) from None
        except SalesforceAuthenticationFailed as e:
            self._drop_client()
            SALESFORCE_CALLS.labels(self._service, operation, "login_failed").inc()
            raise SalesforceCallError("retry", 500, "LOGIN_FAILED", str(e.message)[:300]) from None
        except requests.RequestException as e:
            SALESFORCE_CALLS.labels(self._service, operation, "network").inc()
            raise SalesforceCallError("retry", None, type(e).__name__, str(e)[:300]) from None
        self._note_usage(sf)
        SALESFORCE_CALLS.labels(self._service, operation, "ok").inc()
        return result

    async def _run(self, operation: str, fn: Any) -> Any:
        async with self._sem:
            return await asyncio.to_thread(self._call, operation, fn)

    # ---- the port ----------------------------------------------------------------------------------
    async def save(
        self, mode: Literal["upsert", "update"], sobject: str, ext_field: str | None, records: list[dict[str, Any]]
    ) -> list[Any]:
        path = f"composite/sobjects/{sobject}/{ext_field}" if mode == "upsert" else "composite/sobjects"
        body = {"allOrNone": False, "records": records}
        result = await self._run(f"{mode}:{sobject}", lambda sf: sf.restful(path, method="PATCH", json=body))
        if not isinstance(result, list) or len(result) != len(records):
            raise SalesforceCallError("retry", 200, "UNEXPECTED_RESPONSE", f"expected {len(records)} results")
        return result

    async def bulk_upsert(self, sobject: str, ext_field: str, records: list[dict[str, Any]]) -> list[Any]:
        rows, _header = bulk_rows(records)

        def run(sf: Salesforce) -> tuple[str, str]:
            job = getattr(sf.bulk2, sobject)
            jobs = job.upsert(records=rows, external_id_field=ext_field, wait=0.2)
            ok, failed = "", ""
            for j in jobs:  # simple-salesforce splits very large uploads into several jobs
                ok += job.get_successful_records(j["job_id"])
                if j.get("numberRecordsFailed"):
                    failed += job.get_failed_records(j["job_id"])
            return ok, failed

        # Records in neither result (not processed) go again through Collections: no unprocessedrecords call.
        ok, failed = await self._run(f"bulk_upsert:{sobject}", run)
        return bulk_results(records, ext_field, ok, failed)

    async def convert(self, converts: list[LeadConvert]) -> list[LeadConvertResult]:
        return await self._run("convertLead", lambda sf: _convert_leads(sf, converts))  # type: ignore[no-any-return]

    async def query(self, soql: str) -> list[dict[str, Any]]:
        result = await self._run("query", lambda sf: sf.query_all(soql))
        return list(result.get("records", []))

    async def contacts_for(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for chunk in _chunks(sorted(set(pairs)), IN_CHUNK):
            soql = format_soql(
                "SELECT Id, AccountId, Email FROM Contact WHERE AccountId IN {} AND Email IN {} ORDER BY CreatedDate",
                sorted({a for a, _ in chunk}),
                sorted({e for _, e in chunk}),
            )
            for row in await self.query(soql):
                key = (str(row.get("AccountId")), str(row.get("Email") or "").lower())
                if key in chunk and key not in out:
                    out[key] = row["Id"]
        return out

    async def converted_leads(self, lead_ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(lead_ids)), IN_CHUNK):
            soql = format_soql(
                "SELECT Id, ConvertedAccountId, ConvertedContactId, ConvertedOpportunityId, OwnerId "
                "FROM Lead WHERE Id IN {}",
                chunk,
            )
            out.update({row["Id"]: row for row in await self.query(soql)})
        return out

    def usage(self) -> ApiUsage | None:
        return self._usage

    async def refresh_usage(self) -> ApiUsage | None:
        limits = await self._run("limits", lambda sf: sf.limits())
        daily = limits.get("DailyApiRequests") if isinstance(limits, dict) else None
        if isinstance(daily, dict) and "Max" in daily and "Remaining" in daily:
            total, remaining = int(daily["Max"]), int(daily["Remaining"])
            self._usage = ApiUsage(used=max(0, total - remaining), total=total)
            SALESFORCE_BUDGET.labels(self._service).set(self._usage.remaining)
        return self._usage

    async def close(self) -> None:
        sf = self._sf
        self._drop_client()
        if sf is not None:
            await asyncio.to_thread(sf.session.close)
