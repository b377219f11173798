"""Normalising the keys that matching compares: company names, domains, e-mails and phone numbers.

Pure functions, no I/O. ``phonenumbers`` is a pure library (metadata bundled), so it belongs here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

# Legal-form tokens stripped from the end of a company name (after punctuation and accents are gone).
LEGAL_SUFFIXES: frozenset[str] = frozenset(
    {
        # Nordics
        "as",
        "asa",
        "ab",
        "publ",
        "aps",
        "oy",
        "oyj",
        "hf",
        "ehf",
        "ans",
        "da",
        "ba",
        "sa",
        # German-speaking
        "gmbh",
        "ag",
        "kg",
        "ohg",
        "ug",
        "mbh",
        "eg",
        "ev",
        "kgaa",
        "se",
        # Benelux / France / Southern Europe
        "bv",
        "nv",
        "vof",
        "cv",
        "bvba",
        "sprl",
        "srl",
        "sarl",
        "sas",
        "sasu",
        "sca",
        "spa",
        "sl",
        "sau",
        "lda",
        "scrl",
        # UK / Ireland / US / Commonwealth
        "ltd",
        "limited",
        "plc",
        "llp",
        "lp",
        "llc",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "pty",
        "pte",
        "dac",
        "uc",
        "clg",
        # Central / Eastern Europe
        "sro",
        "kft",
        "zrt",
        "nyrt",
        "doo",
        "dd",
        "oo",
        "spzoo",
        "sp",
        "zoo",
        "ooo",
        "zao",
        "oao",
        "pao",
    }
)
# Multi-token forms, as they look after dots are removed and other punctuation became spaces.
LEGAL_SUFFIX_SEQUENCES: tuple[tuple[str, ...], ...] = (
    ("a", "s"),
    ("sa", "rl"),
    ("s", "a", "r", "l"),
    ("s", "r", "l"),
    ("sp", "z", "oo"),
    ("sp", "zoo"),
    ("gmbh", "co", "kg"),
    ("gmbh", "and", "co", "kg"),
    ("ab", "publ"),
    ("pty", "ltd"),
    ("pvt", "ltd"),
    ("private", "limited"),
    ("public", "limited", "company"),
)
_CONNECTORS = frozenset({"and", "und", "og", "och", "en", "et"})
_EXTRA_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "Ae",
        "œ": "oe",
        "Œ": "Oe",
        "ß": "ss",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
    }
)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold_accents(text: str) -> str:
    """'Müller Øst Société' -> 'Muller Ost Societe' (letters without a decomposition are mapped by hand)."""
    text = text.translate(_EXTRA_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(name: str) -> list[str]:
    folded = fold_accents(name).lower().replace("&", " and ").replace("+", " and ")
    # Dots inside abbreviations go first ("B.V." -> "bv", "S.A." -> "sa"); every other symbol splits.
    folded = folded.replace(".", "")
    return [t for t in _NON_WORD.split(folded) if t]


def _strip_suffixes(tokens: list[str]) -> list[str]:
    out = list(tokens)
    changed = True
    while changed and len(out) > 1:
        changed = False
        for seq in LEGAL_SUFFIX_SEQUENCES:
            n = len(seq)
            if len(out) > n and tuple(out[-n:]) == seq:
                del out[-n:]
                changed = True
                break
        if not changed and len(out) > 1 and (out[-1] in LEGAL_SUFFIXES or out[-1] in _CONNECTORS):
            out.pop()
            changed = True
    return out


@lru_cache(maxsize=65536)
def normalise_company_name(name: str | None) -> str:
    """The comparable form of a company name: accents, case, punctuation and legal forms removed.

    'Nord Logistics AS' == 'NORD LOGISTICS' == 'Nord-Logistics A.S.'; a name that is nothing but a legal
    form (e.g. 'AB') is kept rather than emptied.
    """
    if not name:
        return ""
    tokens = _tokens(name)
    if not tokens:
        return ""
    return " ".join(_strip_suffixes(tokens))


def name_block_keys(normalised: str) -> set[str]:
    """Keys under which a normalised name is filed for fuzzy candidate lookup: each word's first 4 letters
    and, for longer words, its last 4 (a typo rarely hits both ends of a word). Numbers count only when the
    name has nothing else."""
    keys: set[str] = set()
    tokens = normalised.split()
    words = [t for t in tokens if not t.isdigit()] or tokens  # numbers are weak evidence unless alone
    for token in words:
        if len(token) >= 2:
            keys.add(token[:4])
            if len(token) >= 6:
                keys.add("$" + token[-4:])
    return keys


_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://")


@lru_cache(maxsize=65536)
def domain_of(value: str | None) -> str | None:
    """The registrable-looking host of a URL, bare domain or e-mail address, without ``www.``.

    'https://www.Nord-Logistics.example/about' -> 'nord-logistics.example'; 'ola@nord.no' -> 'nord.no'.
    """
    if not value:
        return None
    text = value.strip().lower()
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    text = _SCHEME.sub("", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    for prefix in ("www.", "www2.", "www3."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if "." not in text or " " in text:
        return None
    return text


def normalise_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return None
    return value.strip().lower()


@lru_cache(maxsize=65536)
def normalise_phone(value: str | None, default_region: str | None = None) -> str | None:
    """E.164 form of a phone number, or None when it cannot be parsed as a possible number."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else (default_region or None))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
