"""The one definition of personal data in leadflow.

Used by the log redactor (``leadflow_platform.logging``) and by the ops console's masking
(``leadflow_ops.domain.masking``), so what counts as personal cannot drift between them.

Two ways a value is personal:

1. **By key** (:func:`is_personal_key`): a field that holds a person's data (``email``, ``phone``,
   ``first_name``, ``message`` … and any key ending in ``email``/``phone``/``mobile``). Booleans and
   ``None`` are never personal, whatever the key (``do_not_email: true`` is a consent flag, not an
   address); flags and metadata about a contact (``do_not_email``, ``may_call``, ``email_is_free``,
   ``email_domain``, ``phone_status``, ``*_id``, ``*_at`` …) are not personal keys.
2. **By shape, inside any text** (:func:`find_pii`): e-mail addresses in any script (Unicode local
   parts and domains: Latin with diacritics, Cyrillic, Greek, CJK …) and phone numbers (7–17 digits
   with the usual separators, optionally ``+``/``00``).

Never touched: timestamps (ISO 8601 with or without fractions of a second or zone, dates, times),
UUIDs and other ids (digit groups inside a longer token: ``demo-1234-5678``, hex digests, Salesforce
ids), IP addresses, version numbers, decimals, booleans. Strings under an identifier or time key
(:func:`is_identifier_key`: ``lead_id``, ``event_id``, ``occurred_at``, ``timestamp`` …) are not
scanned at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

PERSONAL_KEYS = frozenset(
    {
        "email",
        "email_original",
        "phone",
        "phone_e164",
        "phone_unverified",
        "mobile",
        "first_name",
        "last_name",
        "firstname",
        "lastname",
        "full_name",
        "name",
        "person",
        "street",
        "address",
        "postcode",
        "message",
        "consent_text",
        "job_title",
    }
)
"""Keys whose (non-boolean) value is a person's data."""

PERSONAL_SUFFIXES = ("email", "phone", "mobile")
"""Any other key ending like this holds an address or number too (``work_email``, ``mobilephone``)."""

NOT_PERSONAL_PREFIXES = ("do_not_", "may_", "is_", "has_", "no_")
NOT_PERSONAL_SUFFIXES = (
    "_id",
    "_ids",
    "_at",
    "_decision",
    "_status",
    "_because",
    "_from",
    "_region",
    "_country",
    "_domain",
    "_is_free",
    "_count",
    "_given",
    "_resolved",
    "_unresolved",
)
"""Flags and metadata *about* a contact (``do_not_email``, ``email_domain``, ``phone_status``)."""

IDENTIFIER_KEYS = frozenset(
    {"id", "timestamp", "time", "date", "at", "sha256", "digest", "event", "level", "logger", "service"}
)
IDENTIFIER_SUFFIXES = ("_id", "_ids", "_at", "_time", "_timestamp", "_date", "_sha256", "_hash", "_key")
"""Keys whose string value is an id or a time: never scanned for e-mails/phones."""

Kind = Literal["email", "phone"]


def is_personal_key(key: str) -> bool:
    k = key.lower()
    if k in PERSONAL_KEYS:
        return True
    if k.startswith(NOT_PERSONAL_PREFIXES) or k.endswith(NOT_PERSONAL_SUFFIXES):
        return False
    return k.endswith(PERSONAL_SUFFIXES)


def is_personal_value(key: str, value: object) -> bool:
    """``value`` under ``key`` is a person's data: a personal key, and not a boolean/None/empty."""
    if value is None or isinstance(value, bool) or value == "":
        return False
    return is_personal_key(key)


def is_identifier_key(key: str) -> bool:
    k = key.lower()
    return k in IDENTIFIER_KEYS or k.endswith(IDENTIFIER_SUFFIXES)


def _combining_marks() -> str:
    """A regex class body of every combining mark in the Basic Multilingual Plane (``re`` has no ``\\p{M}``)."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in ranges)


_M = _combining_marks()
_WORD = rf"\w{_M}"
_EMAIL = re.compile(
    rf"(?<![{_WORD}.!#$%&'*+/=?^`{{|}}~\-])"
    rf"[{_WORD}!#$%&'*+/=?^`{{|}}~\-]+(?:\.[{_WORD}!#$%&'*+/=?^`{{|}}~\-]+)*"
    rf"[@＠]"
    rf"[{_WORD}](?:[{_WORD}\-]*[{_WORD}])?(?:\.[{_WORD}](?:[{_WORD}\-]*[{_WORD}])?)*"
    rf"\.(?:(?:[^\W\d_]|[{_M}]){{2,}}|xn--[\w\-]+)"
    rf"(?![{_WORD}\-@]|\.[{_WORD}])"
)
_PHONE = re.compile(
    r"(?<![\w.:/#@+\-])"  # not the middle of an id, a time, a version, a URL or an address
    r"(?:\+|\b)\d[\d \u00a0()./\-]{4,}\d"
    r"(?!\w|[.:/\-]\w|[.:]\d)"
)
_DATE_OR_TIME = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"  # 2026-12-04, and anything after it (2026-12-04.1, 2026-12-04 16)
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}(?!\d)"  # 04.12.2026, 12/04/2026
    r"|\d{1,2}:\d{2}"  # 16:32
)
_IP_OR_DECIMAL = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|\d+\.\d+")


def _is_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 17:
        return False
    return not (_DATE_OR_TIME.match(text) or _IP_OR_DECIMAL.fullmatch(text))


@dataclass(frozen=True, slots=True)
class Found:
    kind: Kind
    start: int
    end: int
    text: str


def find_pii(text: str) -> Iterator[Found]:
    """E-mail addresses and phone numbers inside ``text``, left to right, not overlapping."""
    taken: list[tuple[int, int]] = []
    for m in _EMAIL.finditer(text):
        taken.append(m.span())
        yield Found("email", m.start(), m.end(), m.group(0))
    for m in _PHONE.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        candidate = m.group(0)
        if _is_phone(candidate):
            yield Found("phone", m.start(), m.end(), candidate)


def replace_pii(text: str, replace: Callable[[Found], str]) -> str:
    """``text`` with every e-mail and phone replaced by ``replace(found)``."""
    if not text or (not any(c.isdigit() for c in text) and "@" not in text and "＠" not in text):
        return text  # the common case in logs: nothing that could be an address or a number
    found = sorted(find_pii(text), key=lambda f: f.start)
    if not found:
        return text
    out: list[str] = []
    pos = 0
    for f in found:
        out.append(text[pos : f.start])
        out.append(replace(f))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def contains_pii(text: str) -> bool:
    return next(find_pii(text), None) is not None
