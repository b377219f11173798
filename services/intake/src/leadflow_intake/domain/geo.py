"""Company domains from websites; ``normalise_country``/``normalise_language`` are kept as the stable names of
``countries.resolve_country`` and ``languages.resolve_language``."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from leadflow_intake.domain.contact import ContactError, normalise_domain
from leadflow_intake.domain.countries import resolve_country
from leadflow_intake.domain.languages import resolve_language


def normalise_country(raw: str) -> str:
    """ISO 3166-1 alpha-2 for a code or a name in any CLDR language (see ``countries``). Raises ContactError."""
    return resolve_country(raw)


def normalise_language(raw: str) -> str:
    """A BCP 47 tag for a tag or a language name (see ``languages``). Raises ContactError."""
    return resolve_language(raw)


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
