"""Countries (ISO 3166-1 alpha-2), language tags (BCP 47 case conventions) and company domains."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

import pycountry

from leadflow_intake.domain.contact import ContactError, normalise_domain

# Names people actually type that ISO does not list (pycountry covers codes, names, official and
# common names). Keys are compared after lower-casing and removing dots and a leading "the ".
COUNTRY_ALIASES: dict[str, str] = {
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "united kingdom": "GB",
    "usa": "US", "us": "US", "america": "US", "united states of america": "US",
    "deutschland": "DE", "allemagne": "DE", "germania": "DE",
    "holland": "NL", "nederland": "NL", "netherlands": "NL",
    "österreich": "AT", "oesterreich": "AT",
    "schweiz": "CH", "suisse": "CH", "svizzera": "CH",
    "españa": "ES", "espana": "ES", "italia": "IT", "polska": "PL", "belgië": "BE", "belgique": "BE",
    "danmark": "DK", "sverige": "SE", "norge": "NO", "suomi": "FI", "česko": "CZ", "czechia": "CZ",
    "russia": "RU", "south korea": "KR", "korea": "KR", "north korea": "KP", "turkey": "TR",
    "ivory coast": "CI", "uae": "AE", "emirates": "AE", "vietnam": "VN", "iran": "IR", "syria": "SY",
    "taiwan": "TW", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "moldova": "MD", "laos": "LA",
    "macedonia": "MK", "kosovo": "XK",
}
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")


def _country_key(text: str) -> str:
    key = " ".join(text.replace(".", "").split()).lower()
    return key[4:] if key.startswith("the ") else key


@lru_cache(maxsize=1)
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                index.setdefault(_country_key(value), country.alpha_2)
    index.update(COUNTRY_ALIASES)
    return index


@lru_cache(maxsize=4096)
def normalise_country(raw: str) -> str:
    """ISO 3166-1 alpha-2 for a code (alpha-2/-3) or an English/local name. Raises ContactError."""
    key = _country_key(raw)
    if not key:
        raise ContactError("it is empty")
    code = _country_index().get(key)
    if code is None:
        raise ContactError("it is not an ISO 3166 code or a known country name")
    return code


@lru_cache(maxsize=1)
def _language_names() -> dict[str, str]:
    out: dict[str, str] = {}
    for lang in pycountry.languages:
        code = getattr(lang, "alpha_2", None) or lang.alpha_3
        out.setdefault(lang.name.lower(), code)
    return out


def _known_language(subtag: str) -> bool:
    if len(subtag) == 2:
        return pycountry.languages.get(alpha_2=subtag) is not None
    return pycountry.languages.get(alpha_3=subtag) is not None


@lru_cache(maxsize=4096)
def normalise_language(raw: str) -> str:
    """A BCP 47 tag with conventional case (``de``, ``nb-NO``, ``zh-Hant-TW``); ``de_DE`` and English
    names (``German``) are accepted. Raises ContactError for an unknown primary language."""
    text = raw.strip().replace("_", "-")
    if not text:
        raise ContactError("it is empty")
    by_name = _language_names().get(text.lower())
    if by_name is not None:
        return by_name
    if not _LANG_TAG.match(text):
        raise ContactError("it is not a BCP 47 language tag")
    primary, *rest = text.split("-")
    primary = primary.lower()
    if not _known_language(primary):
        raise ContactError("its primary language is not an ISO 639 code")
    out = [primary]
    for sub in rest:
        if len(sub) == 4 and sub.isalpha():
            out.append(sub.title())
        elif (len(sub) == 2 and sub.isalpha()) or (len(sub) == 3 and sub.isdigit()):
            out.append(sub.upper())
        else:
            out.append(sub.lower())
    return "-".join(out)


@lru_cache(maxsize=16384)
def domain_from_website(raw: str) -> str:
    """The registrable-looking host of a website: scheme, ``www.``, port, path and credentials removed."""
    text = raw.strip()
    if not text:
        raise ContactError("it is empty")
    if "://" not in text:
        text = "http://" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError as exc:
        raise ContactError("it is not a URL") from exc
    host = host.lower()
    if host.startswith("www."):
        host = host[4:]
    return normalise_domain(host)
