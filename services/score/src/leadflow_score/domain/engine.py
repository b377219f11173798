"""Scoring: rule points (fit + time-decayed engagement), grade, rating, and the optional model blend.

Pure: the event, the rule set and (optionally) a model's output in; a ``Score`` with every reason out.
Decay is measured from the activity to the event's own time (``occurred_at``), never the wall clock, so
scoring the same event twice gives the same result.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from leadflow_contracts import (
    Grade,
    LeadEnriched,
    LeadScored,
    ModelScore,
    Rating,
    Score,
    ScoreReason,
    TraceStep,
)

from leadflow_score.domain.ruleset import (
    CallbackRule,
    ClientTypeRule,
    CompanySizeRule,
    CountryRule,
    DownloadsRule,
    DuplicateRule,
    FreeMailRule,
    IndustryRule,
    LeadSourceRule,
    PageViewsRule,
    Ruleset,
    TimeOnSiteRule,
    TitleRule,
    VisitsRule,
)

SERVICE = "score"
_EVENT_NS = uuid.UUID("3c1f9a2e-7d4b-4e8a-b5c6-1d2e3f4a5b6c")


def scored_event_id(enriched_event_id: str) -> str:
    return str(uuid.uuid5(_EVENT_NS, "score:" + enriched_event_id))


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RuleScore:
    """The rules' verdict before any model blend."""

    score: float
    fit: float
    engagement: float
    grade: Grade
    rating: Rating
    band: str
    reasons: tuple[Reason, ...]


def decay_factor(activity: datetime | None, at: datetime, half_life_days: float) -> float:
    if activity is None:
        return 1.0
    age_days = max(0.0, (at - activity).total_seconds() / 86400.0)
    return float(0.5 ** (age_days / half_life_days))


FitCheck = Callable[[LeadEnriched], str | None]
EngagementCheck = Callable[[LeadEnriched], tuple[str, datetime | None] | None]


def _fit_check(rule: object) -> FitCheck:
    """A function telling whether ``rule`` applies to a lead (a detail string) or not (None)."""
    if isinstance(rule, TitleRule):
        regex = _regex(rule.pattern)

        def title(e: LeadEnriched) -> str | None:
            t = e.lead.job_title
            return t if t and regex.search(t) else None

        return title
    if isinstance(rule, CompanySizeRule):

        def size(e: LeadEnriched) -> str | None:
            f = e.enrichment.firmographics
            employees = f.employees if f.employees is not None else e.lead.employees
            return f"{employees} employees" if rule.contains(employees) else None

        return size
    if isinstance(rule, IndustryRule):
        wanted = frozenset(v.lower() for v in rule.values)

        def industry(e: LeadEnriched) -> str | None:
            value = e.enrichment.firmographics.industry or e.lead.industry
            return value if value and value.lower() in wanted else None

        return industry
    if isinstance(rule, CountryRule):
        countries = frozenset(rule.values)

        def country(e: LeadEnriched) -> str | None:
            value = (e.lead.country or e.enrichment.firmographics.country or "").upper()
            return value if value in countries else None

        return country
    if isinstance(rule, FreeMailRule):
        return lambda e: "free-mail address" if e.lead.email_is_free else None
    if isinstance(rule, ClientTypeRule):
        types = frozenset(rule.values)
        return lambda e: e.enrichment.client_type.value if e.enrichment.client_type in types else None
    if isinstance(rule, DuplicateRule):

        def duplicate(e: LeadEnriched) -> str | None:
            dup = e.enrichment.duplicate_of
            return f"{dup.object} {dup.record_id}" if dup else None

        return duplicate
    raise TypeError(f"not a fit rule: {type(rule).__name__}")  # pragma: no cover


def _activity(e: LeadEnriched) -> datetime:
    return e.lead.engagement.last_activity_at or e.lead.submitted_at


def _engagement_check(rule: object) -> EngagementCheck:
    """A function giving (detail, activity time the points decay from) when ``rule`` applies, else None."""
    if isinstance(rule, LeadSourceRule):
        sources = frozenset(rule.values)
        return lambda e: (e.lead.lead_source.value, e.lead.submitted_at) if e.lead.lead_source in sources else None
    if isinstance(rule, CallbackRule):
        return lambda e: ("callback requested", e.lead.submitted_at) if e.lead.callback is not None else None
    if isinstance(rule, VisitsRule):
        return lambda e: (
            (f"{e.lead.engagement.visits} visits", _activity(e)) if rule.contains(e.lead.engagement.visits) else None
        )
    if isinstance(rule, PageViewsRule):
        return lambda e: (
            (f"{e.lead.engagement.page_views} page views", _activity(e))
            if rule.contains(e.lead.engagement.page_views)
            else None
        )
    if isinstance(rule, TimeOnSiteRule):
        return lambda e: (
            (f"{e.lead.engagement.time_on_site_seconds:.0f}s on site", _activity(e))
            if rule.contains(e.lead.engagement.time_on_site_seconds)
            else None
        )
    if isinstance(rule, DownloadsRule):
        return lambda e: (
            (f"{e.lead.engagement.content_downloads} downloads", _activity(e))
            if rule.contains(e.lead.engagement.content_downloads)
            else None
        )
    raise TypeError(f"not an engagement rule: {type(rule).__name__}")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class _Compiled:
    fit: tuple[tuple[Any, FitCheck], ...]
    engagement: tuple[tuple[Any, EngagementCheck], ...]


_COMPILED: dict[int, tuple[Ruleset, _Compiled]] = {}


def _compiled(ruleset: Ruleset) -> _Compiled:
    """The rule set turned into check functions once (cached per rule-set object)."""
    hit = _COMPILED.get(id(ruleset))
    if hit is not None and hit[0] is ruleset:
        return hit[1]
    compiled = _Compiled(
        fit=tuple((r, _fit_check(r)) for r in ruleset.fit.rules),
        engagement=tuple((r, _engagement_check(r)) for r in ruleset.engagement.rules),
    )
    if len(_COMPILED) > 64:
        _COMPILED.clear()
    _COMPILED[id(ruleset)] = (ruleset, compiled)
    return compiled


class Reason(NamedTuple):
    """One rule's contribution (a plain tuple while scoring; the top ones become ``ScoreReason``)."""

    component: Literal["fit", "engagement", "model"]
    points: float
    reason: str


def _reason(component: Literal["fit", "engagement"], points: float, text: str) -> Reason:
    return Reason(component, points, text)


def _clip(value: float, top: float) -> float:
    return min(max(value, 0.0), top)


def grade_for(fit: float, ruleset: Ruleset) -> Grade:
    for threshold in ruleset.grades:
        if fit >= threshold.min_fit:
            return threshold.grade
    return Grade.D


def band_for(engagement: float, ruleset: Ruleset) -> str:
    for band in ruleset.engagement_bands:
        if engagement >= band.min_engagement:
            return band.band
    return ruleset.low_band


def score_rules(event: LeadEnriched, ruleset: Ruleset) -> RuleScore:
    at = event.occurred_at
    checks = _compiled(ruleset)
    reasons: list[Reason] = []
    used_groups: set[str] = set()
    fit = 0.0
    for rule, check in checks.fit:
        if rule.group and rule.group in used_groups:
            continue
        detail = check(event)
        if detail is None:
            continue
        if rule.group:
            used_groups.add(rule.group)
        fit += rule.points
        reasons.append(_reason("fit", rule.points, f"{rule.reason} ({detail})"))
    engagement = 0.0
    half_life = ruleset.engagement.half_life_days
    for erule, echeck in checks.engagement:
        if erule.group and erule.group in used_groups:
            continue
        found = echeck(event)
        if found is None:
            continue
        if erule.group:
            used_groups.add(erule.group)
        detail, activity = found
        factor = decay_factor(activity, at, half_life)
        points = round(erule.points * factor, 2)
        engagement += points
        text = f"{erule.reason} ({detail})"
        if factor < 0.995:
            text += f", decayed x{factor:.2f}"
        reasons.append(_reason("engagement", points, text))
    fit_c = round(_clip(fit, ruleset.fit.max_points), 2)
    eng_c = round(_clip(engagement, ruleset.engagement.max_points), 2)
    score = 100.0 * (
        ruleset.weights.fit * fit_c / ruleset.fit.max_points
        + ruleset.weights.engagement * eng_c / ruleset.engagement.max_points
    )
    grade = grade_for(fit_c, ruleset)
    band = band_for(eng_c, ruleset)
    return RuleScore(
        score=round(_clip(score, 100.0), 1),
        fit=fit_c,
        engagement=eng_c,
        grade=grade,
        rating=ruleset.ratings[grade][band],
        band=band,
        reasons=tuple(reasons),
    )


def top_reasons(reasons: Sequence[Reason], n: int) -> tuple[ScoreReason, ...]:
    """The ``n`` reasons that moved the score most (by absolute points; ties keep rule order)."""
    ranked = sorted(enumerate(reasons), key=lambda ir: (-abs(ir[1].points), ir[0]))
    return tuple(ScoreReason(component=r.component, points=r.points, reason=r.reason) for _, r in ranked[:n])


def blend(rules: RuleScore, model: ModelScore | None, weight: float, ruleset: Ruleset) -> Score:
    """Final score = (1 - weight) x rules + weight x 100 x model probability (rules alone without a model)."""
    reasons = list(top_reasons(rules.reasons, ruleset.top_reasons))
    score = rules.score
    if model is not None and weight > 0:
        model_points = 100.0 * model.probability
        score = round(_clip((1 - weight) * rules.score + weight * model_points, 100.0), 1)
        reasons.append(
            ScoreReason(
                component="model",
                points=round(score - rules.score, 2),
                reason=f"model {model.model_version} p={model.probability:.2f} blended at {weight:.2f}",
            )
        )
    return Score(
        score=score,
        fit=rules.fit,
        engagement=rules.engagement,
        grade=rules.grade,
        rating=rules.rating,
        reasons=tuple(reasons),
        ruleset_version=ruleset.version,
        model=model,
    )


def scored_event(event: LeadEnriched, score: Score, rules: RuleScore, at: datetime) -> LeadScored:
    data: dict[str, str | int | float | bool | None] = {
        "score": score.score,
        "fit": score.fit,
        "engagement": score.engagement,
        "grade": score.grade.value,
        "rating": score.rating.value,
        "band": rules.band,
        "ruleset": score.ruleset_version,
        "model": score.model.model_version if score.model else None,
    }
    top = "; ".join(f"{r.reason} {r.points:+g}" for r in score.reasons[:3]) or "no rule matched"
    step = TraceStep(
        service=SERVICE,
        decision="scored",
        reason=f"{score.score:g} = grade {score.grade.value} x {rules.band} engagement -> {score.rating.value}; {top}",
        at=at,
        data=data,
    )
    return LeadScored(
        event_id=scored_event_id(event.event_id),
        lead_id=event.lead_id,
        occurred_at=at,
        trace=event.with_step(step),
        lead=event.lead,
        enrichment=event.enrichment,
        score=score,
    )
