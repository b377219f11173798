"""A deterministic corpus of leads as the world writes them, each with the verdict intake must reach.

Test helper (intake's and the importer's tests use it; nothing in the service imports it). Every lead
is built from a known truth — a country, a valid phone number of that country, a language, a kind of
e-mail address — then *written* the way real marketing systems write it: country codes in any case,
English and local names (CLDR, every market language) with and without diacritics, phone numbers in
E.164, international, national, ``00``-prefixed, dotted and bracketed forms, language tags and names,
ASCII, IDN and Unicode e-mail addresses, over-long addresses, markup in names, long fields. The
expectation is derived from that truth and the documented rules (services/intake/docs/publishing.md,
"Contact data: the exact rules"), not by running intake's code.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import pycountry
from babel import Locale

MARKETS: dict[str, str] = {
    # country → its main language tag
    "GB": "en", "IE": "en", "US": "en", "NO": "nb", "SE": "sv", "DK": "da", "FI": "fi", "DE": "de", "AT": "de",
    "CH": "de", "NL": "nl", "BE": "nl", "FR": "fr", "ES": "es", "IT": "it", "PT": "pt", "PL": "pl", "RO": "ro",
}  # fmt: skip
NAME_LOCALES = ("en", "nb", "nn", "sv", "da", "fi", "de", "nl", "fr", "es", "it", "pt", "pl", "ro")
DEFAULT_REGION = "DE"
"""The default region the corpus assumes intake is configured with (``INTAKE_DEFAULT_REGION``)."""

FIRST_NAMES = ["Ola", "Kari", "Åse", "Søren", "Jürgen", "Chloé", "Ioana", "Ștefan", "Łukasz", "Zoë", "José",
               "Anne-Marie", "O'Neil", "Björn", "Väinö", "Inês", "Françoise", "Dmitri", "Ελένη", "王"]  # fmt: skip
LAST_NAMES = ["Nordmann", "van der Berg", "Popescu", "Müller", "García", "Kowalski", "Ø'Brien", "Mäkinen",
              "Lindqvist", "Dupont", "Rossi", "Silva", "Jensen", "Ionescu", "Brâncuși", "Παπαδόπουλος"]  # fmt: skip
MARKUP_NAMES = ["<b>Ola</b>", "<script>alert(1)</script>", "Robert'); DROP TABLE leads;--", "=HYPERLINK(\"x\")",
                "Kari & Co <kari>", "😀 Smiley"]  # fmt: skip
ASCII_DOMAINS = ["fjordkraft.no", "acme-industries.de", "firma.ro", "bedrijf.nl", "yritys.fi", "empresa.es",
                 "azienda.it", "entreprise.fr", "firma.pl", "foretag.se", "virksomhed.dk", "gmail.com"]  # fmt: skip
IDN_DOMAINS = ["bücher.de", "øl.no", "façade.fr", "smörgås.se", "ærø.dk", "köln-büro.de", "måløy.no",
               "señor.es", "café.fr", "zürich-ag.ch", "brașov.ro", "łódź.pl"]  # fmt: skip
UNICODE_LOCALS = ["chloé.garcía", "jörg", "иван", "γιάννης", "王小明", "søren.ærø", "ștefan", "łukasz", "müller",
                  "josé", "zoë"]  # fmt: skip
BAD_EMAILS = ["eva@@bad.no", "no-at-sign.de", "a b@c.de", "x@localhost", "@example.com", "a..b@c.de",
              "trailing.@x.no", "x@-bad.com"]  # fmt: skip
GARBAGE_PHONES = ["n/a", "12", "0000", "call me", "+", "ring meg", "???"]
UNKNOWN_COUNTRIES = ["Atlantis", "Narnia", "Xyzland", "Europe", "Scandinavia", "Earth", "Nordics"]
UNKNOWN_LANGUAGES = ["klingonish", "xx", "Elvish", "123"]


@dataclass(frozen=True)
class Expected:
    status: str
    """``accepted`` or ``rejected``."""
    reason: str | None = None
    country: str | None = None
    phone_e164: str | None = None
    phone_unverified: str | None = None
    language: str | None = None
    email: str | None = None
    email_decision: str | None = None
    email_original: str | None = None


@dataclass(frozen=True)
class CorpusLead:
    index: int
    payload: dict[str, Any]
    expected: Expected
    kinds: dict[str, str] = field(default_factory=dict)
    """How each field was written (``country: local_name_folded``, ``phone: national`` …), for reports."""

    @property
    def event_id(self) -> str:
        return str(self.payload["event_id"])

    def row(self) -> dict[str, str]:
        """The lead as a spreadsheet row (headers the importer recognises)."""
        p, c = self.payload["person"], self.payload["company"]
        return {
            "First name": p.get("first_name") or "",
            "Last name": p.get("last_name") or "",
            "Email": p.get("email") or "",
            "Phone": p.get("phone") or "",
            "Language": p.get("language") or "",
            "Company": c.get("name") or "",
            "Country": c.get("country") or "",
            "Message": self.payload.get("message") or "",
        }


def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _vary(number: phonenumbers.PhoneNumber, rng: random.Random) -> phonenumbers.PhoneNumber:
    """Another valid number of the same type: the example with its last digits changed."""
    national = str(number.national_number)
    for _ in range(20):
        tail = "".join(rng.choice("0123456789") for _ in range(min(3, len(national) - 2)))
        candidate = phonenumbers.PhoneNumber(
            country_code=number.country_code, national_number=int(national[: -len(tail)] + tail)
        )
        if phonenumbers.is_valid_number(candidate):
            return candidate
    return number


def _number(region: str, rng: random.Random) -> phonenumbers.PhoneNumber:
    kinds = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    for kind in rng.sample(kinds, 2):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            return _vary(example, rng)
    example = phonenumbers.example_number(region)
    assert example is not None
    return example


def _written_phone(number: phonenumbers.PhoneNumber, style: str) -> str:
    fmt = phonenumbers.PhoneNumberFormat
    international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
    if style == "e164":
        return phonenumbers.format_number(number, fmt.E164)
    if style == "international":
        return international
    if style == "double_zero":
        return "00" + international[1:]
    if style == "dotted_international":
        return international.replace(" ", ".").replace("-", ".")
    if style == "national":
        return phonenumbers.format_number(number, fmt.NATIONAL)
    if style == "national_compact":
        return "".join(ch for ch in phonenumbers.format_number(number, fmt.NATIONAL) if ch.isdigit())
    if style == "national_dashed":
        return "-".join(phonenumbers.format_number(number, fmt.NATIONAL).split())
    raise ValueError(style)


INTERNATIONAL_STYLES = ("e164", "international", "double_zero", "dotted_international")
NATIONAL_STYLES = ("national", "national_compact", "national_dashed")


def _written_country(code: str, rng: random.Random) -> tuple[str, str]:
    country = pycountry.countries.get(alpha_2=code)
    assert country is not None
    style = rng.choice(["alpha2", "alpha2_lower", "alpha3", "english", "local", "local", "local_folded",
                        "local_upper", "other_market"])  # fmt: skip
    if style == "alpha2":
        return code, style
    if style == "alpha2_lower":
        return code.lower(), style
    if style == "alpha3":
        return country.alpha_3 if rng.random() < 0.5 else country.alpha_3.lower(), style
    if style == "english":
        return Locale("en").territories[code], style
    if style == "other_market":
        locale = rng.choice(NAME_LOCALES)
        return Locale.parse(locale).territories[code], f"name_{locale}"
    own = MARKETS.get(code, "en")
    name = Locale.parse(own).territories[code]
    if style == "local_folded":
        return strip_accents(name), style
    if style == "local_upper":
        return name.upper(), style
    return name, style


def _written_language(tag: str, rng: random.Random) -> tuple[str, str, str]:
    """(what the lead says, style, the expected BCP 47 tag)."""
    style = rng.choice(["tag", "tag_upper", "tag_region", "english_name", "autonym"])
    if style == "tag":
        return tag, style, tag
    if style == "tag_upper":
        return tag.upper(), style, tag
    if style == "tag_region":
        region = {"en": "GB", "nb": "NO", "sv": "SE", "da": "DK", "fi": "FI", "de": "DE", "nl": "NL", "fr": "FR",
                  "es": "ES", "it": "IT", "pt": "PT", "pl": "PL", "ro": "RO"}[tag]  # fmt: skip
        return f"{tag}_{region.lower()}", style, f"{tag}-{region}"
    if style == "english_name":
        return Locale("en").languages[tag], style, tag
    return Locale.parse(tag).languages[tag], style, tag


def _email(first: str, domain_ascii: str, rng: random.Random) -> tuple[str, str, str | None]:
    """(what the lead says, decision, the stored form)."""
    kind = rng.choices(["ascii", "idn", "unicode_local", "too_long", "invalid"], weights=[55, 15, 15, 5, 10])[0]
    base = strip_accents(first).lower().replace("'", "").replace(" ", "") or "lead"
    base = "".join(ch for ch in base if ch.isascii() and (ch.isalnum() or ch in ".-")) or "lead"
    if kind == "ascii":
        local = f"{base}.{rng.randint(1, 999)}"
        written_domain = rng.choice([domain_ascii, domain_ascii.upper(), domain_ascii.title()])
        return f"{local}@{written_domain}", "stored", f"{local}@{domain_ascii}"
    if kind == "idn":
        domain = rng.choice(IDN_DOMAINS)
        local = f"{base}{rng.randint(1, 99)}"
        return f"{local}@{domain}", "stored_punycode", f"{local}@{domain.encode('idna').decode('ascii')}"
    if kind == "unicode_local":
        local = rng.choice(UNICODE_LOCALS)
        return f"{local}@{rng.choice([domain_ascii, *IDN_DOMAINS])}", "not_storable", None
    if kind == "too_long":
        local = ("firstname.middlename.lastname.department" + "x" * 30)[: rng.randint(62, 64)]
        return f"{local}@{rng.choice(['acme-industries.de', 'fjordkraft-energi.no'])}", "not_storable", None
    return rng.choice(BAD_EMAILS), "invalid", None


def build_corpus(size: int = 3200, *, seed: int = 11) -> list[CorpusLead]:
    """``size`` leads, the same every time for the same seed."""
    leads = []
    codes = sorted(MARKETS)
    for i in range(size):
        rng = random.Random(seed * 1_000_003 + i)
        code = codes[i % len(codes)] if rng.random() < 0.85 else rng.choice(["US", "GB", "RO", "NO", "NL"])
        kinds: dict[str, str] = {}
        # -- country
        mode = rng.choices(["resolved", "unresolved", "absent"], weights=[80, 8, 12])[0]
        country_text: str | None
        if mode == "resolved":
            country_text, kinds["country"] = _written_country(code, rng)
        elif mode == "unresolved":
            country_text, kinds["country"] = rng.choice(UNKNOWN_COUNTRIES), "unknown"
        else:
            country_text, kinds["country"] = None, "absent"
            if rng.random() < 0.5:
                code = DEFAULT_REGION  # a lead without a country, from the default region's market
        expected_country = code if mode == "resolved" else None
        # -- phone
        phone_kind = rng.choices(["number", "garbage", "absent"], weights=[82, 6, 12])[0]
        phone_text: str | None = None
        phone_e164: str | None = None
        phone_unverified: str | None = None
        if phone_kind == "number":
            number = _number(code, rng)
            national_ok = mode == "resolved" or (mode == "absent" and code == DEFAULT_REGION)
            if mode == "unresolved" and rng.random() < 0.5:
                style = rng.choice(NATIONAL_STYLES)  # cannot be verified without its country
            elif national_ok and rng.random() < 0.5:
                style = rng.choice(NATIONAL_STYLES)
            else:
                style = rng.choice(INTERNATIONAL_STYLES)
            phone_text = _written_phone(number, style)
            kinds["phone"] = style
            if style in NATIONAL_STYLES and not national_ok:
                phone_unverified = phone_text.strip()
            else:
                phone_e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        elif phone_kind == "garbage":
            phone_text = rng.choice(GARBAGE_PHONES)
            phone_unverified, kinds["phone"] = phone_text.strip(), "garbage"
        else:
            kinds["phone"] = "absent"
        # -- language
        language_text: str | None = None
        expected_language: str | None = None
        lang_mode = rng.choices(["known", "unknown", "absent"], weights=[80, 5, 15])[0]
        if lang_mode == "known":
            tag = MARKETS.get(code, "en") if rng.random() < 0.8 else rng.choice(sorted(set(MARKETS.values())))
            language_text, kinds["language"], expected_language = _written_language(tag, rng)
        elif lang_mode == "unknown":
            language_text, kinds["language"] = rng.choice(UNKNOWN_LANGUAGES), "unknown"
        else:
            kinds["language"] = "absent"
        # -- names, company, e-mail
        first = rng.choice(MARKUP_NAMES) if rng.random() < 0.05 else rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES) if rng.random() < 0.97 else "Long" + "x" * 96
        company = rng.choice(["Fjordkraft AS", "Acme Industries GmbH", "Firma SRL", "Café Crème SARL",
                              "Łódź Sp. z o.o.", "<i>Markup</i> & Co", "C" * 255])  # fmt: skip
        email_text: str | None = None
        email_stored: str | None = None
        email_decision: str | None = None
        if rng.random() < 0.9:
            email_text, email_decision, email_stored = _email(first, rng.choice(ASCII_DOMAINS), rng)
            kinds["email"] = email_decision
        else:
            kinds["email"] = "absent"
        # -- the verdict the rules give
        # a valid address Salesforce cannot store still reaches the person (email_original)
        usable = email_decision in {"stored", "stored_punycode", "not_storable"} or phone_e164 is not None
        if usable:
            expected = Expected(
                status="accepted",
                country=expected_country,
                phone_e164=phone_e164,
                phone_unverified=phone_unverified,
                language=expected_language,
                email=email_stored,
                email_decision=email_decision,
                email_original=email_text.strip() if email_text and email_stored is None else None,
            )
        else:
            reason = "invalid_email" if email_text else ("invalid_phone" if phone_text else "no_contact")
            expected = Expected(status="rejected", reason=reason)
        message = None
        if rng.random() < 0.3:
            message = rng.choice(["Ring meg etter kl. 15", "Bitte um Rückruf", "<p>Hello</p>\nSecond line",
                                  "Sună-mă mâine", "Call me on my mobile", "x" * 3000])  # fmt: skip
        payload: dict[str, Any] = {
            "event_id": f"corpus-{seed}-{i}",
            "occurred_at": "2026-12-04T09:30:00.123456Z",
            "source": {"system": "corpus"},
            "lead_source": "web_form",
            "person": {k: v for k, v in {"first_name": first, "last_name": last, "email": email_text,
                                         "phone": phone_text, "language": language_text}.items() if v is not None},
            "company": {k: v for k, v in {"name": company, "country": country_text}.items() if v is not None},
            "consent": {"may_call": True, "may_email": True},
        }  # fmt: skip
        if message:
            payload["message"] = message
        leads.append(CorpusLead(i, payload, expected, kinds))
    return leads


def actual_from_accepted(event: dict[str, Any]) -> Expected:
    """What intake decided, in the shape of ``Expected`` (from a ``LeadAccepted`` as JSON)."""
    lead = event["lead"]
    step = event["trace"][-1]["data"]
    return Expected(
        status="accepted",
        country=lead.get("country"),
        phone_e164=lead.get("phone_e164"),
        phone_unverified=lead.get("phone_unverified"),
        language=lead.get("language"),
        email=lead.get("email"),
        email_decision=step.get("email_decision"),
        email_original=lead.get("email_original"),
    )
