"""What Salesforce's Email field can store, decided once for intake and the list importer.

Salesforce's standard Email field (Lead.Email):
- holds at most 80 characters;
- accepts ASCII addresses; an internationalised domain (IDN) is accepted in its ASCII (punycode)
  form, so ``jörg@bücher.de`` is stored as ``jörg@xn--bcher-kva.de`` only if the *local part* is
  ASCII too;
- refuses a non-ASCII local part (``chloé@…``, ``иван@…``) with ``INVALID_EMAIL_ADDRESS`` unless
  the org has switched on *Email Address Internationalization* (EAI, Setup → Email → Email Address
  Internationalization), which is off by default. Whether it is on is a setting here
  (``INTAKE_EMAIL_ADDRESS_INTERNATIONALIZATION``, default off).

So an address gets one of these decisions:
- ``stored``: usable as written (domain lower-cased);
- ``stored_punycode``: usable once its IDN domain is written as punycode (the stored form);
- ``not_storable``: a valid address Salesforce cannot hold (non-ASCII local part without EAI, or
  longer than 80 characters in its stored form). The lead keeps it in ``email_original`` and the
  trace, not in ``email``;
- ``invalid``: not an e-mail address at all (syntax, see ``contact.normalise_email``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from email_validator import EmailNotValidError, validate_email

from leadflow_intake.domain.contact import ContactError, Email, is_free_email_domain, normalise_email

SALESFORCE_EMAIL_MAX_LENGTH = 80

EmailDecision = Literal["stored", "stored_punycode", "not_storable", "invalid"]


@dataclass(frozen=True, slots=True)
class EmailPolicy:
    internationalized: bool = False
    """The Salesforce org has Email Address Internationalization switched on."""
    max_length: int = SALESFORCE_EMAIL_MAX_LENGTH


@dataclass(frozen=True, slots=True)
class EmailVerdict:
    decision: EmailDecision
    email: Email | None
    """The form to store (``None`` unless the decision is ``stored``/``stored_punycode``)."""
    reason: str | None = None
    """Why the address is not stored (``not_storable``/``invalid``), never repeating the value."""
    code: str | None = None
    """A short code for that reason: ``invalid_email``, ``internationalized_email``, ``email_too_long``."""

    @property
    def stored(self) -> bool:
        return self.email is not None


@lru_cache(maxsize=16384)
def decide_email(raw: str, policy: EmailPolicy = EmailPolicy()) -> EmailVerdict:
    """Apply the Salesforce Email rule to what the lead sent."""
    try:
        email = normalise_email(raw)
    except ContactError as exc:
        return EmailVerdict("invalid", None, f"it is not a valid e-mail address: {exc}", "invalid_email")
    if email.address.isascii():
        domain = email.domain  # already checked label by label by normalise_email; nothing to convert
    else:
        # Internationalised: IDNA 2008 / UTS 46 conversion and the RFC 6531 checks of email-validator.
        try:
            checked = validate_email(
                email.address,
                check_deliverability=False,
                allow_smtputf8=True,
                allow_quoted_local=False,
                allow_domain_literal=False,
            )
        except EmailNotValidError as exc:
            return EmailVerdict("invalid", None, f"it is not a valid e-mail address: {exc}", "invalid_email")
        domain = checked.ascii_domain.lower()
    local = email.address.rpartition("@")[0]
    punycode = domain != email.domain
    if not local.isascii() and not policy.internationalized:
        return EmailVerdict(
            "not_storable",
            None,
            "its part before @ has non-ASCII characters, which Salesforce stores only with Email Address "
            "Internationalization switched on (INTAKE_EMAIL_ADDRESS_INTERNATIONALIZATION)",
            "internationalized_email",
        )
    address = f"{local}@{domain}"
    if len(address) > policy.max_length:
        return EmailVerdict(
            "not_storable",
            None,
            f"it is {len(address)} characters long; Salesforce's Email field holds at most {policy.max_length}",
            "email_too_long",
        )
    stored = Email(address=address, domain=domain, is_free=is_free_email_domain(domain))
    return EmailVerdict("stored_punycode" if punycode else "stored", stored)


_IDENTITY_POLICY = EmailPolicy(internationalized=True, max_length=10**6)


def email_identity(raw: str) -> str | None:
    """The person's address as one canonical string, whatever Salesforce can store: lower-cased, IDN
    domain in punycode. Used for the suppression list (an opted-out ``chloé@…`` stays opted out even
    when Salesforce cannot hold the address) and by ``hash_contact``. ``None`` if it is not an address."""
    verdict = decide_email(raw, _IDENTITY_POLICY)
    return verdict.email.canonical if verdict.email is not None else None
