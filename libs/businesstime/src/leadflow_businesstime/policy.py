"""SLA policies as data: which targets apply to a lead, in which calendar, and how breaches escalate.

Policies are matched in file order by rating, lead source and client type; the first match
wins and the last policy must match everything (the default).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadflow_businesstime.calendar import BusinessCalendar
from leadflow_businesstime.errors import ConfigError, read_yaml, validate

PROSPECT = "prospect"
"""Policy calendar meaning: the prospect's time zone with the team's hours (fallback ``hours_calendar``)."""
TEAM = "team"
"""Policy calendar meaning: the calendar of the team the lead is routed to (fallback ``hours_calendar``)."""


class EscalationAction(StrEnum):
    NOTIFY_TEAM_LEADER = "notify_team_leader"
    REASSIGN = "reassign"
    TEAM_QUEUE = "team_queue"


class EscalationStep(BaseModel):
    """One rung of the ladder: ``action`` after ``delay_minutes`` of business time since the previous rung
    (the first rung: since the breach)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: EscalationAction
    delay_minutes: float = Field(default=0, ge=0)

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.delay_minutes)


def _lower_tuple(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return tuple(str(v).strip().lower() for v in value)
    return value


class PolicyMatch(BaseModel):
    """What a policy applies to. An empty list matches anything; values compare case-insensitively."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ratings: tuple[str, ...] = ()
    lead_sources: tuple[str, ...] = ()
    client_types: tuple[str, ...] = ()

    _lower = field_validator("ratings", "lead_sources", "client_types", mode="before")(_lower_tuple)

    @property
    def is_catch_all(self) -> bool:
        return not (self.ratings or self.lead_sources or self.client_types)

    def matches(self, rating: str | None, lead_source: str | None, client_type: str | None) -> bool:
        for allowed, value in (
            (self.ratings, rating),
            (self.lead_sources, lead_source),
            (self.client_types, client_type),
        ):
            if allowed and (value is None or value.strip().lower() not in allowed):
                return False
        return True


class SlaPolicy(BaseModel):
    """The targets for one kind of lead.

    - ``first_touch_minutes``: business minutes from routing to the first logged call/email.
    - ``qualify_days``: business days from routing to Qualified/Unqualified or conversion.
    - ``callback_tolerance_minutes``: a requested callback is on time within ± this (wall minutes).
    - ``calendar``: a calendar name; ``"team"`` for the calendar of the team the lead is routed to;
      or ``"prospect"`` for the prospect's time zone with the team's hours and holidays. For
      both, ``hours_calendar`` names the calendar used when the team has none.
    - ``warn_at``: fraction of the business time after which a ``warning`` is sent.
    - ``escalation``: ladder after a breach. ``mark_unavailable_after``: consecutive breaches
      by one owner after which the owner is reported unavailable (None: never).
    - ``reset_on_reassign``: whether a reassigned lead's first-touch deadline starts again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    calendar: str = Field(min_length=1, max_length=64)
    hours_calendar: str | None = None
    first_touch_minutes: float = Field(gt=0)
    qualify_days: int = Field(gt=0)
    callback_tolerance_minutes: float = Field(default=15, ge=0)
    warn_at: float = Field(default=0.8, gt=0, lt=1)
    escalation: tuple[EscalationStep, ...] = ()
    mark_unavailable_after: int | None = Field(default=None, ge=1)
    reset_on_reassign: bool = True

    @model_validator(mode="after")
    def _prospect_needs_hours(self) -> SlaPolicy:
        if self.calendar in (PROSPECT, TEAM) and not self.hours_calendar:
            raise ValueError(
                f"hours_calendar: required when calendar is {self.calendar!r} (the hours when the team has none)"
            )
        if self.calendar not in (PROSPECT, TEAM) and self.hours_calendar is not None:
            raise ValueError("hours_calendar: only allowed when calendar is 'prospect' or 'team'")
        return self

    @property
    def first_touch(self) -> timedelta:
        return timedelta(minutes=self.first_touch_minutes)

    @property
    def callback_tolerance(self) -> timedelta:
        return timedelta(minutes=self.callback_tolerance_minutes)

    @property
    def uses_prospect_zone(self) -> bool:
        return self.calendar == PROSPECT

    @property
    def calendar_reference(self) -> tuple[str, str]:
        """(field, calendar name) that must exist in calendars.yaml."""
        if self.calendar in (PROSPECT, TEAM):
            return "hours_calendar", self.hours_calendar or ""
        return "calendar", self.calendar

    def resolve_calendar(
        self,
        calendars: Mapping[str, BusinessCalendar],
        prospect_timezone: str | None = None,
        *,
        team_calendar: BusinessCalendar | None = None,
    ) -> BusinessCalendar:
        """The calendar to compute this policy's deadlines in.

        - a named calendar: that one;
        - ``team``: ``team_calendar`` (the routed team's), else ``hours_calendar``;
        - ``prospect``: the team's (or ``hours_calendar``'s) hours read in ``prospect_timezone``;
          when the prospect's zone is unknown or invalid, the team's calendar as it is.
        """
        if self.calendar not in (PROSPECT, TEAM):
            return calendars[self.calendar]
        base = team_calendar or calendars[self.hours_calendar or ""]
        if self.calendar == TEAM or not prospect_timezone:
            return base
        try:
            return base.with_timezone(prospect_timezone, name=f"{PROSPECT}:{base.name}@{prospect_timezone}")
        except ValueError:
            return base


class SlaPolicySet(BaseModel):
    """A versioned, ordered list of policies; the last one is the default and must match everything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    kind: Literal["sla-policies"] = "sla-policies"
    policies: tuple[SlaPolicy, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered_with_default_last(self) -> SlaPolicySet:
        seen: set[str] = set()
        for index, policy in enumerate(self.policies):
            if policy.name in seen:
                raise ValueError(f"policies.{index}.name: duplicate policy name {policy.name!r}")
            seen.add(policy.name)
            if policy.match.is_catch_all and index != len(self.policies) - 1:
                raise ValueError(
                    f"policies.{index}.match: policy {policy.name!r} matches everything, "
                    "so the policies after it could never apply; put it last"
                )
        if not self.policies[-1].match.is_catch_all:
            raise ValueError(
                f"policies.{len(self.policies) - 1}.match: the last policy is the default and must match "
                "every lead (leave its match empty)"
            )
        return self

    def select(self, rating: str | None, lead_source: str | None, client_type: str | None) -> SlaPolicy:
        """The first policy whose match accepts the lead (the last one always does)."""
        for policy in self.policies:
            if policy.match.matches(rating, lead_source, client_type):
                return policy
        return self.policies[-1]  # pragma: no cover - validation guarantees a catch-all

    def by_name(self, name: str) -> SlaPolicy | None:
        return next((p for p in self.policies if p.name == name), None)

    def check_calendars(self, calendars: Mapping[str, BusinessCalendar]) -> list[str]:
        """Problems with calendar references (``policies.N.calendar: …``); empty if all are known."""
        problems = []
        for index, policy in enumerate(self.policies):
            field, name = policy.calendar_reference
            if name not in calendars:
                problems.append(f"policies.{index}.{field}: unknown calendar {name!r} (known: {sorted(calendars)})")
        return problems


def parse_sla_policies(
    data: Any, source: str = "<sla-policies>", calendars: Mapping[str, BusinessCalendar] | None = None
) -> SlaPolicySet:
    """Validate parsed data; with ``calendars``, also check every calendar reference."""
    policy_set = validate(SlaPolicySet, data, source)
    if calendars is not None:
        problems = policy_set.check_calendars(calendars)
        if problems:
            raise ConfigError(source, problems)
    return policy_set


def load_sla_policies(path: str | Path, calendars: Mapping[str, BusinessCalendar] | None = None) -> SlaPolicySet:
    """Load ``sla-policies.yaml``; with ``calendars``, also check the calendar references."""
    return parse_sla_policies(read_yaml(path), str(path), calendars)
