"""Person names: trimmed, and capitalised sensibly when the submitter shouted or whispered them.

A word that already mixes upper and lower case is trusted as written (``DeShawn``, ``McDonald``,
``MacLeod``, ``d'Artagnan`` stay as they are). All-upper or all-lower words are capitalised,
with hyphens and apostrophes starting a new part (``Anne-Marie``, ``O'Neil``), ``Mc`` prefixes
handled (``McDonald``) and nobiliary particles kept lower case (``van der Berg``,
``de la Cruz``, ``von Trapp``) unless the particle is the whole name.
"""

from __future__ import annotations

import re
from functools import lru_cache

from leadflow_intake.domain.text import visible

PARTICLES = frozenset(
    {
        "van",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "das",
        "dos",
        "du",
        "la",
        "le",
        "von",
        "zu",
        "ter",
        "ten",
        "af",
        "av",
        "y",
        "bin",
        "ibn",
    }
)
_SPACES = re.compile(r"\s+")
_PARTS = re.compile(r"([\-'’])")


def _is_mixed_case(text: str) -> bool:
    letters = [c for c in text if c.isalpha() and (c.isupper() or c.islower())]
    return any(c.isupper() for c in letters) and any(c.islower() for c in letters)


def _capitalise_part(part: str) -> str:
    if not part:
        return part
    lowered = part.lower()
    if lowered.startswith("mc") and len(lowered) > 2 and lowered[2].isalpha():
        return "Mc" + lowered[2].upper() + lowered[3:]
    return lowered[0].upper() + lowered[1:]


def _capitalise_word(word: str) -> str:
    pieces = _PARTS.split(word)
    return "".join(p if _PARTS.fullmatch(p) else _capitalise_part(p) for p in pieces)


def normalise_name(raw: str | None, *, surname: bool = False) -> str | None:
    return None if raw is None else _normalise_name(raw, surname)


@lru_cache(maxsize=16384)  # names repeat a lot (first names above all); the work is pure
def _normalise_name(raw: str, surname: bool) -> str | None:
    """Trim and collapse whitespace; fix the case of all-upper / all-lower names. Empty → ``None``.

    Particles stay lower case only in surnames (``van der Berg``); a first name ``la toya`` becomes
    ``La Toya``.
    """
    text = _SPACES.sub(" ", visible(raw)).strip()
    if not text:
        return None
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        if _is_mixed_case(word):
            out.append(word)
        elif surname and word.lower() in PARTICLES and len(words) > 1 and i < len(words) - 1:
            out.append(word.lower())
        else:
            out.append(_capitalise_word(word))
    return " ".join(out)
