"""How Salesforce answers are classified: done, retry, skip, or dead-letter (with the statusCode)."""

from __future__ import annotations

from typing import Any, Literal

from leadflow_crm_sync.domain.writes import Outcome, SaveResult

RETRIABLE_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "UNKNOWN_EXCEPTION",
        "SERVER_UNAVAILABLE",
        "REQUEST_RUNNING_TOO_LONG",
        "QUERY_TIMEOUT",
        "TXN_SECURITY_METERING_ERROR",
    }
)
"""Per-record or whole-request codes that succeed when tried again later."""

TARGET_GONE_CODES = frozenset(
    {
        "ENTITY_IS_DELETED",
        "INVALID_CROSS_REFERENCE_KEY",
        "NOT_FOUND",
        "CANNOT_UPDATE_CONVERTED_LEAD",
    }
)
"""An update by Id whose record is not there to update (deleted, unknown or converted)."""

RequestClass = Literal["retry", "rate_limited", "session", "bad_request"]


def classify_save_result(raw: Any, mode: Literal["upsert", "update"]) -> SaveResult:
    """One item of an sObject Collections response."""
    if not isinstance(raw, dict):
        return SaveResult(Outcome.RETRY, status_code="UNEXPECTED_RESPONSE", message=str(raw)[:200])
    if raw.get("success"):
        created = bool(raw.get("created")) if mode == "upsert" else False
        return SaveResult(Outcome.CREATED if created else Outcome.UPDATED, id=raw.get("id"))
    errors = raw.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_EXCEPTION")
    message = str(first.get("message") or "")
    # Salesforce may list one error per refused field: all their fields, first error's code and message.
    fields = tuple(dict.fromkeys(str(f) for e in errors if isinstance(e, dict) for f in e.get("fields") or ()))
    if code == "CANNOT_UPDATE_CONVERTED_LEAD":
        outcome = Outcome.CONVERTED_LEAD if mode == "upsert" else Outcome.TARGET_GONE
    elif code in RETRIABLE_CODES or code == "ALL_OR_NONE_OPERATION_ROLLED_BACK":
        outcome = Outcome.RETRY
    elif mode == "update" and code in TARGET_GONE_CODES and not fields:
        outcome = Outcome.TARGET_GONE
    else:
        outcome = Outcome.FAILED
    return SaveResult(outcome, id=raw.get("id"), status_code=code, message=message, fields=fields)


def classify_request_error(status: int | None, code: str | None) -> RequestClass:
    """A whole-request failure (HTTP status ≥ 300, or no response at all: status None)."""
    if code == "REQUEST_LIMIT_EXCEEDED" or (status == 403 and code in (None, "REQUEST_LIMIT_EXCEEDED")):
        return "rate_limited"
    if status == 401 or code == "INVALID_SESSION_ID":
        return "session"
    if status is None or status >= 500 or status in (408, 429) or (code in RETRIABLE_CODES):
        return "retry"
    return "bad_request"
