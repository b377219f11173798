"""Artifact round-trip, calibration sanity and the publish guard, on a subsample of the shared export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from leadflow_model.artifacts import ArtifactError, load_artifact, read_active, read_manifest
from leadflow_model.features import encode
from leadflow_model.train import TrainConfig, TrainingError, train
from leadflow_model.workflow import PublishRefused, publish

pytestmark = pytest.mark.unit


@pytest.fixture
def written(trained_versions, models_dir: Path):
    return trained_versions.outcome1, models_dir


def test_artifact_round_trip_gives_the_same_probabilities(written) -> None:
    outcome, root = written
    loaded = load_artifact(root / outcome.version)
    assert loaded.version == outcome.version == "x-education-20261126T100000Z"
    assert loaded.path.parent == root
    x = encode(loaded.manifest.spec, outcome.holdout.records)
    np.testing.assert_allclose(
        loaded.model.predict_proba(x)[:, 1], outcome.trained.model.predict_proba(x)[:, 1], rtol=1e-12
    )
    # the holdout figures belong to the validated model (training split only), not to the refit
    validated = outcome.trained.validated_model
    xv = encode(outcome.trained.validated_spec, outcome.holdout.records)
    np.testing.assert_allclose(validated.predict_proba(xv)[:, 1], outcome.trained.holdout_scores, rtol=1e-12)
    m = read_manifest(root / outcome.version)
    assert m.refit_on_all and m.columns
    metrics = json.loads((outcome.path / "metrics.json").read_text())
    assert metrics["final"]["n"] == len(outcome.holdout) + metrics["train"]["n"]
    assert m.spec.fields == (
        "Lead_Origin__c",
        "LeadSource",
        "HasOptedOutOfEmail",
        "DoNotCall",
        "Web_Visits__c",
        "Web_Time_On_Site__c",
        "Web_Page_Views_Per_Visit__c",
        "Content_Downloads__c",
        "Country",
        "Specialization__c",
        "Occupation__c",
        "Heard_From__c",
        "Course_Priority__c",
    )
    assert m.window["train_from"] < m.window["train_to"] <= m.window["holdout_from"] < m.window["holdout_to"]
    assert m.holdout_roc_auc == pytest.approx(
        json.loads((outcome.path / "metrics.json").read_text())["holdout"]["roc_auc"]
    )
    card = (outcome.path / "model_card.md").read_text()
    assert outcome.version in card and "Tags" in card and "{roc_auc}" not in card and "{version}" not in card
    report = outcome.report.read_text()
    assert "ROC AUC" in report
    for png in ("roc.png", "pr.png", "calibration.png", "deciles.png"):
        assert (outcome.path / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in report


def test_a_tampered_model_file_is_refused(written, tmp_path: Path) -> None:
    outcome, _ = written
    import shutil

    copy = tmp_path / outcome.version
    shutil.copytree(written[1] / outcome.version, copy)
    with open(copy / "model.joblib", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactError, match="sha256"):
        load_artifact(copy)


def test_holdout_is_the_newest_leads_and_never_used_for_selection(written) -> None:
    outcome, _ = written
    m = outcome.trained.metrics
    assert m["holdout"]["n"] == len(outcome.holdout)
    # selection is by cross-validated AUC on the train split
    assert m["chosen_params"] == max(m["cv"], key=lambda c: c["cv_roc_auc"])["params"]


def test_calibration_sanity(written) -> None:
    outcome, _ = written
    h = outcome.trained.metrics["holdout"]
    p, y = outcome.trained.holdout_scores, outcome.trained.holdout_labels
    assert 0.0 <= p.min() and p.max() <= 1.0
    assert abs(p.mean() - y.mean()) < 0.08  # calibrated: mean prediction near the observed rate
    assert h["expected_calibration_error"] < 0.1
    deciles = h["deciles"]
    assert deciles[0]["conversion_rate"] > 2 * deciles[-1]["conversion_rate"]
    assert h["roc_auc"] > 0.8


def test_publish_refuses_a_worse_model_unless_forced(trained_versions, models_dir: Path) -> None:
    root, good, weak = models_dir, trained_versions.v1, trained_versions.v2
    publish(root, good, evaluation=trained_versions.outcome1.holdout)
    assert read_active(root).active == good
    with pytest.raises(PublishRefused, match="worse than the active"):
        publish(root, weak, evaluation=trained_versions.outcome2.holdout)
    assert read_active(root).active == good
    verdict = publish(root, weak, force=True, evaluation=trained_versions.outcome2.holdout)
    assert verdict["forced"] and read_active(root).active == weak
    assert read_active(root).note == "forced"
    publish(root, good)  # better than the active (recorded AUCs): allowed
    assert read_active(root).active == good


def test_too_little_history_is_a_clear_error(small_history, xedu_mapping) -> None:
    with pytest.raises(TrainingError, match="at least 50 leads"):
        train(small_history.subset(list(range(30))), xedu_mapping, TrainConfig())


def test_calibration_keeps_ranking_resolution_and_is_chosen_by_cv(written) -> None:
    outcome, _ = written
    m = outcome.trained.metrics
    table = {r["method"]: r for r in m["calibration_cv"]}
    assert set(table) == {"sigmoid", "isotonic"}
    sig, iso = table["sigmoid"], table["isotonic"]
    iso_better = iso["cv_brier"] < sig["cv_brier"] - 0.001 and iso["cv_pr_auc"] >= sig["cv_pr_auc"] - 0.002
    assert m["calibration_method"] == ("isotonic" if iso_better else "sigmoid")
    # the holdout keeps (nearly) one score per lead when Platt is chosen, not ~50 isotonic steps
    if m["calibration_method"] == "sigmoid":
        assert m["holdout"]["distinct_scores"] > 0.8 * m["holdout"]["n"]


def test_choose_calibration_prefers_platt_unless_isotonic_is_clearly_better() -> None:
    from leadflow_model.train import choose_calibration

    rng = np.random.default_rng(3)
    s = rng.uniform(0.02, 0.98, 4000)
    y_platt = (rng.uniform(size=s.size) < s).astype(int)  # already calibrated: nothing for isotonic to gain
    method, rows = choose_calibration(s, y_platt, TrainConfig())
    assert method == "sigmoid" and {r["method"] for r in rows} == {"sigmoid", "isotonic"}
    assert TrainConfig(calibration="isotonic").calibration == "isotonic"
    forced, _ = choose_calibration(s, y_platt, TrainConfig(calibration="isotonic"))
    assert forced == "isotonic"


def test_bootstrap_intervals_hold_the_point_estimate_and_pair_the_resamples() -> None:
    from leadflow_model.train import bootstrap

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 600)
    good = np.clip(y * 0.6 + rng.uniform(0, 0.4, y.size), 0, 1)
    noise = rng.uniform(size=y.size)
    out = bootstrap(y, {"good": good, "noise": noise}, n=200, seed=1, reference="good")
    lo, hi = out["models"]["good"]["roc_auc"]
    from sklearn.metrics import roc_auc_score

    assert lo <= roc_auc_score(y, good) <= hi
    diff = out["paired_difference"]["noise"]["roc_auc"]
    assert diff["share_better"] == 1.0 and diff["ci"][0] > 0.3


def test_baselines_are_fitted_on_the_same_split_and_reported(small_history, xedu_mapping) -> None:
    cfg = TrainConfig(cv_folds=3, param_grid=({"max_iter": 40},), bootstrap=50, refit_on_all=False)
    t = train(small_history, xedu_mapping, cfg)
    assert set(t.baselines) == {
        "untuned HistGradientBoosting",
        "untuned GradientBoosting",
        "one-hot logistic regression",
    }
    for name, p in t.baselines.items():
        assert len(p) == len(t.holdout_labels)
        assert t.metrics["baselines"][name]["roc_auc"] > 0.7
        assert name in t.metrics["bootstrap"]["paired_difference"]
    assert t.model is t.validated_model  # no refit asked: the published model is the validated one
