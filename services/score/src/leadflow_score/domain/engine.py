"""Scoring: rule points (fit + time-decayed engagement), grade, rating, and the optional model blend.

Pure: the event, the rule set and (optionally) a model's output in; a ``Score`` with every reason out.
Decay is measured from the activity to the event's own time (``occurred_at``), never the wall clock, so
scoring the same event twice gives the same result.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

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
    reasons: tuple[ScoreReason, ...]


def decay_factor(activity: datetime | None, at: datetime, half_life_days: float) -> float:
    if activity is None:
        return 1.0
    age_days = max(0.0, (at - activity).total_seconds() / 86400.0)
    return float(0.5 ** (age_days / half_life_days))


def _fit_matches(rule: object, event: LeadEnriched) -> str | None:
    """A detail string when ``rule`` applies to the lead, else None."""
    lead, enr = event.lead, event.enrichment
    if isinstance(rule, TitleRule):
        return lead.job_title if lead.job_title and _regex(rule.pattern).search(lead.job_title) else None
    if isinstance(rule, CompanySizeRule):
        employees = enr.firmographics.employees if enr.firmographics.employees is not None else lead.employees
        return f"{employees} employees" if rule.contains(employees) else None
    if isinstance(rule, IndustryRule):
        industry = enr.firmographics.industry or lead.industry
        wanted = {v.lower() for v in rule.values}
        return industry if industry and industry.lower() in wanted else None
    if isinstance(rule, CountryRule):
        country = (lead.country or enr.firmographics.country or "").upper()
        return country if country in rule.values else None
    if isinstance(rule, FreeMailRule):
        return "free-mail address" if lead.email_is_free else None
    if isinstance(rule, ClientTypeRule):
        return enr.client_type.value if enr.client_type in rule.values else None
    if isinstance(rule, DuplicateRule):
        dup = enr.duplicate_of
        return f"{dup.object} {dup.record_id}" if dup else None
    raise TypeError(f"not a fit rule: {type(rule).__name__}")  # pragma: no cover


def _engagement_matches(rule: object, event: LeadEnriched) -> tuple[str, datetime | None] | None:
    """(detail, activity time the points decay from) when ``rule`` applies, else None."""
    lead = event.lead
    eng = lead.engagement
    activity = eng.last_activity_at or lead.submitted_at
    if isinstance(rule, LeadSourceRule):
        return (lead.lead_source.value, lead.submitted_at) if lead.lead_source in rule.values else None
    if isinstance(rule, CallbackRule):
        return ("callback requested", lead.submitted_at) if lead.callback is not None else None
    if isinstance(rule, VisitsRule):
        return (f"{eng.visits} visits", activity) if rule.contains(eng.visits) else None
    if isinstance(rule, PageViewsRule):
        return (f"{eng.page_views} page views", activity) if rule.contains(eng.page_views) else None
    if isinstance(rule, TimeOnSiteRule):
        seconds = eng.time_on_site_seconds
        return (f"{seconds:.0f}s on site", activity) if rule.contains(seconds) else None
    if isinstance(rule, DownloadsRule):
        return (f"{eng.content_downloads} downloads", activity) if rule.contains(eng.content_downloads) else None
    raise TypeError(f"not an engagement rule: {type(rule).__name__}")  # pragma: no cover


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
    reasons: list[ScoreReason] = []
    used_groups: set[str] = set()
    fit = 0.0
    for rule in ruleset.fit.rules:
        if rule.group and rule.group in used_groups:
            continue
        detail = _fit_matches(rule, event)
        if detail is None:
            continue
        if rule.group:
            used_groups.add(rule.group)
        fit += rule.points
        reasons.append(ScoreReason(component="fit", points=rule.points, reason=f"{rule.reason} ({detail})"))
    engagement = 0.0
    half_life = ruleset.engagement.half_life_days
    for erule in ruleset.engagement.rules:
        if erule.group and erule.group in used_groups:
            continue
        found = _engagement_matches(erule, event)
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
        reasons.append(ScoreReason(component="engagement", points=points, reason=text))
    fit_c = round(_clip(fit, ruleset.fit.max_points), 2)
    eng_c = round(_clip(engagement, ruleset.engagement.max_points), 2)
    score = 100.0 * (ruleset.weights.fit * fit_c / ruleset.fit.max_points
                     + ruleset.weights.engagement * eng_c / ruleset.engagement.max_points)
    grade = grade_for(fit_c, ruleset)
    band = band_for(eng_c, ruleset)
    return RuleScore(score=round(_clip(score, 100.0), 1), fit=fit_c, engagement=eng_c, grade=grade,
                     rating=ruleset.ratings[grade][band], band=band, reasons=tuple(reasons))


def top_reasons(reasons: tuple[ScoreReason, ...] | list[ScoreReason], n: int) -> tuple[ScoreReason, ...]:
    """The ``n`` reasons that moved the score most (by absolute points; ties keep rule order)."""
    ranked = sorted(enumerate(reasons), key=lambda ir: (-abs(ir[1].points), ir[0]))
    return tuple(r for _, r in ranked[:n])


def blend(rules: RuleScore, model: ModelScore | None, weight: float, ruleset: Ruleset) -> Score:
    """Final score = (1 - weight) x rules + weight x 100 x model probability (rules alone without a model)."""
    reasons = list(top_reasons(rules.reasons, ruleset.top_reasons))
    score = rules.score
    if model is not None and weight > 0:
        model_points = 100.0 * model.probability
        score = round(_clip((1 - weight) * rules.score + weight * model_points, 100.0), 1)
        reasons.append(ScoreReason(
            component="model", points=round(score - rules.score, 2),
            reason=f"model {model.model_version} p={model.probability:.2f} blended at {weight:.2f}",
        ))
    return Score(score=score, fit=rules.fit, engagement=rules.engagement, grade=rules.grade, rating=rules.rating,
                 reasons=tuple(reasons), ruleset_version=ruleset.version, model=model)


def scored_event(event: LeadEnriched, score: Score, rules: RuleScore, at: datetime) -> LeadScored:
    data: dict[str, str | int | float | bool | None] = {
        "score": score.score, "fit": score.fit, "engagement": score.engagement, "grade": score.grade.value,
        "rating": score.rating.value, "band": rules.band, "ruleset": score.ruleset_version,
        "model": score.model.model_version if score.model else None,
    }
    top = "; ".join(f"{r.reason} {r.points:+g}" for r in score.reasons[:3]) or "no rule matched"
    step = TraceStep(service=SERVICE, decision="scored",
                     reason=f"{score.score:g} = grade {score.grade.value} x {rules.band} engagement -> "
                            f"{score.rating.value}; {top}",
                     at=at, data=data)
    return LeadScored(event_id=scored_event_id(event.event_id), lead_id=event.lead_id, occurred_at=at,
                      trace=event.with_step(step), lead=event.lead, enrichment=event.enrichment, score=score)
