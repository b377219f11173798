"""Events of the qualification pipeline: enrich → score → route (and reassignment)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from leadflow_contracts.base import Contract, Event, UtcDatetime
from leadflow_contracts.lead import NormalizedLead


class ClientType(StrEnum):
    KEY_ACCOUNT = "key_account"
    EXISTING_CUSTOMER = "existing_customer"
    NEW = "new"
    REGIONAL = "regional"
    RETAIL = "retail"
    DORMANT = "dormant"
    CREDIT_HOLD = "credit_hold"


class MatchMethod(StrEnum):
    EMAIL_DOMAIN = "email_domain"
    WEBSITE_DOMAIN = "website_domain"
    NAME_EXACT = "name_exact"
    NAME_FUZZY = "name_fuzzy"
    PHONE = "phone"
    CONTACT_EMAIL = "contact_email"
    NONE = "none"


class AccountMatch(Contract):
    account_id: str | None = None
    account_name: str | None = None
    owner_id: str | None = None
    method: MatchMethod = MatchMethod.NONE
    confidence: float = Field(default=0.0, ge=0, le=1)
    key_account: bool = False
    candidates: int = 0


class DuplicateOf(Contract):
    """An open Salesforce record this lead duplicates: crm-sync updates it instead of creating one."""

    object: Literal["Lead", "Contact"]
    record_id: str
    matched_on: Literal["email", "phone"]
    owner_id: str | None = None
    leadflow_id: str | None = None
    """Set when the record is leadflow's own lead still in flight (claimed by enrich, possibly not in
    Salesforce yet): its ``lead_id``. crm-sync then upserts onto that lead's external id
    (``Leadflow_Id__c``) instead of updating by Salesforce Id, and ``record_id`` holds the same lead id."""


class Firmographics(Contract):
    industry: str | None = None
    size_band: str | None = None
    employees: int | None = None
    country: str | None = None
    source: str = "none"


class Enrichment(Contract):
    match: AccountMatch = Field(default_factory=AccountMatch)
    duplicate_of: DuplicateOf | None = None
    client_type: ClientType = ClientType.NEW
    firmographics: Firmographics = Field(default_factory=Firmographics)
    timezone: str | None = Field(default=None, description="IANA zone of the prospect.")


class LeadEnriched(Event):
    lead: NormalizedLead
    enrichment: Enrichment


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Rating(StrEnum):
    HOT = "Hot"
    WARM = "Warm"
    COLD = "Cold"


class ScoreReason(Contract):
    component: Literal["fit", "engagement", "model"]
    points: float
    reason: str


class ModelScore(Contract):
    model_version: str
    probability: float = Field(ge=0, le=1)
    contributions: tuple[ScoreReason, ...] = ()
    shadow: tuple[tuple[str, float], ...] = Field(
        default=(), description="(candidate model version, probability) pairs recorded in shadow mode."
    )


class Score(Contract):
    score: float = Field(ge=0, le=100)
    fit: float
    engagement: float
    grade: Grade
    rating: Rating
    reasons: tuple[ScoreReason, ...] = ()
    ruleset_version: str
    model: ModelScore | None = None


class LeadScored(Event):
    lead: NormalizedLead
    enrichment: Enrichment
    score: Score


class SlaTarget(Contract):
    policy: str
    first_touch_due: UtcDatetime
    qualify_due: UtcDatetime | None = None
    callback_due: UtcDatetime | None = None
    calendar: str = Field(description="Business calendar the due times were computed in.")
    timezone: str


class PoolMember(Contract):
    """A rep the weighted round-robin could have dealt the lead to, with the weight it drew with."""

    user_id: str
    weight: float = Field(ge=0)


class Assignment(Contract):
    owner_id: str
    owner_type: Literal["user", "queue"]
    owner_name: str | None = None
    team: str | None = None
    policy: str = Field(description="Routing policy (rule) that decided.")
    reason: str
    previous_owner_ids: tuple[str, ...] = ()
    round_robin: bool = Field(
        default=False,
        description="Route dealt this lead by weighted round-robin among its team's rotation (the only "
        "assignments expected to follow the weights); false for a person's repeat to its owner, an existing "
        "customer or key account to its manager, a queue, a reassignment to the team leader.",
    )
    pool: tuple[PoolMember, ...] = Field(
        default=(),
        description="The candidates and weights the round-robin drew the owner from (available, under their cap, "
        "and the speakers of the lead's language when one is free): each could have won with weight / the pool's "
        "weights. Empty when the lead was not dealt by round-robin (and in older events).",
    )


class LeadRouted(Event):
    lead: NormalizedLead
    enrichment: Enrichment
    score: Score
    assignment: Assignment
    sla: SlaTarget
    reassignment: int = Field(default=0, description="0 for the first routing, n for the n-th reassignment.")


class ReassignRequested(Event):
    """Ask route to find a new owner (SLA escalation, rep unavailable, manual)."""

    lead: NormalizedLead
    enrichment: Enrichment
    score: Score
    reason: str
    requested_by: str = Field(description="Service or user asking, e.g. 'sla-monitor'.")
    exclude_owner_ids: tuple[str, ...] = Field(default=(), description="Never return the lead to these owners.")
    target: Literal["any", "team_queue", "team_leader"] = "any"
    escalation_step: int = 0
    previous_routing: LeadRouted | None = None


class DeadLetter(Event):
    """A message a service could not process after intake, with the reason and its original bytes."""

    service: str
    topic: str
    reason: str
    message: str
    original_base64: str
    retriable: bool = False
    detail: dict[str, str] = Field(default_factory=dict)
    failed_at: UtcDatetime | None = None
    not_in_salesforce: bool = Field(
        default=False,
        description="The lead has no record in Salesforce because of this failure: show it as 'not in "
        "Salesforce' (with a replay), never as an open lead.",
    )
