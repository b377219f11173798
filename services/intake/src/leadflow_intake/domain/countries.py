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

A handful of colloquial names that neither ISO nor CLDR lists ("UK", "USA", "Holland", "England", the
EU's "EL" for Greece) are added on top as :data:`COLLOQUIAL`. ISO's inverted names are indexed in natural
order too ("Korea, Republic of" → "Republic of Korea").

When the whole text names no country, two forms people write are read (``_by_form``):
- an ISO 3166-2 subdivision code (``DE-BY``, ``GB-SCT``, ``ES-CT``: ``pycountry.subdivisions``) → its country;
- several parts (``Belgique / België``, ``Deutschland (DE)``, ``Schweiz/Suisse``, ``Munich, Germany``): the
  country the parts that name one agree on. Parts naming different countries (``Georgia, USA``) resolve to
  nothing, never to a guess.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import pycountry
from babel import Locale, localedata

from leadflow_intake.domain.contact import ContactError
from leadflow_intake.domain.text import visible

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
    "el": "GR",  # the EU's own code for Greece (Interinstitutional Style Guide), beside ISO's GR
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
    decomposed = unicodedata.normalize("NFKD", visible(text, keep_joiners=False).translate(_NO_DECOMPOSITION))
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
                head, sep, tail = value.partition(", ")
                if sep and attr != "alpha_2":  # "Korea, Republic of" is also written "Republic of Korea"
                    for key in _keys(f"{tail} {head}"):
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
    code = _index().get(key) or _by_form(raw)
    if code is None:
        raise CountryError("it is not an ISO 3166 code or a country name in any CLDR language")
    return code


_SUBDIVISION = re.compile(r"\s*([A-Za-z]{2})-[A-Za-z0-9]{1,3}\s*")
_ALTERNATIVES = re.compile(r"\s*[/|;]\s*")
_TRAILING_BRACKET = re.compile(r"(.+?)\s*[(\[]([^()\[\]]+)[)\]]\s*")
_COMMA = re.compile(r"\s*,\s+")
_PARTS = re.compile(r"\s*(?:[/|;()\[\]]|,\s)\s*")


@lru_cache(maxsize=1)
def _subdivisions() -> dict[str, str]:
    """ISO 3166-2 code → the country's alpha-2 (``pycountry``)."""
    return {str(sub.code).upper(): str(sub.country_code) for sub in pycountry.subdivisions}


def _splits(raw: str) -> list[list[str]]:
    """Ways to read ``raw`` as parts, coarsest first, so a name holding brackets itself stays whole as long as
    possible: alternatives ("A / B"), a trailing bracket ("A (DE)"), a comma ("Munich, A"), then every part."""
    out = [_ALTERNATIVES.split(raw)]
    if (m := _TRAILING_BRACKET.fullmatch(raw)) is not None:
        out.append([m.group(1), m.group(2)])
    out += [_COMMA.split(raw), _PARTS.split(raw)]
    return [[p for p in parts if p.strip()] for parts in out]


def _by_form(raw: str) -> str | None:
    """A subdivision code, or the one country the parts of ``raw`` that name a country agree on."""
    if _SUBDIVISION.fullmatch(raw) is not None:
        return _subdivisions().get(raw.strip().upper())
    for parts in _splits(raw):
        if len(parts) < 2:
            continue
        found = {code for p in parts if (code := _index().get(fold(p)))}
        if len(found) > 1:
            return None  # the parts name different countries: no guess
        if found:
            return found.pop()
    return None


def country_names(code: str, locales: tuple[str, ...] = MARKET_LOCALES) -> dict[str, str]:
    """The CLDR name of ``code`` in each of ``locales`` (tests, docs, the demo generator)."""
    out: dict[str, str] = {}
    for ident in locales:
        name = Locale.parse(ident).territories.get(code)
        if name:
            out[ident] = name
    return out
