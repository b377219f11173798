"""Training: honest holdout, tuning by cross-validation on the training split only, calibration, metrics.

The holdout is the newest ``holdout_fraction`` of leads by CreatedDate (time-ordered, default) or a
stratified random split. It is used once, for the final report: never for selecting parameters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

from leadflow_model.explain import Explainer, fit_explainer
from leadflow_model.features import FeatureSpec, encode, fit_spec
from leadflow_model.history import History
from leadflow_model.mapping import Mapping

HoldoutKind = Literal["time", "stratified"]

# Candidate settings tried by cross-validation on the training split (the first is sklearn's default).
PARAM_GRID: tuple[dict[str, Any], ...] = (
    {},
    {"learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 15, "min_samples_leaf": 40, "l2_regularization": 1.0},
    {"learning_rate": 0.03, "max_iter": 500, "max_depth": 4, "min_samples_leaf": 30, "l2_regularization": 3.0},
    {"learning_rate": 0.05, "max_iter": 250, "max_leaf_nodes": 8, "min_samples_leaf": 60, "l2_regularization": 5.0},
)


class TrainingError(ValueError):
    pass


@dataclass
class TrainConfig:
    holdout: HoldoutKind = "time"
    holdout_fraction: float = 0.2
    cv_folds: int = 5
    param_grid: tuple[dict[str, Any], ...] = PARAM_GRID
    calibration: Literal["isotonic", "sigmoid", "auto"] = "auto"
    min_category_count: int = 5
    seed: int = 7
    baseline: bool = True  # also fit an untuned model, to report how much tuning and calibration bought


@dataclass
class Split:
    train: list[int]
    holdout: list[int]


@dataclass
class Trained:
    model: Any
    spec: FeatureSpec
    params: dict[str, Any]
    cv: list[dict[str, Any]]
    metrics: dict[str, Any]
    holdout_scores: np.ndarray
    holdout_labels: np.ndarray
    baseline_holdout_scores: np.ndarray | None
    window: dict[str, str | None]
    explainer: Explainer | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def split_history(history: History, cfg: TrainConfig) -> Split:
    n = len(history)
    idx = list(range(n))
    if cfg.holdout == "time":
        order = sorted(idx, key=lambda i: history.created[i])
        k = round(n * (1 - cfg.holdout_fraction))
        return Split(order[:k], order[k:])
    tr, ho = train_test_split(idx, test_size=cfg.holdout_fraction, stratify=history.labels, random_state=cfg.seed)
    return Split(sorted(tr), sorted(ho))


def _hgb(spec: FeatureSpec, params: dict[str, Any], seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(categorical_features=spec.categorical_mask, random_state=seed, **params)


def calibrated(spec: FeatureSpec, params: dict[str, Any], cfg: TrainConfig, n: int) -> CalibratedClassifierCV:
    method = cfg.calibration if cfg.calibration != "auto" else ("isotonic" if n >= 2000 else "sigmoid")
    folds = StratifiedKFold(cfg.cv_folds, shuffle=True, random_state=cfg.seed)
    return CalibratedClassifierCV(_hgb(spec, params, cfg.seed), method=method, cv=folds, ensemble=False)


def metrics_for(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """ROC AUC, PR AUC, Brier, log loss, calibration bins and the decile table (decile 1 = highest scores)."""
    out: dict[str, Any] = {"n": len(y), "positives": int(y.sum()), "base_rate": float(y.mean())}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
        out["log_loss"] = float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))
    out["brier"] = float(brier_score_loss(y, p))
    order = np.argsort(-p, kind="stable")
    deciles = []
    for d, part in enumerate(np.array_split(order, 10), start=1):
        if len(part) == 0:
            continue
        rate = float(y[part].mean())
        deciles.append(
            {
                "decile": d,
                "n": len(part),
                "conversion_rate": rate,
                "mean_probability": float(p[part].mean()),
                "lift": rate / out["base_rate"] if out["base_rate"] else math.nan,
                "cumulative_capture": float(
                    y[order[: sum(len(x) for x in np.array_split(order, 10)[:d])]].sum() / max(1, y.sum())
                ),
            }
        )
    out["deciles"] = deciles
    out["lift_top_decile"] = deciles[0]["lift"] if deciles else math.nan
    bins = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(p, bins) - 1, 0, 9)
    out["calibration"] = [
        {
            "bin": f"{bins[b]:.1f}-{bins[b + 1]:.1f}",
            "n": int((which == b).sum()),
            "mean_probability": float(p[which == b].mean()),
            "observed_rate": float(y[which == b].mean()),
        }
        for b in range(10)
        if (which == b).any()
    ]
    out["expected_calibration_error"] = float(
        sum(c["n"] * abs(c["mean_probability"] - c["observed_rate"]) for c in out["calibration"]) / max(1, len(y))
    )
    return out


def train(history: History, mapping: Mapping, cfg: TrainConfig | None = None) -> Trained:
    cfg = cfg or TrainConfig()
    n = len(history)
    y_all = np.asarray(history.labels, dtype=np.int64)
    if n < 50 or y_all.sum() < 10 or (n - y_all.sum()) < 10:
        raise TrainingError(f"need at least 50 leads with 10 of each outcome, got {n} ({int(y_all.sum())} converted)")
    split = split_history(history, cfg)
    train_h, hold_h = history.subset(split.train), history.subset(split.holdout)
    y_tr = np.asarray(train_h.labels)
    y_ho = np.asarray(hold_h.labels)
    if y_ho.sum() == 0 or y_ho.sum() == len(y_ho):
        raise TrainingError("the holdout has only one outcome; use --holdout stratified or more history")
    spec = fit_spec(train_h.records, mapping.field_types(), min_count=cfg.min_category_count)
    x_tr, x_ho = encode(spec, train_h.records), encode(spec, hold_h.records)

    folds = StratifiedKFold(cfg.cv_folds, shuffle=True, random_state=cfg.seed)
    cv_results = []
    for params in cfg.param_grid if len(cfg.param_grid) > 1 else ():
        t0 = time.perf_counter()
        p = cross_val_predict(_hgb(spec, params, cfg.seed), x_tr, y_tr, cv=folds, method="predict_proba")[:, 1]
        cv_results.append(
            {
                "params": params,
                "cv_roc_auc": float(roc_auc_score(y_tr, p)),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    best = max(cv_results, key=lambda r: r["cv_roc_auc"]) if cv_results else {"params": cfg.param_grid[0]}
    model = calibrated(spec, best["params"], cfg, len(y_tr)).fit(x_tr, y_tr)
    p_ho = model.predict_proba(x_ho)[:, 1]
    p_base = _hgb(spec, {}, cfg.seed).fit(x_tr, y_tr).predict_proba(x_ho)[:, 1] if cfg.baseline else None
    metrics = {
        "holdout": metrics_for(y_ho, p_ho),
        "train": {"n": len(y_tr), "positives": int(y_tr.sum()), "base_rate": float(y_tr.mean())},
        "baseline_untuned_hgb_holdout_roc_auc": float(roc_auc_score(y_ho, p_base)) if p_base is not None else None,
        "holdout_kind": cfg.holdout,
        "holdout_fraction": cfg.holdout_fraction,
        "cv": cv_results,
        "chosen_params": best["params"],
        "calibration_method": model.method,
    }
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    lo, hi = train_h.window()
    hlo, hhi = hold_h.window()
    window = {
        "train_from": lo.strftime(fmt) if lo else None,
        "train_to": hi.strftime(fmt) if hi else None,
        "holdout_from": hlo.strftime(fmt) if hlo else None,
        "holdout_to": hhi.strftime(fmt) if hhi else None,
    }
    explainer = fit_explainer(lambda x: model.predict_proba(x)[:, 1], spec, train_h.records, seed=cfg.seed)
    return Trained(model, spec, best["params"], cv_results, metrics, p_ho, y_ho, p_base, window, explainer)


def refit_on_all(trained: Trained, history: History, mapping: Mapping, cfg: TrainConfig | None = None) -> Any:
    """Not used by default: the published model is the one evaluated on the holdout (what you see is what runs)."""
    cfg = cfg or TrainConfig()
    x = encode(trained.spec, history.records)
    return calibrated(trained.spec, trained.params, cfg, len(history)).fit(x, np.asarray(history.labels))
