"""Turn one mapped row into a LeadSubmitted payload, or a local rejection with a reason.

The verdict on a row's contact data is intake's own: ``build`` runs the row's ``LeadSubmitted``
through ``leadflow_intake.domain.decide.decide`` (the same function intake runs on every submission),
so a row is rejected here exactly when intake would reject it, for the same reason and field, and a
row intake would accept (say, a bad e-mail but a valid phone) is published.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadflow_contracts import LeadSubmitted
from leadflow_intake.domain.decide import Accepted, DecisionContext, decide
from leadflow_intake.domain.emails import EmailPolicy
from pydantic import ValidationError

NAMESPACE = uuid.UUID("6f1c9a52-4a53-4c2e-9d8e-3c1c0e3b7a10")
_TRUE = {"1", "true", "yes", "y", "ja", "j", "oui", "si", "sí", "x", "✓", "opt in", "opted in"}
_FALSE = {"0", "false", "no", "n", "nei", "nein", "non", "nee", ""}


@dataclass(frozen=True)
class Built:
    row_number: int
    event_id: str
    lead_id: str
    payload: bytes | None
    reason: str | None = None
    field: str | None = None
    message: str | None = None
    notes: tuple[str, ...] = ()
    """What intake will not take as given (an e-mail Salesforce cannot store, an unverified phone …)."""
    contact: tuple[str | None, str | None] = (None, None)
    """(e-mail decision, phone status) as intake will record them."""


def stable_ids(source: str, campaign: str, values: list[str]) -> tuple[str, str]:
    """Event and lead ids from the row content: re-importing the same rows yields the same ids."""
    h = hashlib.sha256(
        "\x1f".join([NAMESPACE.hex, source, campaign, *(v.strip() for v in values)]).encode()
    ).hexdigest()
    event_id = f"{h[:8]}-{h[8:12]}-5{h[13:16]}-a{h[17:20]}-{h[20:32]}"
    lead_id = "imp-" + h[32:50]
    return event_id, lead_id


def _bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False if v else None
    return None


def build(
    row_number: int,
    values: list[str],
    mapping: dict[int, str],
    *,
    source_kind: str,
    source_system: str,
    campaign: str,
    now: datetime,
    default_country: str | None = None,
    default_region: str | None = None,
    email_policy: EmailPolicy | None = None,
) -> Built:
    """``default_region``/``email_policy`` should equal intake's (``INTAKE_DEFAULT_REGION`` or the source's
    ``default_region``; ``INTAKE_EMAIL_ADDRESS_INTERNATIONALIZATION``) so both give the same verdict."""
    event_id, lead_id = stable_ids(source_system, campaign, values)
    fields: dict[str, str] = {}
    for index, target in mapping.items():
        if index < len(values) and values[index].strip():
            fields[target] = values[index].strip()

    def fail(reason: str, field: str | None, message: str) -> Built:
        return Built(row_number, event_id, lead_id, None, reason, field, message)

    person: dict[str, Any] = {}
    company: dict[str, Any] = {}
    consent: dict[str, Any] = {}
    engagement: dict[str, Any] = {}
    for target, value in fields.items():
        group, _, name = target.partition(".")
        if target == "person.full_name":
            first, _, last = value.rpartition(" ")
            person.setdefault("first_name", first or None)
            person.setdefault("last_name", last)
        elif group == "person":
            person[name] = value
        elif group == "company":
            if name == "employees":
                digits = re.sub(r"[^\d]", "", value)
                if not digits:
                    return fail("schema_violation", target, f"{target}: {value!r} is not a number of employees")
                company[name] = int(digits)
            else:
                company[name] = value
        elif group == "consent":
            flag = _bool(value)
            if flag is None:
                return fail("schema_violation", target, f"{target}: {value!r} is not yes/no")
            if name == "do_not_call":
                consent["may_call"] = not flag
            elif name == "do_not_email":
                consent["may_email"] = not flag
            else:
                consent[name] = flag
        elif group == "engagement":
            if not value.isdigit():
                return fail("schema_violation", target, f"{target}: {value!r} is not a whole number")
            engagement[name] = int(value)
    if default_country and "country" not in company:
        company["country"] = default_country
    payload = {
        "event_id": event_id,
        "lead_id": lead_id,
        "occurred_at": now.isoformat(),
        "source": {
            "system": source_system,
            "record_id": fields.get("source.record_id"),
            "campaign": {"utm_campaign": campaign, "utm_medium": "list"},
        },
        "lead_source": source_kind,
        "person": person,
        "company": company,
        "consent": consent,
        "engagement": engagement,
        "message": fields.get("message"),
        "original": {"row": row_number, "values": values[:60]},
    }
    try:
        submitted = LeadSubmitted.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return fail("schema_violation", where, f"{where}: {err['msg']}")
    verdict = decide(
        submitted,
        DecisionContext(now=now, default_region=default_region, email_policy=email_policy or EmailPolicy()),
    )
    if not isinstance(verdict, Accepted):
        return fail(verdict.reason.value, verdict.field, verdict.message)
    return Built(
        row_number,
        event_id,
        lead_id,
        json.dumps(payload, ensure_ascii=False).encode(),
        notes=verdict.notes,
        contact=(verdict.email_decision, verdict.phone_status),
    )
