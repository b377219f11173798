"""Text as a person meant it: one Unicode spelling, visible characters, plain spaces.

Copied from a web page, a PDF or a spreadsheet, a value carries characters nobody sees: a zero-width space, a
byte-order mark, a soft hyphen, left-to-right marks around a phone number, a no-break or narrow no-break space
(the French thousands and phone separator). ``visible`` removes the invisible format characters (Unicode
category Cf) and writes every space separator (Zs) as a plain space, after NFC (an accent typed as a combining
mark is the composed letter). In names and free text the zero-width joiner and non-joiner stay: they spell
words in Persian and Indic scripts and hold emoji sequences together.
"""

from __future__ import annotations

import unicodedata

_JOINERS = frozenset({"\u200c", "\u200d"})


def visible(text: str, *, keep_joiners: bool = True) -> str:
    """``text`` in NFC without invisible format characters, every Unicode space a plain space (not trimmed)."""
    if text.isascii():
        return text
    out = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if category == "Zs":
            out.append(" ")
        elif category != "Cf" or (keep_joiners and ch in _JOINERS):
            out.append(ch)
    return "".join(out)
