"""The intake decision: a parsed ``LeadSubmitted`` → ``Accepted`` (a normalised lead and the trace
step explaining it) or a ``Rejection``.

Contact policy (``strict_contact``):
- A lead needs an e-mail or a phone; neither → ``no_contact``.
- Country (``company.country``): an ISO code or a country name in any CLDR language, with or without
  diacritics (``countries.resolve_country``). An unresolved country is dropped and reported in the
  trace (``country_unresolved``), never replaced by a default.
- Phone: read in the lead's resolved country. Without a resolved country only a number in
  international form (``+…``/``00…``) can be verified; the configured default region (the source's,
  else intake's) is used only when the lead names *no* country at all. A number that cannot be
  verified is kept as given in ``phone_unverified`` (never rewritten) and marked in the trace.
- E-mail: the Salesforce Email rule (``emails.decide_email``): stored as written, stored with its IDN
  domain in punycode, or *not stored* (invalid, non-ASCII local part without Email Address
  Internationalization, longer than 80 characters); a not-stored address stays in ``email_original``
  and the trace.
- Lenient (default): a lead keeps going as long as it has one usable contact: a valid e-mail address
  (stored, or — when Salesforce cannot store it — kept in ``email_original``) or a verified phone; the
  unusable one is dropped (e-mail) or kept unverified (phone) and listed in the trace. With no usable
  contact the lead is rejected with ``invalid_email`` / ``invalid_phone`` naming the field: a lead is
  never accepted on a number nobody verified, nor on an address that is not one.
- Strict: any unusable contact field rejects the lead.
- An unknown language never rejects: it is dropped and recorded in the trace.
Consent: ``may_call is False`` → accepted with ``do_not_call``; ``may_email is False`` →
``do_not_email``. A normalised e-mail or phone on the suppression list → ``suppressed``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from leadflow_contracts import LeadSubmitted, NormalizedLead, RejectionReason, TraceStep

from leadflow_intake.domain.contact import ContactError, Email, Phone, normalise_phone
from leadflow_intake.domain.countries import resolve_country
from leadflow_intake.domain.emails import EmailPolicy, EmailVerdict, decide_email, email_identity
from leadflow_intake.domain.geo import domain_from_website
from leadflow_intake.domain.languages import resolve_language
from leadflow_intake.domain.names import normalise_name
from leadflow_intake.domain.parsing import INTAKE_NAMESPACE
from leadflow_intake.domain.rejections import Rejection
from leadflow_intake.domain.suppression import SuppressionList
from leadflow_intake.domain.text import visible

SERVICE = "intake"


@dataclass(frozen=True, slots=True)
class DecisionContext:
    now: datetime
    channel: str = "kafka"
    default_region: str | None = None
    suppression: SuppressionList = field(default_factory=SuppressionList)
    strict_contact: bool = False
    authenticated_source: str | None = None
    email_policy: EmailPolicy = field(default_factory=EmailPolicy)


@dataclass(frozen=True, slots=True)
class Accepted:
    lead_id: str
    event_id: str
    lead: NormalizedLead
    step: TraceStep
    dropped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """One sentence per field that was not taken as given (dropped, unverified, not stored), for the
    publisher's HTTP response and the importer's summary."""
    email_decision: str | None = None
    phone_status: str | None = None


def derive_lead_id(source_system: str, event_id: str) -> str:
    return str(uuid.uuid5(INTAKE_NAMESPACE, f"lead:{source_system}\x1f{event_id}"))


def accepted_event_id(source_system: str, event_id: str) -> str:
    """Deterministic, so a redelivered submission yields the same ``LeadAccepted`` id (and dedupe key)."""
    return str(uuid.uuid5(INTAKE_NAMESPACE, f"accepted:{source_system}\x1f{event_id}"))


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _clean(value: str | None) -> str | None:
    """Whitespace collapsed, invisible characters gone, one Unicode spelling (``text.visible``)."""
    if value is None:
        return None
    text = " ".join(visible(value).split())
    return text or None


def decide(sub: LeadSubmitted, ctx: DecisionContext) -> Accepted | Rejection:
    system = sub.source.system
    if ctx.authenticated_source is not None and system != ctx.authenticated_source:
        return Rejection(
            RejectionReason.SCHEMA_VIOLATION,
            "source.system does not match the source system the request authenticated as",
            "source.system",
        )
    dropped: list[tuple[str, str]] = []
    notes: list[str] = []

    country: str | None = None
    country_named = not _blank(sub.company.country)
    if country_named:
        try:
            country = resolve_country(sub.company.country or "")
        except ContactError as exc:
            dropped.append(("company.country", f"invalid_country: {exc}"))
            notes.append(f"company.country was not stored: {exc}")

    region: str | None
    if country:
        region, region_from = country, "company.country"
    elif country_named:  # the lead names a country we could not read: no guessing a default
        region, region_from = None, None
    else:
        region, region_from = ctx.default_region, ("source.default_region" if ctx.default_region else None)

    email: Email | None = None
    email_error: str | None = None
    verdict: EmailVerdict | None = None
    if not _blank(sub.person.email):
        verdict = decide_email(sub.person.email or "", ctx.email_policy)
        email = verdict.email
        if verdict.email is None:
            email_error = f"person.email {verdict.reason}"

    phone: Phone | None = None
    phone_error: str | None = None
    phone_unverified: str | None = None
    if not _blank(sub.person.phone):
        try:
            phone = normalise_phone(sub.person.phone or "", region)
        except ContactError as exc:
            phone_error = f"person.phone could not be verified: {exc}"
            phone_unverified = (sub.person.phone or "").strip()

    errors = tuple(
        {"field": f, "type": t, "message": m}
        for f, t, m in (
            (
                "person.email",
                (verdict.code if verdict and verdict.code else RejectionReason.INVALID_EMAIL.value),
                email_error,
            ),
            ("person.phone", RejectionReason.INVALID_PHONE.value, phone_error),
        )
        if m
    )
    # A valid address Salesforce's Email field cannot hold is still a way to reach the person (the rep
    # reads it in email_original): it keeps the lead. An invalid one, or an unverified number, does not.
    reachable_by_email = verdict is not None and verdict.decision == "not_storable"
    if email is None and phone is None and not reachable_by_email:
        if email_error:
            return Rejection(RejectionReason.INVALID_EMAIL, _join(email_error, phone_error), "person.email", errors)
        if phone_error:
            return Rejection(RejectionReason.INVALID_PHONE, phone_error, "person.phone", errors)
        return Rejection(
            RejectionReason.NO_CONTACT, "a lead needs person.email or person.phone; both are empty", "person.email"
        )
    if ctx.strict_contact and (email_error or phone_error):
        if email_error:
            return Rejection(RejectionReason.INVALID_EMAIL, email_error, "person.email", errors)
        return Rejection(RejectionReason.INVALID_PHONE, phone_error or "", "person.phone", errors)
    if email_error and verdict is not None:
        dropped.append(("person.email", f"{verdict.code}: {email_error}"))
        notes.append(f"{email_error}; it was not stored as the e-mail (kept in email_original)")
    if phone_error:
        notes.append(f"{phone_error}; it is kept as given in phone_unverified")

    identity = email.canonical if email is not None else (email_identity(sub.person.email or "") if verdict else None)
    if identity is not None and identity in ctx.suppression:
        return Rejection(RejectionReason.SUPPRESSED, "person.email is on the suppression list", "person.email")
    if phone is not None and phone.e164 in ctx.suppression:
        return Rejection(RejectionReason.SUPPRESSED, "person.phone is on the suppression list", "person.phone")

    language: str | None = None
    if not _blank(sub.person.language):
        try:
            language = resolve_language(sub.person.language or "")
        except ContactError as exc:
            dropped.append(("person.language", f"invalid_language: {exc}"))
            notes.append(f"person.language was not stored: {exc}")

    company_domain, domain_from = _company_domain(sub, email, dropped)

    do_not_call = sub.consent.may_call is False
    do_not_email = sub.consent.may_email is False
    lead_id = sub.lead_id or derive_lead_id(system, sub.event_id)
    lead = NormalizedLead(
        source_event_id=sub.event_id,
        submitted_at=sub.occurred_at,
        accepted_at=ctx.now,
        source=sub.source,
        lead_source=sub.lead_source,
        first_name=normalise_name(sub.person.first_name),
        last_name=normalise_name(sub.person.last_name, surname=True),
        email=email.address if email else None,
        email_domain=email.domain if email else None,
        email_is_free=email.is_free if email else False,
        email_original=(sub.person.email or "").strip() if email_error else None,
        phone_e164=phone.e164 if phone else None,
        phone_country=phone.country if phone else None,
        phone_unverified=phone_unverified,
        job_title=_clean(sub.person.job_title),
        language=language,
        company_name=_clean(sub.company.name),
        company_domain=company_domain,
        employees=sub.company.employees,
        industry=_clean(sub.company.industry),
        country=country,
        region=_clean(sub.company.region),
        postcode=_clean(sub.company.postcode),
        city=_clean(sub.company.city),
        do_not_call=do_not_call,
        do_not_email=do_not_email,
        consent_text=sub.consent.consent_text,
        consented_at=sub.consent.consented_at,
        message=sub.message,
        engagement=sub.engagement,
        callback=sub.callback,
    )
    phone_status = "verified" if phone else ("unverified" if phone_error else None)
    email_original = (sub.person.email or "").strip() if email_error else None
    flags = [name for name, on in (("do_not_call", do_not_call), ("do_not_email", do_not_email)) if on]
    reason = "valid contact data"
    if dropped:
        reason += "; dropped " + "; ".join(f"{f} ({why})" for f, why in dropped)
    if phone_error:
        reason += f"; kept person.phone unverified ({phone_error})"
    if flags:
        reason += "; flagged " + ", ".join(flags)
    step = TraceStep(
        service=SERVICE,
        decision="accepted",
        reason=reason,
        at=ctx.now,
        data={
            "channel": ctx.channel,
            "do_not_call": do_not_call,
            "do_not_email": do_not_email,
            "dropped_fields": ",".join(f for f, _ in dropped) or None,
            "phone_region": region if phone else None,
            "phone_region_from": region_from if phone else None,
            "phone_status": phone_status,
            "phone_unverified_region": region if phone_error else None,
            "email_decision": verdict.decision if verdict else None,
            "email_not_stored_because": verdict.code if verdict and verdict.email is None else None,
            "email_original": email_original,
            "country_given": (sub.company.country or "").strip()[:80] if country_named else None,
            "country_resolved": country,
            "country_unresolved": (sub.company.country or "").strip()[:80] if country_named and not country else None,
            "language_given": (sub.person.language or "").strip()[:35] if not _blank(sub.person.language) else None,
            "language_resolved": language,
            "email_is_free": email.is_free if email else None,
            "company_domain_from": domain_from,
            "lead_id_derived": not sub.lead_id,
        },
    )
    return Accepted(
        lead_id=lead_id,
        event_id=accepted_event_id(system, sub.event_id),
        lead=lead,
        step=step,
        dropped=tuple(f for f, _ in dropped),
        notes=tuple(notes),
        email_decision=verdict.decision if verdict else None,
        phone_status=phone_status,
    )


def _join(first: str, second: str | None) -> str:
    return first if not second else f"{first}; {second}"


def _company_domain(
    sub: LeadSubmitted, email: Email | None, dropped: list[tuple[str, str]]
) -> tuple[str | None, str | None]:
    if not _blank(sub.company.domain):
        try:
            return domain_from_website(sub.company.domain or ""), "company.domain"
        except ContactError as exc:
            dropped.append(("company.domain", f"invalid_domain: {exc}"))
    if not _blank(sub.company.website):
        try:
            return domain_from_website(sub.company.website or ""), "company.website"
        except ContactError as exc:
            dropped.append(("company.website", f"invalid_website: {exc}"))
    if email is not None and not email.is_free:
        return email.domain, "person.email"
    return None, None
