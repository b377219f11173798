"""The routing configuration: teams, caps, key account managers, queues and the policy order, as data.

Loaded from versioned YAML and validated by pydantic; every error names the field that is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadflow_route.domain.roster import WorkingHoursError, normalise_language, parse_working_hours

PolicyName = Literal["credit_hold", "key_account", "duplicate", "existing_customer", "new_lead"]
DEFAULT_POLICY_ORDER: tuple[PolicyName, ...] = (
    "credit_hold",
    "key_account",
    "duplicate",
    "existing_customer",
    "new_lead",
)


class RoutingConfigError(ValueError):
    """The routing configuration is invalid; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Caps(_Strict):
    """Limits per rep. ``None`` = no limit."""

    per_hour: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)
    max_open: int | None = Field(default=None, ge=1, description="Open (not yet closed) leads a rep may hold.")

    @model_validator(mode="after")
    def _hour_not_above_day(self) -> Caps:
        if self.per_hour is not None and self.per_day is not None and self.per_hour > self.per_day:
            raise ValueError("per_hour must not exceed per_day")
        return self


class TeamConfig(_Strict):
    countries: tuple[str, ...] = Field(default=(), description="ISO 3166-1 alpha-2 codes this team covers.")
    languages: tuple[str, ...] = Field(default=(), description="Languages the team sells in (BCP 47 primary tags).")
    leader: str | None = Field(default=None, description="Salesforce username or user id of the team leader.")
    queue: str = Field(min_length=1, description="Queue DeveloperName (or id) for leads nobody can take.")
    seller_roles: tuple[str, ...] = ("Seller",)
    leader_sells: bool = False
    caps: Caps = Caps()

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(c.strip().upper() for c in value)
        bad = [c for c in out if len(c) != 2 or not c.isalpha()]
        if bad:
            raise ValueError(f"countries must be ISO 3166-1 alpha-2 codes, got {bad}")
        return out

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(lang for v in value if (lang := normalise_language(v)))


class KeyAccountConfig(_Strict):
    managers: tuple[str, ...] = Field(
        default=(), description="Usernames or ids of key account managers; empty = every user with manager_role."
    )
    manager_role: str = "Key Account Manager"
    queue: str | None = None


class RoutingConfig(_Strict):
    version: str = Field(min_length=1)
    policies: tuple[PolicyName, ...] = DEFAULT_POLICY_ORDER
    default_team: str
    default_working_hours: str | None = Field(
        default="Mon-Fri 09:00-17:00", description="Used for users whose Working_Hours__c is empty."
    )
    head_of_sales: str = Field(min_length=1, description="Username or id.")
    finance_queue: str = Field(min_length=1, description="Queue DeveloperName (or id).")
    key_accounts: KeyAccountConfig = KeyAccountConfig()
    teams: dict[str, TeamConfig] = Field(min_length=1)

    @field_validator("policies")
    @classmethod
    def _unique_policies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a policy is listed twice")
        if "new_lead" not in value:
            raise ValueError("new_lead must be listed: it is the policy that always decides")
        return value

    @field_validator("default_working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_working_hours(value)
            except WorkingHoursError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _default_team_exists(self) -> RoutingConfig:
        if self.default_team not in self.teams:
            raise ValueError(f"default_team {self.default_team!r} is not one of teams: {sorted(self.teams)}")
        seen: dict[str, str] = {}
        for name, team in self.teams.items():
            for country in team.countries:
                if country in seen:
                    raise ValueError(f"country {country} is in both teams {seen[country]!r} and {name!r}")
                seen[country] = name
        return self


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def parse_routing_config(data: Any, *, source: str = "routing config") -> RoutingConfig:
    try:
        return RoutingConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise RoutingConfigError(f"{source}: {problems}") from None


def load_routing_config(path: Path | str) -> RoutingConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RoutingConfigError(f"{path}: cannot read routing config: {exc}") from None
    return parse_routing_config(data, source=str(path))
