"""Countries as people write them → ISO 3166-1 alpha-2.

Resolved from maintained data, not a hand list:
- ISO 3166-1 alpha-2 and alpha-3 codes and the ISO English names (``pycountry``);
- the territory names of every CLDR locale (``babel``), so "România", "Rumänien", "Roemenië",
  "Norge", "Noreg", "Tyskland", "Allemagne", "Niemcy" … all resolve. The founding markets' languages
  (EN, NO/NB/NN, SV, DA, FI, DE, NL, FR, ES, IT, PT, PL, RO) win where two locales use one name
  for different territories.

Names are compared case-insensitively and without diacritics (Unicode NFKD, combining marks
removed, ``casefold``), with dots, a leading "the " and surrounding punctuation ignored: "ROMANIA",
"romania", "România" and "Romania." are one key. Only real countries (two-letter CLDR territories,
not "EU"/"UN"/"ZZ"/pseudo-locales) are indexed.

A handful of colloquial names that neither ISO nor CLDR lists ("UK", "USA", "Holland", "England")
are added on top as :data:`COLLOQUIAL`.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import pycountry
from babel import Locale, localedata

from leadflow_intake.domain.contact import ContactError

MARKET_LOCALES: tuple[str, ...] = (
    "en",
    "nb",
    "nn",
    "no",
    "sv",
    "da",
    "fi",
    "de",
    "nl",
    "fr",
    "es",
    "it",
    "pt",
    "pl",
    "ro",
)
"""Locales whose names win a clash (the markets leadflow sells in)."""

NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})
"""Two-letter CLDR territory codes that are groupings or test regions, not countries."""

COLLOQUIAL: dict[str, str] = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "us": "US",
    "america": "US",
    "united states of america": "US",
    "holland": "NL",
    "ivory coast": "CI",
    "uae": "AE",
    "emirates": "AE",
    "czech republic": "CZ",
    "macedonia": "MK",
    "swaziland": "SZ",
    "burma": "MM",
    "cape verde": "CV",
    "east timor": "TL",
}


class CountryError(ContactError):
    """The text names no country we know; ``str(error)`` says why without repeating it."""


_NO_DECOMPOSITION = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
    }
)
_TRANSLITERATED = str.maketrans(
    {"ä": "ae", "Ä": "AE", "ö": "oe", "Ö": "OE", "ü": "ue", "Ü": "UE", "å": "aa", "Å": "AA", "ø": "oe", "Ø": "OE"}
)


def fold(text: str) -> str:
    """The comparison key: NFKD without combining marks (and ø/æ/ß/ł … spelled out), case-folded,
    dots removed, spaces collapsed, a leading "the " dropped."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFC", text).translate(_NO_DECOMPOSITION))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    key = " ".join(stripped.replace(".", "").replace("_", " ").split()).casefold().strip(" ,;:()[]\"'")
    return key[4:] if key.startswith("the ") else key


def _is_country(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code.isupper() and code not in NOT_COUNTRIES


def _keys(name: str) -> tuple[str, ...]:
    """The folded name and its transliterated spelling ("Österreich" → "osterreich", "oesterreich")."""
    return (fold(name), fold(unicodedata.normalize("NFC", name).translate(_TRANSLITERATED)))


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                for key in _keys(value):
                    index.setdefault(key, country.alpha_2)
    others = sorted(i for i in localedata.locale_identifiers() if "_" not in i and i not in MARKET_LOCALES)
    for ident in (*MARKET_LOCALES, *others):
        try:
            names = Locale.parse(ident).territories
        except (ValueError, KeyError):  # pragma: no cover - a CLDR locale babel cannot load
            continue
        for code, name in names.items():
            if _is_country(code):
                index.setdefault(fold(code), code)  # CLDR-only codes: XK, AC, TA …
                for key in _keys(name):
                    index.setdefault(key, code)
    for name, code in COLLOQUIAL.items():
        index.setdefault(fold(name), code)
    return index


def warm() -> None:
    """Build the index now (a service calls this at start so the first lead is not slow)."""
    _index()


@lru_cache(maxsize=8192)
def resolve_country(raw: str) -> str:
    """ISO 3166-1 alpha-2 for a code (alpha-2/-3) or a name in any CLDR language. Raises CountryError."""
    key = fold(raw)
    if not key:
        raise CountryError("it is empty")
    code = _index().get(key)
    if code is None:
        raise CountryError("it is not an ISO 3166 code or a country name in any CLDR language")
    return code


def country_names(code: str, locales: tuple[str, ...] = MARKET_LOCALES) -> dict[str, str]:
    """The CLDR name of ``code`` in each of ``locales`` (tests, docs, the demo generator)."""
    out: dict[str, str] = {}
    for ident in locales:
        name = Locale.parse(ident).territories.get(code)
        if name:
            out[ident] = name
    return out
