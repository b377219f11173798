"""What marketing systems send (``LeadSubmitted``) and what intake makes of it (``LeadAccepted``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from leadflow_contracts.base import Contract, Event, UtcDatetime
from leadflow_contracts.custom_answers import CustomAnswers


class LeadSourceKind(StrEnum):
    WEB_FORM = "web_form"
    CALLBACK_REQUEST = "callback_request"
    WEBINAR = "webinar"
    LIST_UPLOAD = "list_upload"
    AD_PLATFORM = "ad_platform"
    PARTNER = "partner"
    REACTIVATION = "reactivation"
    OTHER = "other"


class Campaign(Contract):
    """Where the lead came from: the UTM parameters and the campaign ids of the source system."""

    utm_source: str | None = Field(default=None, max_length=255)
    utm_medium: str | None = Field(default=None, max_length=255)
    utm_campaign: str | None = Field(default=None, max_length=255)
    utm_term: str | None = Field(default=None, max_length=255)
    utm_content: str | None = Field(default=None, max_length=255)
    campaign_id: str | None = Field(default=None, max_length=255)
    form_id: str | None = Field(default=None, max_length=255)


FREE_TEXT_MAX = 1000
"""Names, job titles, company names, cities…: what a person typed is accepted up to this length, even past the
Salesforce field it lands in (FirstName 40, LastName 80, Title 128, Company 255, City 40…). crm-sync writes the
longest prefix Salesforce stores and keeps the whole value for the rep on the record (``Leadflow_Dropped_Fields__c``):
a long value costs its tail, never the lead. Longer than this is not a name but broken input (``string_too_long``)."""

URL_MAX = 2048
"""A website as a browser sends it (with a path and tracking parameters); intake keeps its domain."""

_LONGER_THAN_SALESFORCE = (
    "Longer than its Salesforce field is accepted: crm-sync writes what fits and keeps the whole value on the record."
)


class SourceInfo(Contract):
    system: str = Field(min_length=1, max_length=100, description="Publishing system, e.g. 'hubspot-forms'.")
    record_id: str | None = Field(default=None, max_length=255, description="The lead's id in that system.")
    campaign: Campaign = Field(default_factory=Campaign)


class Person(Contract):
    first_name: str | None = Field(default=None, max_length=FREE_TEXT_MAX, description=_LONGER_THAN_SALESFORCE)
    last_name: str | None = Field(default=None, max_length=FREE_TEXT_MAX, description=_LONGER_THAN_SALESFORCE)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(
        default=None, max_length=100, description="Any format; one Salesforce cannot store (over 40) is cut there."
    )
    job_title: str | None = Field(default=None, max_length=FREE_TEXT_MAX, description=_LONGER_THAN_SALESFORCE)
    language: str | None = Field(default=None, max_length=35, description="BCP 47 tag, e.g. 'de' or 'nb-NO'.")


class Company(Contract):
    name: str | None = Field(default=None, max_length=FREE_TEXT_MAX, description=_LONGER_THAN_SALESFORCE)
    website: str | None = Field(default=None, max_length=URL_MAX)
    domain: str | None = Field(default=None, max_length=255)
    employees: int | None = Field(default=None, ge=0)
    industry: str | None = Field(default=None, max_length=FREE_TEXT_MAX, description=_LONGER_THAN_SALESFORCE)
    country: str | None = Field(default=None, max_length=80, description="ISO 3166 code or country name.")
    region: str | None = Field(default=None, max_length=FREE_TEXT_MAX, description=_LONGER_THAN_SALESFORCE)
    postcode: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=FREE_TEXT_MAX, description=_LONGER_THAN_SALESFORCE)


class Consent(Contract):
    may_call: bool | None = Field(default=None, description="False = do not call. None = not asked.")
    may_email: bool | None = Field(default=None, description="False = do not email. None = not asked.")
    consent_text: str | None = Field(default=None, max_length=2000)
    consented_at: UtcDatetime | None = None


class Engagement(Contract):
    """Web engagement before the lead was submitted. ``None`` = unknown (not tracked), which is not 0."""

    page_views: int | None = Field(default=None, ge=0, description="Total page views; None = unknown.")
    visits: int | None = Field(default=None, ge=0, description="Web visits; None = unknown (not tracked).")
    time_on_site_seconds: float | None = Field(default=None, ge=0, description="None = unknown.")
    content_downloads: int = Field(default=0, ge=0)
    last_activity_at: UtcDatetime | None = None


class CallbackWindow(Contract):
    """A 'call me back' request: when the prospect wants the call, in their own time zone."""

    start: UtcDatetime
    end: UtcDatetime | None = None
    timezone: str | None = Field(default=None, description="IANA zone the prospect chose the time in.")

    @model_validator(mode="after")
    def _end_after_start(self) -> CallbackWindow:
        if self.end is not None and self.end < self.start:
            raise ValueError("callback.end must not be before callback.start")
        return self


class LeadSubmitted(Event):
    """A lead as a marketing system publishes it on ``leads.inbound`` (or POSTs to intake).

    ``lead_id`` may be omitted: intake derives a stable one from ``source.system`` and
    ``event_id``. Replaying the same ``event_id`` is harmless.
    """

    event_id: str = Field(
        default="",
        min_length=1,
        max_length=128,
        description="The sender's idempotency key; when omitted, intake derives one from the message bytes.",
    )
    lead_id: str = Field(default="", max_length=128)
    source: SourceInfo
    lead_source: LeadSourceKind = LeadSourceKind.WEB_FORM
    person: Person = Field(default_factory=Person)
    company: Company = Field(default_factory=Company)
    consent: Consent = Field(default_factory=Consent)
    message: str | None = Field(default=None, max_length=32000)
    engagement: Engagement = Field(default_factory=Engagement)
    callback: CallbackWindow | None = None
    original: dict[str, Any] | None = Field(default=None, description="The source system's payload, for audit.")
    custom_answers: CustomAnswers = Field(default_factory=dict)


class NormalizedLead(Contract):
    """A lead after intake: normalised contact data plus everything the submitter said."""

    source_event_id: str
    submitted_at: UtcDatetime
    accepted_at: UtcDatetime
    source: SourceInfo
    lead_source: LeadSourceKind
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    email_domain: str | None = None
    email_is_free: bool = False
    email_original: str | None = Field(
        default=None,
        description="The e-mail as submitted when it is not stored in ``email`` (invalid, or a form Salesforce's "
        "Email field cannot hold: non-ASCII local part without Email Address Internationalization, > 80 chars). "
        "For the rep to read; never sent to the Email field.",
    )
    phone_e164: str | None = None
    phone_country: str | None = None
    phone_unverified: str | None = Field(
        default=None,
        description="The phone exactly as submitted when it could not be verified for the lead's country (or, "
        "without a country, is not in international form). Kept for the rep to read; ``phone_e164`` is then None.",
    )
    job_title: str | None = None
    language: str | None = None
    company_name: str | None = None
    company_domain: str | None = None
    employees: int | None = None
    industry: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    region: str | None = None
    postcode: str | None = None
    city: str | None = None
    do_not_call: bool = False
    do_not_email: bool = False
    consent_text: str | None = None
    consented_at: UtcDatetime | None = None
    message: str | None = None
    engagement: Engagement = Field(default_factory=Engagement)
    callback: CallbackWindow | None = None
    custom_answers: CustomAnswers = Field(
        default_factory=dict, description="Declared custom form answers, validated by intake (canonical values)."
    )


class LeadAccepted(Event):
    lead: NormalizedLead


class RejectionReason(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_UTF8 = "invalid_utf8"
    TOO_LARGE = "too_large"
    SCHEMA_VIOLATION = "schema_violation"
    MISSING_FIELD = "missing_field"
    INVALID_EMAIL = "invalid_email"
    INVALID_PHONE = "invalid_phone"
    INVALID_COUNTRY = "invalid_country"
    NO_CONTACT = "no_contact"
    SUPPRESSED = "suppressed"
    TOO_DEEP = "too_deep"
    """JSON nested deeper than intake reads (objects/arrays inside each other)."""
    TOO_MANY_ITEMS = "too_many_items"
    """An array or object with more entries than intake reads."""
    STRING_TOO_LONG = "string_too_long"
    """A text value longer than its field allows."""
    INVALID_CUSTOM_ANSWER = "invalid_custom_answer"


class LeadRejected(Event):
    """Intake's verdict on input it could not accept. Nothing is dropped: the bytes travel along."""

    reason: RejectionReason
    message: str
    field: str | None = None
    errors: tuple[dict[str, str], ...] = ()
    source_event_id: str | None = None
    source_system: str | None = None
    channel: Literal["kafka", "http"] = "kafka"
    original_base64: str
