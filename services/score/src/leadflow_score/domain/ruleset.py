"""The scoring rule set as data: a versioned YAML document validated by these pydantic models.

Every rule has an ``id``, ``points`` and a ``reason``; rules sharing a ``group`` are exclusive (the first
match in file order counts), so a title that is both "director" and "manager" scores once. A validation
error names the rule by id (``RulesetError: fit.rules[2] 'title_vp': pattern: invalid regex …``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from leadflow_contracts import ClientType, Grade, LeadSourceKind, Rating
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class RulesetError(ValueError):
    """The rule set is invalid; the message names the bad rule and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9_.\-]+$")
    points: float = Field(ge=-100, le=100)
    reason: str = Field(min_length=1, max_length=200)
    group: str | None = Field(default=None, description="Rules in one group are exclusive: first match counts.")


class _Range(_Rule):
    min: float = Field(default=0, ge=0)
    max: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> _Range:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self

    def contains(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.min and (self.max is None or value < self.max)


# ---- fit rules ------------------------------------------------------------------------------------
class TitleRule(_Rule):
    kind: Literal["title"]
    pattern: str = Field(min_length=1, description="Regular expression, case-insensitive, searched in the title.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as e:
            raise ValueError(f"invalid regex: {e}") from None
        return value


class CompanySizeRule(_Range):
    kind: Literal["company_size"]


class IndustryRule(_Rule):
    kind: Literal["industry"]
    values: tuple[str, ...] = Field(min_length=1)


class CountryRule(_Rule):
    kind: Literal["country"]
    values: tuple[str, ...] = Field(min_length=1, description="ISO 3166-1 alpha-2 codes.")

    @field_validator("values")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not re.fullmatch(r"[A-Za-z]{2}", v)]
        if bad:
            raise ValueError(f"not ISO alpha-2 country codes: {bad}")
        return tuple(v.upper() for v in value)


class FreeMailRule(_Rule):
    kind: Literal["free_mail"]


class ClientTypeRule(_Rule):
    kind: Literal["client_type"]
    values: tuple[ClientType, ...] = Field(min_length=1)


class DuplicateRule(_Rule):
    kind: Literal["duplicate"]


FitRule = Annotated[
    TitleRule | CompanySizeRule | IndustryRule | CountryRule | FreeMailRule | ClientTypeRule | DuplicateRule,
    Field(discriminator="kind"),
]


# ---- engagement rules ---------------------------------------------------------------------------------
class LeadSourceRule(_Rule):
    kind: Literal["lead_source"]
    values: tuple[LeadSourceKind, ...] = Field(min_length=1)


class CallbackRule(_Rule):
    kind: Literal["callback"]


class VisitsRule(_Range):
    kind: Literal["visits"]


class PageViewsRule(_Range):
    kind: Literal["page_views"]


class TimeOnSiteRule(_Range):
    kind: Literal["time_on_site"]


class DownloadsRule(_Range):
    kind: Literal["downloads"]


EngagementRule = Annotated[
    LeadSourceRule | CallbackRule | VisitsRule | PageViewsRule | TimeOnSiteRule | DownloadsRule,
    Field(discriminator="kind"),
]


class FitSection(_Strict):
    max_points: float = Field(gt=0)
    rules: tuple[FitRule, ...] = Field(min_length=1)


class EngagementSection(_Strict):
    max_points: float = Field(gt=0)
    half_life_days: float = Field(gt=0, description="Engagement points halve every this many days.")
    rules: tuple[EngagementRule, ...] = Field(min_length=1)


class Weights(_Strict):
    fit: float = Field(ge=0, le=1)
    engagement: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> Weights:
        if abs(self.fit + self.engagement - 1) > 1e-9:
            raise ValueError(f"fit + engagement must be 1, got {self.fit + self.engagement}")
        return self


class GradeThreshold(_Strict):
    grade: Grade
    min_fit: float


class Band(_Strict):
    band: str = Field(min_length=1)
    min_engagement: float


class Ruleset(_Strict):
    version: str = Field(min_length=1, max_length=64)
    description: str | None = None
    top_reasons: int = Field(default=5, ge=1, le=20)
    weights: Weights
    fit: FitSection
    engagement: EngagementSection
    grades: tuple[GradeThreshold, ...] = Field(min_length=1, description="Best first; below the last -> D.")
    engagement_bands: tuple[Band, ...] = Field(min_length=1, description="Highest first; below the last -> low.")
    low_band: str = "low"
    ratings: dict[Grade, dict[str, Rating]]

    @model_validator(mode="after")
    def _consistent(self) -> Ruleset:
        ids = [r.id for r in (*self.fit.rules, *self.engagement.rules)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {dupes}")
        fits = [g.min_fit for g in self.grades]
        if fits != sorted(fits, reverse=True) or len(set(fits)) != len(fits):
            raise ValueError("grades must be listed best first with strictly decreasing min_fit")
        mins = [b.min_engagement for b in self.engagement_bands]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("engagement_bands must be listed highest first with strictly decreasing min_engagement")
        bands = [b.band for b in self.engagement_bands] + [self.low_band]
        for grade in Grade:
            row = self.ratings.get(grade)
            if row is None:
                raise ValueError(f"ratings: no row for grade {grade.value}")
            missing = [b for b in bands if b not in row]
            extra = [b for b in row if b not in bands]
            if missing or extra:
                raise ValueError(f"ratings[{grade.value}]: missing bands {missing}, unknown bands {extra}")
        return self


def _rule_label(raw: Any, loc: tuple[Any, ...]) -> str:
    """'fit.rules[2] 'title_vp'' for a pydantic error location inside a rule list."""
    parts: list[str] = []
    node = raw
    label_id: str | None = None
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]"
            try:
                node = node[part]
            except (IndexError, KeyError, TypeError):
                node = None
            if i >= 1 and loc[i - 1] == "rules" and isinstance(node, dict) and node.get("id"):
                label_id = str(node["id"])
                parts[-1] += f" '{label_id}'"
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) or node is None:
            node = None
        parts.append(str(part))
    return ".".join(parts)


def parse_ruleset(raw: Any, *, source: str = "ruleset") -> Ruleset:
    """Validate a loaded YAML document; raise ``RulesetError`` naming each bad rule and field."""
    try:
        return Ruleset.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            raw_loc = err["loc"]
            loc = tuple(
                p for i, p in enumerate(raw_loc) if not (p in _KIND_TAGS and i > 0 and isinstance(raw_loc[i - 1], int))
            )
            problems.append(f"{_rule_label(raw, loc) or '(root)'}: {err['msg']}")
        raise RulesetError(f"{source}: " + "; ".join(problems)) from None


_KIND_TAGS = {
    "title",
    "company_size",
    "industry",
    "country",
    "free_mail",
    "client_type",
    "duplicate",
    "lead_source",
    "callback",
    "visits",
    "page_views",
    "time_on_site",
    "downloads",
}
