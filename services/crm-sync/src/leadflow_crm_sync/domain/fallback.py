"""Field-level fallback: a value Salesforce refuses costs that value, never the record. Pure.

Before the call (``precheck``): a text longer than its standard field is cut to what fits (``fit``: counted in
UTF-16 code units as Salesforce counts, never half a character), an e-mail over 80 characters or one intake found
unstorable is left out; both are kept whole in the rep's note. After a refusal (``without_refused``):

when Salesforce refuses one record and names the fields at fault (``INVALID_EMAIL_ADDRESS``,
``STRING_TOO_LONG``, ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``, ``INVALID_TYPE_ON_FIELD_IN_RECORD``, a
validation rule with fields, an inactive owner…), the record is sent again without those fields. Each round
drops at least one field, so it ends: written, or nothing left that could be dropped. The refused values are
kept on the record for the rep (``Leadflow_Dropped_Fields__c`` on the Lead) and reported with the result.
"""

from __future__ import annotations

import unicodedata
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
"""Lengths every org enforces (standard fields): checked before the call instead of costing one. A cut
address would be a wrong address, so a longer one is left out."""

CUT_TO_FIT: Mapping[tuple[str, str], int] = {
    ("Lead", "FirstName"): 40,
    ("Lead", "LastName"): 80,
    ("Lead", "Company"): 255,
    ("Lead", "Title"): 128,
    ("Lead", "City"): 40,
    ("Lead", "State"): 80,
    ("Lead", "PostalCode"): 20,
    ("Lead", "Country"): 80,
    ("Lead", "Phone"): 40,
    ("Lead", "Website"): 255,
    ("Lead", "Industry"): 255,
    ("Lead", "Description"): 32000,
}
"""Standard text fields at the lengths every org has (describe of a real org): a longer value is cut to what fits,
because most of a name or a title serves the rep better than none, and the whole value goes into the note."""

_JOINERS = frozenset({"\u200d", "\u034f"})  # zero-width joiner, combining grapheme joiner


def _extends(ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (a mark, a joiner, a variation selector, a skin tone)."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch in _JOINERS
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences
    )


def utf16_length(value: str) -> int:
    """Length as Salesforce counts it (Java strings: a character outside the BMP, e.g. an emoji, counts 2)."""
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def fit(value: str, limit: int) -> str:
    """The longest start of ``value`` Salesforce stores in a field of ``limit`` characters, ending on a whole
    character: never a letter without its accents, half an emoji sequence or half a flag; trailing spaces go."""
    if 2 * len(value) <= limit or (len(value) <= limit and utf16_length(value) <= limit):
        return value  # every lead passes here: at most 2 units a character, counted in C
    units = end = 0
    for i, ch in enumerate(value):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            end = i  # the first character that does not fit
            break
    while end > 0 and (_extends(value[end]) or value[end - 1] in _JOINERS):
        end -= 1
    regional = sum(1 for ch in value[:end] if 0x1F1E6 <= ord(ch) <= 0x1F1FF)
    if end and regional % 2 and 0x1F1E6 <= ord(value[end - 1]) <= 0x1F1FF and 0x1F1E6 <= ord(value[end]) <= 0x1F1FF:
        end -= 1  # a flag is two regional indicators: keep both or neither
    return value[:end].rstrip()


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


NOTE_HEADER = "Values Salesforce cannot store as given; leadflow wrote the record without them, or with what fits:"


def note_text(dropped: tuple[Dropped, ...], limit: int = 32768) -> str:
    """What the rep reads on the record: each refused or cut value whole (very long ones cut, with their length)
    and why."""
    lines = [NOTE_HEADER]
    for d in dropped:
        value = d.value if isinstance(d.value, str) else repr(d.value)
        if len(value) > NOTE_VALUE_MAX:
            value = f"{value[:NOTE_VALUE_MAX]}… ({len(value)} characters)"
        lines.append(f"- {d.field} = {value} ({d.code}{': ' + d.message[:300] if d.message else ''})")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _with_dropped(
    write: RecordWrite,
    drops: tuple[Dropped, ...],
    placeholders: Mapping[tuple[str, str], Any],
    cuts: Mapping[str, tuple[str, Dropped]] | None = None,
) -> RecordWrite:
    """``drops`` leave the record (or give way to a placeholder); ``cuts`` (field → what fits, note) stay, cut."""
    fields = dict(write.fields)
    for d in drops:
        placeholder = placeholders.get((write.sobject, d.field))
        if placeholder is not None and write.mode == "upsert":
            fields[d.field] = placeholder  # a required field: a placeholder instead of nothing
        else:
            fields.pop(d.field, None)
    kept: tuple[Dropped, ...] = ()
    for name, (short, cut) in (cuts or {}).items():
        fields[name] = short
        kept += (cut,)
    dropped = write.dropped + kept + drops
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
    cuts: dict[str, tuple[str, Dropped]] = {}
    for (sobject, name), limit in CUT_TO_FIT.items():
        value = write.fields.get(name)
        if sobject != write.sobject or not isinstance(value, str):
            continue
        short = fit(value, limit)
        if short != value:
            reason = f"cut to its first {len(short)} of {len(value)} characters (Salesforce stores {limit})"
            cuts[name] = (short, Dropped(name, "STRING_TOO_LONG", reason, value, cut=True))
    return _with_dropped(write, tuple(drops), {}, cuts) if drops or cuts else write


def _without_value(message: str, value: Any) -> str:
    """Salesforce repeats the refused value in its message; the event and the metric must not carry it."""
    text = str(value) if value is not None else ""
    if text and len(text) >= 3:
        message = message.replace(text, "…")
        if len(text) > 57:
            message = message.replace(text[:57] + "...", "…")
    return message[:300]
