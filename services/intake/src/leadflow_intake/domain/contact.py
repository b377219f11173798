"""Contact data: e-mail addresses and phone numbers.

E-mail: trimmed, ``mailto:`` and angle brackets removed, domain lower-cased (the local part is
kept as written: it is case-sensitive by the RFC, even if few servers care), checked for
syntax (dot-atom local part incl. UTF-8 letters, ≤ 64/254 characters, a domain of ≥ 2 valid
labels whose TLD is not numeric). Quoted local parts and IP-literal domains are refused: no
marketing form produces them and no telesales team can use them.

Phone: parsed by ``phonenumbers`` in the lead's country (or the source's default region),
checked with ``is_valid_number`` and formatted as E.164. Extensions are dropped (E.164 has none).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import phonenumbers

from leadflow_intake.domain.text import visible

_LOCAL_PART = re.compile(r"^[\w!#$%&'*+/=?^`{|}~\-]+(?:\.[\w!#$%&'*+/=?^`{|}~\-]+)*$")
_WHITESPACE = re.compile(r"\s")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Email:
    address: str
    domain: str
    is_free: bool

    @property
    def canonical(self) -> str:
        """The form used for suppression hashes and duplicate checks: the whole address lower-cased."""
        return self.address.lower()


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    country: str | None


class ContactError(ValueError):
    """A contact value that cannot be used; ``str(error)`` says why, without repeating the value."""


@lru_cache(maxsize=1)
def free_email_domains() -> frozenset[str]:
    text = resources.files("leadflow_intake.data").joinpath("free_email_domains.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def is_free_email_domain(domain: str) -> bool:
    return domain.lower() in free_email_domains()


@lru_cache(maxsize=16384)
def normalise_domain(raw: str) -> str:
    """Lower-case, strip a trailing dot, validate the labels (IDNA for non-ASCII). Raises ContactError."""
    domain = raw.strip().rstrip(".").lower()
    if not domain:
        raise ContactError("the domain is empty")
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError as exc:
        raise ContactError("the domain is not a valid internationalised name") from exc
    if len(ascii_domain) > 253:
        raise ContactError("the domain is longer than 253 characters")
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise ContactError("the domain has no dot")
    for label in labels:
        if not _LABEL.match(label):
            raise ContactError("the domain has an empty or invalid label")
    tld = labels[-1]
    if tld.isdigit() or (len(tld) < 2):
        raise ContactError("the domain's top-level label is not valid")
    return domain


def normalise_email(raw: str) -> Email:
    """Clean and check an address. Raises ContactError naming what is wrong."""
    # One Unicode spelling (NFC: an accent typed as a combining mark is the same letter), then the forms an
    # address is pasted in: "mailto:…", "<…>", and with a display name, "Anna Berg <anna@example.com>".
    text = visible(raw, keep_joiners=False).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:].strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1 : -1].strip()
    if not text:
        raise ContactError("it is empty")
    if _WHITESPACE.search(text):
        raise ContactError("it contains whitespace")
    if text.count("@") != 1:
        raise ContactError("it must contain exactly one @")
    local, _, domain_part = text.partition("@")
    if not local:
        raise ContactError("the part before @ is empty")
    if len(local) > 64:
        raise ContactError("the part before @ is longer than 64 characters")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ContactError("the part before @ has a misplaced dot")
    if not _LOCAL_PART.match(local):
        raise ContactError("the part before @ contains characters not allowed in an address")
    domain = normalise_domain(domain_part)
    address = f"{local}@{domain}"
    if len(address) > 254:
        raise ContactError("it is longer than 254 characters")
    return Email(address=address, domain=domain, is_free=is_free_email_domain(domain))


def normalise_phone(raw: str, region: str | None) -> Phone:
    """Parse ``raw`` (national numbers in ``region``) into E.164. Raises ContactError naming what is wrong."""
    text = visible(raw, keep_joiners=False).strip()  # no-break spaces, bidi marks around a number
    if not text:
        raise ContactError("it is empty")
    if text.startswith("00") and region is None:
        text = "+" + text[2:]
    try:
        # Without a region, phonenumbers reads a number only in international form, however it is written:
        # "+47 …", "(+47) …", "tel:+47…", a full-width "＋４７…".
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        no_plus = "+" not in text and "\uff0b" not in text  # ＋, the full-width plus
        if region is None and no_plus and exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ContactError("it has no country code and neither the lead nor the source gives a country") from exc
        raise ContactError(f"it cannot be read as a phone number ({_parse_error(exc)})") from exc
    if text.startswith("00") and region is not None and not phonenumbers.is_valid_number(number):
        # "00" is the international prefix of most of the world; where the region's own differs (US: 011)
        # a number written "00 <country code> …" is still international, never national.
        with contextlib.suppress(phonenumbers.NumberParseException):
            number = phonenumbers.parse("+" + text[2:], None)
    # Common case first: the number belongs to the region it was read in, so one metadata check
    # decides. Otherwise (+1 / +44 shared by several regions, or a foreign number) ask which region
    # the number belongs to, as ``is_valid_number`` would.
    if (
        region is not None
        and number.country_code == phonenumbers.country_code_for_region(region)
        and phonenumbers.is_valid_number_for_region(number, region)
    ):
        country: str | None = region
    else:
        country = phonenumbers.region_code_for_number(number)
        if country is None or not phonenumbers.is_valid_number_for_region(number, country):
            raise ContactError("it is not a valid number for its country")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, country=country)


def _parse_error(exc: phonenumbers.NumberParseException) -> str:
    return {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "unreadable")
