"""Leakage guard: a model may only learn from what is known when the lead arrives (at intake).

Anything sales fills in after first contact (status, tags, quality notes, activity by a rep, vendor
scores computed from that activity) predicts the outcome because it *records* the outcome. A mapping
or feature list that uses one is refused with an error naming the column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Export columns (any CRM export, normalised: lower case, non-alphanumerics collapsed) filled after contact.
_DENIED_COLUMNS: dict[str, str] = {
    "tags": "free-text tags a rep adds after talking to the lead",
    "lead quality": "a rep's judgement of the lead after contact",
    "lead profile": "profile a rep fills in after qualification",
    "last activity": "the latest activity, including rep activity (calls, SMS, emails sent) after intake",
    "last notable activity": "the latest notable activity, set by rep actions after intake",
    "lead status": "the sales outcome itself",
    "status": "the sales outcome itself",
    "quality": "a rep's quality note",
    "quality notes": "a rep's quality note",
    "notes": "notes written by sales after contact",
    "converted": "the outcome (label), never a feature",
    "is converted": "the outcome (label), never a feature",
    "rating": "a rep's rating after contact",
    "owner": "assigned after routing",
    "last activity date": "set by activity after intake",
    "last modified date": "changes with every rep edit",
}
# Asymmetrique * (activity/profile index and score) are vendor scores computed from post-contact activity.
_DENIED_PREFIXES: dict[str, str] = {
    "asymmetrique": "Asymmetrique activity/profile scores are computed from post-contact activity",
    "converted": "conversion fields record the outcome",
    "last activity": "activity after intake",
}

# Salesforce Lead fields (API names, lower case) that are filled after contact or are the outcome.
_DENIED_LEAD_FIELDS: dict[str, str] = {
    "status": "the sales outcome itself",
    "isconverted": "the outcome (label), never a feature",
    "converteddate": "the outcome",
    "convertedaccountid": "the outcome",
    "convertedcontactid": "the outcome",
    "convertedopportunityid": "the outcome",
    "rating": "a rep's rating after contact",
    "lastactivitydate": "set by rep activity after intake",
    "lastmodifieddate": "changes with every rep edit",
    "lastmodifiedbyid": "changes with every rep edit",
    "systemmodstamp": "changes with every rep edit",
    "ownerid": "assigned after routing",
    "isunreadbyowner": "set after routing",
    "score__c": "leadflow's own score (feedback loop)",
    "grade__c": "leadflow's own grade (feedback loop)",
    "score_reasons__c": "leadflow's own score (feedback loop)",
    "routing_reason__c": "set by routing",
    "sla_due__c": "set after routing",
    "sla_status__c": "set after contact",
    "description": "free text often edited by reps after contact",
}


class LeakageError(ValueError):
    """A mapping or feature list uses a field that is only known after contact."""

    def __init__(self, column: str, why: str, where: str) -> None:
        super().__init__(
            f"leakage: {where} uses {column!r}, which is filled after contact ({why}); "
            "only intake-time fields may be features"
        )
        self.column = column
        self.why = why


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def column_leak_reason(column: str) -> str | None:
    """Why an export column is post-contact, or None when it may be used."""
    n = _norm(column)
    if n in _DENIED_COLUMNS:
        return _DENIED_COLUMNS[n]
    for prefix, why in _DENIED_PREFIXES.items():
        if n.startswith(prefix):
            return why
    return None


def lead_field_leak_reason(field: str) -> str | None:
    """Why a Salesforce Lead field is post-contact, or None when it may be used."""
    f = field.lower()
    if f in _DENIED_LEAD_FIELDS:
        return _DENIED_LEAD_FIELDS[f]
    if f.startswith("converted"):
        return "conversion fields record the outcome"
    return column_leak_reason(field) if not f.endswith("__c") else column_leak_reason(f[:-3].replace("_", " "))


def check_columns(columns: Iterable[str], *, where: str) -> None:
    for c in columns:
        why = column_leak_reason(c)
        if why:
            raise LeakageError(c, why, where)


def check_lead_fields(fields: Iterable[str], *, where: str) -> None:
    for f in fields:
        why = lead_field_leak_reason(f)
        if why:
            raise LeakageError(f, why, where)
