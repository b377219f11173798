"""Custom form answers at intake: declared keys and allowed values pass in canonical form, anything else is
dropped and named in the trace (or rejects the lead under on_invalid: reject); engagement not sent stays
unknown (None), never 0."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_contracts import CustomAnswersConfig, LeadSubmitted, RejectionReason
from leadflow_intake.adapters.config_files import ConfigError, load_custom_answers
from leadflow_intake.domain.custom_answers import apply_custom_answers
from leadflow_intake.domain.decide import Accepted, DecisionContext, decide
from leadflow_intake.domain.rejections import HTTP_STATUS, Rejection

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CONFIG_FILE = Path(__file__).resolve().parents[4] / "deploy" / "custom-answers.yaml"


def submitted(**extra: object) -> LeadSubmitted:
    return LeadSubmitted.model_validate(
        {
            "event_id": "evt-1",
            "occurred_at": "2026-11-26T09:30:00Z",
            "source": {"system": "x-education-web"},
            "person": {"email": "anna@example.org"},
            **extra,
        }
    )


def run(sub: LeadSubmitted, config: CustomAnswersConfig | None) -> Accepted | Rejection:
    accepted = decide(sub, DecisionContext(now=NOW))
    assert isinstance(accepted, Accepted)
    return apply_custom_answers(sub, accepted, config)


@pytest.fixture(scope="module")
def config() -> CustomAnswersConfig:
    return load_custom_answers(CONFIG_FILE)


def test_allowed_answers_pass_in_their_declared_spelling(config: CustomAnswersConfig) -> None:
    out = run(submitted(custom_answers={"occupation": "student", "specialization": "Finance Management"}), config)
    assert isinstance(out, Accepted)
    assert out.lead.custom_answers == {"occupation": "Student", "specialization": "Finance Management"}
    assert out.step.data["custom_answers"] == "occupation,specialization"
    assert "dropped_custom_answers" not in out.step.data


def test_a_value_not_allowed_costs_the_answer_not_the_lead_and_is_traced(config: CustomAnswersConfig) -> None:
    out = run(submitted(custom_answers={"occupation": "Astronaut", "shoe_size": "44", "heard_from": "Email"}), config)
    assert isinstance(out, Accepted)
    assert out.lead.custom_answers == {"heard_from": "Email"}
    assert out.step.data["dropped_custom_answers"] == "occupation,shoe_size"
    assert "custom_answers.occupation ('Astronaut' is not one of" in out.step.reason
    assert "custom_answers.shoe_size (not a declared custom answer)" in out.step.reason
    assert {"custom_answers.occupation", "custom_answers.shoe_size"} <= set(out.dropped)


def test_reject_mode_names_the_answer(config: CustomAnswersConfig) -> None:
    strict = config.model_copy(update={"on_invalid": "reject"})
    out = run(submitted(custom_answers={"occupation": "Astronaut"}), strict)
    assert isinstance(out, Rejection)
    assert out.reason is RejectionReason.INVALID_CUSTOM_ANSWER and out.field == "custom_answers.occupation"
    assert "'Astronaut' is not one of" in out.message
    assert HTTP_STATUS[out.reason] == 422


def test_without_configuration_every_answer_is_dropped_and_traced() -> None:
    out = run(submitted(custom_answers={"occupation": "Student"}), None)
    assert isinstance(out, Accepted) and out.lead.custom_answers == {}
    assert out.step.data["dropped_custom_answers"] == "occupation"


def test_a_lead_without_answers_is_untouched(config: CustomAnswersConfig) -> None:
    sub = submitted()
    accepted = decide(sub, DecisionContext(now=NOW))
    assert apply_custom_answers(sub, accepted, config) is accepted  # type: ignore[arg-type]


@given(
    st.dictionaries(
        st.sampled_from(["occupation", "heard_from", "course_priority", "other"]),
        st.one_of(st.text(max_size=20), st.sampled_from(["Student", "Other", "SMS", "email"])),
    )
)
def test_every_answer_is_kept_canonically_or_named(answers: dict[str, str]) -> None:
    config = load_custom_answers(CONFIG_FILE)
    out = run(submitted(custom_answers=answers), config)
    assert isinstance(out, Accepted)
    dropped = set((out.step.data.get("dropped_custom_answers") or "").split(",")) - {""}
    for key, value in answers.items():
        if key in out.lead.custom_answers:
            assert out.lead.custom_answers[key] in config.answers[key].values
        else:
            assert key in dropped or not value.strip()


def test_a_bad_configuration_file_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "answers.yaml"
    bad.write_text("answers:\n  occupation: {label: Occupation}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"answers\.occupation.*choice needs its allowed values"):
        load_custom_answers(bad)


def test_engagement_not_sent_stays_unknown_through_intake() -> None:
    out = decide(submitted(), DecisionContext(now=NOW))
    assert isinstance(out, Accepted)
    eng = out.lead.engagement
    assert eng.visits is None and eng.page_views is None and eng.time_on_site_seconds is None
    sent = decide(submitted(engagement={"visits": 0, "page_views": 0}), DecisionContext(now=NOW))
    assert isinstance(sent, Accepted)
    assert sent.lead.engagement.visits == 0 and sent.lead.engagement.page_views == 0
