from datetime import timedelta

import pytest
from leadflow_contracts import CallbackWindow, ClientType, DuplicateOf, Firmographics, Grade, LeadSourceKind, Rating
from leadflow_score.adapters.ruleset_file import load_ruleset
from leadflow_score.domain.engine import (
    blend,
    decay_factor,
    score_rules,
    scored_event,
    scored_event_id,
    top_reasons,
)
from leadflow_score.testing import T0, FakeModel, enriched

pytestmark = pytest.mark.unit
RS = load_ruleset()


def reasons_of(s) -> dict[str, float]:
    return {r.reason: r.points for r in s.reasons}


def test_ideal_lead_is_grade_a_and_hot_with_every_point_explained() -> None:
    ev = enriched(
        job_title="Chief Operating Officer",
        country="NO",
        lead_source=LeadSourceKind.CALLBACK_REQUEST,
        callback=CallbackWindow(start=T0 + timedelta(hours=2)),
        engagement={"visits": 6, "page_views": 20, "time_on_site_seconds": 900, "content_downloads": 3},
        firmographics=Firmographics(industry="Energy", employees=23000),
        client_type=ClientType.KEY_ACCOUNT,
    )
    s = score_rules(ev, RS)
    # fit: 30 title + 25 size + 15 industry + 10 country + 20 key account = 100
    assert s.fit == 100
    # engagement: 30 callback source + 20 callback + 12 + 10 + 10 + 12 = 94
    assert s.engagement == 94
    assert s.score == pytest.approx(100 * (0.6 * 1.0 + 0.4 * 0.94), abs=0.05)
    assert (s.grade, s.band, s.rating) == (Grade.A, "high", Rating.HOT)
    r = reasons_of(s)
    assert r["C-level or owner (Chief Operating Officer)"] == 30
    assert r["enterprise (1000+ employees) (23000 employees)"] == 25
    assert r["asked to be called back (callback_request)"] == 30
    assert sum(x.points for x in s.reasons if x.component == "fit") == 100


def test_exclusive_groups_score_a_title_once() -> None:
    s = score_rules(enriched(job_title="Head of Procurement and Team Lead"), RS)
    title_points = [x for x in s.reasons if "Head of Procurement" in x.reason]
    assert len(title_points) == 1 and title_points[0].points == 24


def test_free_mail_penalty_and_credit_hold_make_a_cold_d() -> None:
    s = score_rules(
        enriched(
            email="x@gmail.com",
            email_is_free=True,
            client_type=ClientType.CREDIT_HOLD,
            lead_source=LeadSourceKind.LIST_UPLOAD,
        ),
        RS,
    )
    r = reasons_of(s)
    assert r["free-mail address, no company domain (free-mail address)"] == -15
    assert r["credit hold (overdue debt) (credit_hold)"] == -40
    assert s.fit == 0  # clipped at zero, never negative
    assert (s.grade, s.rating) == (Grade.D, Rating.COLD)
    assert 0 <= s.score < 5


@pytest.mark.parametrize(
    ("title", "employees", "country", "grade"),
    [
        ("CEO", 1500, "NO", Grade.A),  # 30+25+10 = 65
        ("Sales Manager", 300, "DE", Grade.B),  # 15+20+10 = 45
        ("Engineer", 60, "FR", Grade.C),  # 6+14+4 = 24
        ("Intern", 5, "US", Grade.D),  # -10+0 -> 0
    ],
)
def test_grades_from_fit_thresholds(title, employees, country, grade) -> None:
    s = score_rules(enriched(job_title=title, country=country, firmographics=Firmographics(employees=employees)), RS)
    assert s.grade is grade


@pytest.mark.parametrize(
    ("source", "engagement", "band"),
    [
        (LeadSourceKind.CALLBACK_REQUEST, {"visits": 6}, "high"),  # 30 + 12 = 42
        (LeadSourceKind.WEB_FORM, {}, "medium"),  # 20
        (LeadSourceKind.LIST_UPLOAD, {"page_views": 6}, "low"),  # 2 + 5 = 7
    ],
)
def test_rating_is_the_grade_by_engagement_band_matrix(source, engagement, band) -> None:
    for title, employees, grade in (
        ("CEO", 1500, Grade.A),
        ("Sales Manager", 300, Grade.B),
        ("Engineer", 60, Grade.C),
        ("Intern", 5, Grade.D),
    ):
        s = score_rules(
            enriched(
                job_title=title,
                country="NO" if grade is not Grade.D else "US",
                lead_source=source,
                engagement=engagement,
                firmographics=Firmographics(employees=employees),
            ),
            RS,
        )
        if grade is Grade.C:
            assert s.grade in (Grade.C, Grade.B)
        assert s.band == band
        assert s.rating is RS.ratings[s.grade][band]


def test_engagement_decays_with_the_half_life_relative_to_the_event_time() -> None:
    fresh = enriched(lead_source=LeadSourceKind.WEB_FORM, engagement={"visits": 6, "last_activity_at": T0})
    old = enriched(
        lead_source=LeadSourceKind.WEB_FORM,
        submitted_at=T0 - timedelta(days=14),
        engagement={"visits": 6, "last_activity_at": T0 - timedelta(days=28)},
    )
    f, o = score_rules(fresh, RS), score_rules(old, RS)
    assert f.engagement == 32  # 20 + 12
    assert o.engagement == pytest.approx(20 * 0.5 + 12 * 0.25, abs=0.02)
    assert any("decayed x0.25" in r.reason for r in o.reasons)
    assert not any("decayed" in r.reason for r in f.reasons)
    assert decay_factor(T0 + timedelta(days=3), T0, 14) == 1.0  # future activity does not inflate
    assert decay_factor(None, T0, 14) == 1.0


def test_scoring_is_deterministic_and_ignores_the_wall_clock() -> None:
    ev = enriched(
        event_id="enr-1", job_title="CTO", engagement={"visits": 3, "last_activity_at": T0 - timedelta(days=7)}
    )
    assert score_rules(ev, RS) == score_rules(ev, RS)
    out = scored_event(ev, blend(score_rules(ev, RS), None, 0.0, RS), score_rules(ev, RS), T0)
    assert out.event_id == scored_event_id("enr-1")


def test_top_reasons_by_absolute_points_and_event_fields() -> None:
    ev = enriched(
        job_title="CEO",
        email_is_free=True,
        client_type=ClientType.CREDIT_HOLD,
        country="NO",
        firmographics=Firmographics(employees=50000, industry="Energy"),
        lead_source=LeadSourceKind.CALLBACK_REQUEST,
        engagement={"visits": 9, "page_views": 30, "time_on_site_seconds": 700, "content_downloads": 1},
    )
    rules = score_rules(ev, RS)
    score = blend(rules, None, 0.0, RS)
    assert len(score.reasons) == RS.top_reasons < len(rules.reasons)
    assert [abs(r.points) for r in score.reasons] == sorted((abs(r.points) for r in score.reasons), reverse=True)
    assert score.reasons[0].points == -40
    assert score.ruleset_version == "ruleset-v1" and score.model is None
    assert top_reasons(rules.reasons, 2)[1].points == 30  # ties keep rule order: title before callback source
    out = scored_event(ev, score, rules, T0)
    assert out.score == score and out.enrichment == ev.enrichment and out.lead == ev.lead
    assert out.trace[-1].service == "score" and out.trace[-1].data["grade"] == score.grade.value


def test_duplicate_rule() -> None:
    ev = enriched()
    dup = ev.model_copy(
        update={
            "enrichment": ev.enrichment.model_copy(
                update={"duplicate_of": DuplicateOf(object="Lead", record_id="00QA", matched_on="email")}
            )
        }
    )
    assert score_rules(dup, RS).fit - score_rules(ev, RS).fit == 3


def test_model_blend_with_a_fake_model() -> None:
    ev = enriched("lead-m", job_title="Engineer", country="NO", lead_source=LeadSourceKind.WEB_FORM)
    rules = score_rules(ev, RS)
    [ms] = FakeModel({"lead-m": 0.9}).score_batch([ev])
    assert ms is not None
    s = blend(rules, ms, 0.25, RS)
    assert s.score == pytest.approx(round(0.75 * rules.score + 0.25 * 90, 1))
    assert s.model == ms
    assert s.reasons[-1].component == "model" and "fake-1" in s.reasons[-1].reason
    assert s.reasons[-1].points == pytest.approx(s.score - rules.score, abs=0.01)
    assert (s.grade, s.rating, s.fit) == (rules.grade, rules.rating, rules.fit)  # grade/rating stay rule-based
    assert blend(rules, ms, 0.0, RS).score == rules.score
    assert blend(rules, None, 0.5, RS).score == rules.score
