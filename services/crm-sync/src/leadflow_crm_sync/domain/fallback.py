"""Field-level fallback: a value Salesforce refuses costs that value, never the record. Pure.

When Salesforce refuses one record and names the fields at fault (``INVALID_EMAIL_ADDRESS``,
``STRING_TOO_LONG``, ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``, ``INVALID_TYPE_ON_FIELD_IN_RECORD``, a
validation rule with fields, an inactive owner…), the record is sent again without those fields. Each round
drops at least one field, so it ends: written, or nothing left that could be dropped. The refused values are
kept on the record for the rep (``Leadflow_Dropped_Fields__c`` on the Lead) and reported with the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from leadflow_crm_sync.domain.writes import Dropped, Outcome, RecordWrite, SaveResult, Unstorable

NOTE_FIELDS: Mapping[str, str] = {"Lead": "Leadflow_Dropped_Fields__c"}
"""Where the refused values are written for the rep, per sObject (objects without one only report them)."""

UNDROPPABLE_CODES = frozenset(
    {
        "REQUIRED_FIELD_MISSING",  # dropping makes it worse
        "DUPLICATE_EXTERNAL_ID",  # the key, not a value
        "DUPLICATE_VALUE",
        "DUPLICATES_DETECTED",  # a duplicate rule: the record, not a value
        "ENTITY_IS_DELETED",
        "CANNOT_UPDATE_CONVERTED_LEAD",
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        "INSUFFICIENT_ACCESS_OR_READONLY",
    }
)
"""Record errors that name fields but are not fixed by leaving a value out."""

ALWAYS_KEPT = frozenset({"Id", "attributes"})

KNOWN_LIMITS: Mapping[tuple[str, str], int] = {("Lead", "Email"): 80, ("Contact", "Email"): 80}
"""Lengths every org enforces (standard fields): checked before the call instead of costing one."""


def _field_name(write: RecordWrite, name: str) -> str | None:
    """The key in ``write.fields`` Salesforce meant (it may answer in another case)."""
    if name in write.fields:
        return name
    lowered = name.lower()
    return next((k for k in write.fields if k.lower() == lowered), None)


def _protected(write: RecordWrite) -> set[str]:
    keep = set(ALWAYS_KEPT)
    if write.ext_field:
        keep.add(write.ext_field)
    return keep


NOTE_VALUE_MAX = 2000
"""Characters of one refused value kept in the note, so every refused field is listed (the note is 32,768)."""


def note_text(dropped: tuple[Dropped, ...], limit: int = 32768) -> str:
    """What the rep reads on the record: each refused value (long ones cut, with their length) and why."""
    lines = ["Values Salesforce refused; leadflow wrote the record without them:"]
    for d in dropped:
        value = d.value if isinstance(d.value, str) else repr(d.value)
        if len(value) > NOTE_VALUE_MAX:
            value = f"{value[:NOTE_VALUE_MAX]}… ({len(value)} characters)"
        lines.append(f"- {d.field} = {value} ({d.code}{': ' + d.message[:300] if d.message else ''})")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _with_dropped(
    write: RecordWrite, drops: tuple[Dropped, ...], placeholders: Mapping[tuple[str, str], Any]
) -> RecordWrite:
    fields = dict(write.fields)
    for d in drops:
        placeholder = placeholders.get((write.sobject, d.field))
        if placeholder is not None and write.mode == "upsert":
            fields[d.field] = placeholder  # a required field: a placeholder instead of nothing
        else:
            fields.pop(d.field, None)
    dropped = write.dropped + drops
    note = NOTE_FIELDS.get(write.sobject)
    if note and note not in {d.field for d in dropped}:
        fields[note] = note_text(dropped)
    return replace(write, fields=fields, dropped=dropped)


def without_refused(
    write: RecordWrite, result: SaveResult, placeholders: Mapping[tuple[str, str], Any] | None = None
) -> RecordWrite | None:
    """The same write without the values Salesforce refused, or None when leaving values out cannot help.

    ``placeholders`` maps a required field to the value that stands in for a refused one (e.g. Lead.Company).
    """
    if result.outcome is not Outcome.FAILED or not result.fields:
        return None
    code = result.status_code or "UNKNOWN"
    if code in UNDROPPABLE_CODES:
        return None
    placeholders = placeholders or {}
    keep = _protected(write)
    drops: list[Dropped] = []
    for name in result.fields:
        key = _field_name(write, name)
        if key is None or key in keep or any(d.field == key for d in drops):
            continue
        if placeholders.get((write.sobject, key)) == write.fields[key]:
            continue  # the placeholder itself was refused: nothing left to try
        drops.append(Dropped(key, code, _without_value(result.message or "", write.fields[key]), write.fields[key]))
    if not drops:
        return None
    return _with_dropped(write, tuple(drops), placeholders)


def precheck(write: RecordWrite) -> RecordWrite:
    """Leave out values every org refuses (e.g. an e-mail over 80 characters) before spending a call on them."""
    drops = [
        Dropped(name, "NOT_STORABLE", value.reason, value.value)
        for name, value in write.fields.items()
        if isinstance(value, Unstorable)
    ]
    for (sobject, name), limit in KNOWN_LIMITS.items():
        value = write.fields.get(name)
        if sobject == write.sobject and isinstance(value, str) and len(value) > limit:
            drops.append(
                Dropped(name, "STRING_TOO_LONG", f"longer than the {limit} characters Salesforce allows", value)
            )
    return _with_dropped(write, tuple(drops), {}) if drops else write


def _without_value(message: str, value: Any) -> str:
    """Salesforce repeats the refused value in its message; the event and the metric must not carry it."""
    text = str(value) if value is not None else ""
    if text and len(text) >= 3:
        message = message.replace(text, "…")
        if len(text) > 57:
            message = message.replace(text[:57] + "...", "…")
    return message[:300]
