"""Languages → BCP 47 tags, through ``langcodes`` (IANA subtag registry + CLDR names).

- A tag is read first: ``en``, ``EN``, ``de_DE``, ``nb-no``, ``zh_hant_tw`` become ``en``, ``de-DE``,
  ``nb-NO``, ``zh-Hant-TW``; deprecated codes take their replacement (``iw`` → ``he``, ``in`` → ``id``).
  A tag wins over a name, so ``en`` is English and never the language *named* "En" (``enc``).
- Otherwise the text is looked up as a language name: exactly, among CLDR's names in English and the
  markets' languages (``German``, ``Tysk``, ``allemand``), then through ``langcodes.find`` (names in
  every language, incl. the language itself: ``Deutsch``, ``norsk bokmål``, ``română``), whose
  prefix matches are refused ("klingonish" is not Klingon).
Anything else raises ``LanguageError``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import langcodes
from babel import Locale

from leadflow_intake.domain.contact import ContactError

_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


class LanguageError(ContactError):
    """Not a language tag or name; ``str(error)`` says why without repeating the value."""


NAME_LANGUAGES: tuple[str, ...] = ("en", "nb", "nn", "sv", "da", "fi", "de", "nl", "fr", "es", "it", "pt", "pl", "ro")


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@lru_cache(maxsize=1)
def _cldr_names() -> dict[str, str]:
    """Exact language names from CLDR (babel) in English and the markets' languages → language code."""
    out: dict[str, str] = {}
    for ident in NAME_LANGUAGES:
        for code, name in Locale.parse(ident).languages.items():
            if "_" not in code:
                out.setdefault(_fold(name), code)
    return out


@lru_cache(maxsize=2048)
def _names_of(tag: str) -> frozenset[str]:
    """The language's name in English, in itself and in the markets' languages (folded)."""
    language = langcodes.Language.get(tag)
    names = {language.display_name(tag), language.autonym()}
    names.update(language.display_name(lang) for lang in NAME_LANGUAGES)
    return frozenset(_fold(n) for n in names)


def _from_tag(text: str) -> str | None:
    try:
        tag = langcodes.standardize_tag(text.replace("_", "-"))
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        return None
    language = langcodes.Language.get(tag)
    if not language.is_valid() or not language.language or language.language == "und":
        return None
    return tag


@lru_cache(maxsize=4096)
def resolve_language(raw: str) -> str:
    """A BCP 47 tag with conventional case for a tag or a language name. Raises LanguageError."""
    text = " ".join(raw.split())
    if not text:
        raise LanguageError("it is empty")
    if _TAG.match(text):
        tag = _from_tag(text)
        if tag is not None:
            return tag
    code = _cldr_names().get(_fold(text))
    if code is not None:
        tag = _from_tag(code)
        if tag is not None:
            return tag
    try:
        found = langcodes.find(text)
    except LookupError:
        found = None
    # ``find`` also matches a prefix ("klingonish" → Klingon): accept only an exact name.
    if found is not None and found.is_valid() and _fold(text) in _names_of(found.to_tag()):
        return found.to_tag()
    raise LanguageError("it is not a BCP 47 language tag or a language name")
