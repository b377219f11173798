"""ModelRegistry: the score service's port. Hot reload, shadow mode, explanations, failure handling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from leadflow_contracts import LeadSourceKind, ModelScore
from leadflow_model.artifacts import ACTIVE_FILE, ActivePointer, write_active
from leadflow_model.registry import ModelRegistry
from leadflow_model.workflow import set_shadow

pytestmark = pytest.mark.unit


class Ticker:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def two_versions(trained_versions):
    return trained_versions.root, trained_versions.v1, trained_versions.v2


@pytest.fixture
def root(models_dir: Path) -> Path:
    return models_dir


def test_no_active_model_means_no_model_score(root: Path, make_lead) -> None:
    reg = ModelRegistry(root)
    assert reg.active_version is None
    assert reg.score_batch([make_lead(), make_lead(lead_id="b")]) == [None, None]


def test_scores_a_batch_with_probabilities_and_reasons_in_words(root: Path, two_versions, make_lead) -> None:
    _, v1, _ = two_versions
    write_active(root, ActivePointer(active=v1))
    reg = ModelRegistry(root)
    engaged = make_lead(
        lead_id="hot",
        kind=LeadSourceKind.AD_PLATFORM,
        seconds=1800,
        visits=5,
        page_views=15,
        job_title="Senior accountant",
    )
    cold = make_lead(
        lead_id="cold",
        utm_source="olark",
        seconds=0,
        visits=0,
        page_views=0,
        job_title=None,
        industry=None,
        country=None,
    )
    hot_s, cold_s = reg.score_batch([engaged, cold])
    assert isinstance(hot_s, ModelScore) and hot_s.model_version == v1
    assert 0 <= cold_s.probability < hot_s.probability <= 1
    ModelScore.model_validate(hot_s.model_dump())  # a valid contract value
    assert 1 <= len(hot_s.contributions) <= 3
    for r in hot_s.contributions:
        assert r.component == "model"
        assert re.fullmatch(r".+: [+-]\d+ %", r.reason), r.reason
    reasons = " | ".join(r.reason for r in hot_s.contributions)
    assert "came from Lead Add Form" in reasons or "min on the website" in reasons
    # contributions are sorted by size
    sizes = [abs(r.points) for r in hot_s.contributions]
    assert sizes == sorted(sizes, reverse=True)


def test_hot_reload_swaps_to_the_new_active_version_without_restart(root: Path, two_versions, make_lead) -> None:
    _, v1, v2 = two_versions
    write_active(root, ActivePointer(active=v1))
    tick = Ticker()
    reg = ModelRegistry(root, check_interval=5.0, monotonic=tick)
    lead = make_lead(seconds=1500, visits=4, page_views=8)
    first = reg.score_batch([lead])[0]
    assert first.model_version == v1
    write_active(root, ActivePointer(active=v2))
    assert reg.score_batch([lead])[0].model_version == v1  # not re-checked before the interval
    tick.t = 6.0
    second = reg.score_batch([lead])[0]
    assert second.model_version == v2 and reg.reloads == 2
    assert second.probability != first.probability


def test_a_broken_pointer_keeps_the_previous_model(root: Path, two_versions, make_lead) -> None:
    _, v1, _ = two_versions
    write_active(root, ActivePointer(active=v1))
    reg = ModelRegistry(root, check_interval=0)
    (root / ACTIVE_FILE).write_text('{"active": "no-such-version"}')
    assert reg.score_batch([make_lead()])[0].model_version == v1
    assert "no-such-version" in (reg.last_error or "")
    (root / ACTIVE_FILE).write_text("not json")
    assert reg.score_batch([make_lead()])[0].model_version == v1


def test_shadow_scores_are_recorded_but_not_used(root: Path, two_versions, make_lead) -> None:
    _, v1, v2 = two_versions
    write_active(root, ActivePointer(active=v1))
    leads = [make_lead(lead_id=str(i), seconds=100 * i, visits=i % 5, page_views=i) for i in range(20)]
    alone = ModelRegistry(root).score_batch(leads)
    set_shadow(root, [v2])
    with_shadow = ModelRegistry(root).score_batch(leads)
    write_active(root, ActivePointer(active=v2))
    v2_alone = ModelRegistry(root).score_batch(leads)
    for a, s, c in zip(alone, with_shadow, v2_alone, strict=True):
        assert s.model_version == v1 and s.probability == a.probability  # the active score is unchanged
        assert a.shadow == ()
        assert [v for v, _ in s.shadow] == [v2]
        assert s.shadow[0][1] == pytest.approx(c.probability, abs=1e-6)  # what v2 would have said


def test_a_shadow_cannot_be_the_active_version(root: Path, two_versions) -> None:
    from leadflow_model.artifacts import ArtifactError

    _, v1, _ = two_versions
    write_active(root, ActivePointer(active=v1))
    with pytest.raises(ArtifactError, match="active version"):
        set_shadow(root, [v1])


def test_contributions_follow_the_model_and_are_table_lookups(trained_versions, make_lead) -> None:
    from leadflow_model.artifacts import load_artifact
    from leadflow_model.explain import bin_words

    loaded = load_artifact(trained_versions.root / trained_versions.v1)
    ex = loaded.manifest.explainer
    assert ex is not None
    origin = next(g for g in ex.groups if g.group == "Lead_Origin__c")
    vocab = loaded.manifest.spec.vocab["Lead_Origin__c"]
    effect = dict(zip([*vocab, "other", "missing"], origin.effects, strict=True))
    # in this org's history, Lead Add Form leads convert far more often than landing-page leads
    assert effect["Lead Add Form"] > 0.1 > effect["Landing Page Submission"]
    assert bin_words(loaded.manifest.spec, origin, vocab.index("Lead Add Form")) == "came from Lead Add Form"
    time_group = next(g for g in ex.groups if g.group == "Web_Time_On_Site__c")
    assert time_group.effects[-2] > time_group.effects[0]  # long visits beat no visit
    assert "on the website" in bin_words(loaded.manifest.spec, time_group, len(time_group.edges))


def test_model_score_built_fast_is_equal_to_a_validated_one(models_dir: Path, trained_versions, make_lead) -> None:
    write_active(models_dir, ActivePointer(active=trained_versions.v1, shadow=(trained_versions.v2,)))
    s = ModelRegistry(models_dir).score_batch([make_lead()])[0]
    again = ModelScore.model_validate_json(s.model_dump_json())
    assert again == s and again.model_dump() == s.model_dump()
    assert s.model_fields_set == again.model_fields_set
