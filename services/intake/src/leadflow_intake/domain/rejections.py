"""What a rejection says: a reason code, a human message naming the bad field, the error list."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field

from leadflow_contracts import RejectionReason


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectionReason
    message: str
    field: str | None = None
    errors: tuple[dict[str, str], ...] = dc_field(default=())


HTTP_STATUS: dict[RejectionReason, int] = {
    RejectionReason.INVALID_JSON: 400,
    RejectionReason.INVALID_UTF8: 400,
    RejectionReason.TOO_LARGE: 413,
    RejectionReason.SCHEMA_VIOLATION: 422,
    RejectionReason.MISSING_FIELD: 422,
    RejectionReason.INVALID_EMAIL: 422,
    RejectionReason.INVALID_PHONE: 422,
    RejectionReason.INVALID_COUNTRY: 422,
    RejectionReason.NO_CONTACT: 422,
    RejectionReason.SUPPRESSED: 422,
    RejectionReason.TOO_DEEP: 422,
    RejectionReason.TOO_MANY_ITEMS: 422,
    RejectionReason.STRING_TOO_LONG: 422,
    RejectionReason.INVALID_CUSTOM_ANSWER: 422,
}
"""The HTTP status intake answers for each reason code."""
