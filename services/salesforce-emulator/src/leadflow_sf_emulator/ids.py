"""Salesforce record ids: 15-char case-sensitive ids, the 18-char checksum form, and id minting."""

from __future__ import annotations

import re

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")


def checksum(id15: str) -> str:
    """The three-character suffix that makes a 15-char id case-insensitively unique."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_CHECKSUM_ALPHABET[bits])
    return "".join(out)


def to18(record_id: str) -> str:
    return record_id if len(record_id) == 18 else record_id + checksum(record_id)


def normalize(value: object) -> str | None:
    """The 18-char form of a well-formed 15/18-char id (checksum verified), else None."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    id15 = value[:15]
    if len(value) == 18 and value[15:].upper() != checksum(id15):
        return None
    return id15 + checksum(id15)


def base62(n: int, width: int) -> str:
    chars = []
    while n:
        n, r = divmod(n, 62)
        chars.append(_BASE62[r])
    s = "".join(reversed(chars)) or "0"
    if len(s) > width:
        raise OverflowError("id space exhausted")
    return s.rjust(width, "0")


def mint(prefix: str, counter: int, pod: str = "8d") -> str:
    """A new 18-char id: key prefix (3) + pod (2) + base62 counter (10) + checksum (3)."""
    return to18(prefix + pod + base62(counter, 10))
