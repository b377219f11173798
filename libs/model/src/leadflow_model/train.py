"""Training: honest holdout, tuning by cross-validation on the training split only, calibration chosen by
cross-validated Brier and PR AUC, same-split baselines with bootstrap intervals, then a final refit on all
history.

The product is a soft-voting ensemble of a tuned HistGradientBoosting model, an untuned GradientBoosting
model and a spline + one-hot logistic regression, calibrated (Platt or isotonic, whichever the training
split's cross-validation prefers). The holdout is the newest ``holdout_fraction`` of leads by CreatedDate
(time-ordered) or a stratified random split; it is used once, for the figures, never to choose anything.
After validation the same recipe is refitted on all history (the published model); the validation figures
go into the model card.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, SplineTransformer, StandardScaler

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
    baseline: bool = True  # fit the untuned baselines on the same split, for the report
    ensemble: bool = True  # product = tuned HGB + GBM + spline LR (False: the tuned HGB alone)
    refit_on_all: bool = True  # publish the recipe refitted on all history after validation
    bootstrap: int = 1000  # resamples for the confidence intervals (0 = none)


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
    validated_model: Any = None  # the model the holdout figures belong to (before the refit on all history)
    validated_spec: FeatureSpec | None = None
    baselines: dict[str, np.ndarray] = field(default_factory=dict)


def split_history(history: History, cfg: TrainConfig) -> Split:
    n = len(history)
    idx = list(range(n))
    if cfg.holdout == "time":
        order = sorted(idx, key=lambda i: history.created[i])
        k = round(n * (1 - cfg.holdout_fraction))
        return Split(order[:k], order[k:])
    tr, ho = train_test_split(idx, test_size=cfg.holdout_fraction, stratify=history.labels, random_state=cfg.seed)
    return Split(sorted(tr), sorted(ho))


# ---- estimators (all read the encoded matrix of features.encode) -----------------------------------------
def signed_log1p(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.sign(x) * np.log1p(np.abs(x))
    return out


def _hgb(spec: FeatureSpec, params: dict[str, Any], seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(categorical_features=spec.categorical_mask, random_state=seed, **params)


def _gbm(seed: int) -> Any:
    """Untuned scikit-learn GradientBoosting (no NaN support: missing → -1, a value of its own)."""
    return make_pipeline(
        SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
        GradientBoostingClassifier(random_state=seed),
    )


def _linear(spec: FeatureSpec, *, splines: bool) -> Any:
    """Logistic regression: categories one-hot (missing is a category), numbers standardised with a
    missing indicator; ``splines`` adds a spline basis of log-scaled numbers (time on site is not linear)."""
    mask = spec.categorical_mask
    cat = [i for i, m in enumerate(mask) if m]
    num = [i for i, m in enumerate(mask) if not m]
    steps: list[Any] = [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
    if splines:
        steps += [FunctionTransformer(signed_log1p), SplineTransformer(n_knots=5, degree=3)]
    steps.append(StandardScaler())
    pre = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0, keep_empty_features=True),
                    OneHotEncoder(handle_unknown="ignore", min_frequency=5),
                ),
                cat,
            ),
            ("num", make_pipeline(*steps), num),
        ]
    )
    return make_pipeline(pre, LogisticRegression(max_iter=3000, C=0.5 if splines else 1.0))


def product_estimator(spec: FeatureSpec, params: dict[str, Any], cfg: TrainConfig) -> Any:
    if not cfg.ensemble:
        return _hgb(spec, params, cfg.seed)
    return VotingClassifier(
        [("hgb", _hgb(spec, params, cfg.seed)), ("gbm", _gbm(cfg.seed)), ("lr", _linear(spec, splines=True))],
        voting="soft",
    )


BASELINES: dict[str, str] = {
    "untuned HistGradientBoosting": "hgb",
    "untuned GradientBoosting": "gbm",
    "one-hot logistic regression": "lr",
}


def baseline_estimator(kind: str, spec: FeatureSpec, seed: int) -> Any:
    if kind == "hgb":
        return _hgb(spec, {}, seed)
    if kind == "gbm":
        return _gbm(seed)
    return _linear(spec, splines=False)


# ---- calibration ----------------------------------------------------------------------------------------
def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    out: np.ndarray = np.log(q / (1 - q)).reshape(-1, 1)
    return out


class Calibrator:
    """Platt (sigmoid on the log-odds) or isotonic, fitted on out-of-fold scores."""

    def __init__(self, method: str) -> None:
        self.method = method
        self._m: Any = None

    def fit(self, s: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method == "isotonic":
            self._m = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(s, y)
        else:
            self._m = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(s), y)
        return self

    def __call__(self, s: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.asarray(self._m.predict(s), dtype=np.float64)
        return np.asarray(self._m.predict_proba(_logit(s))[:, 1], dtype=np.float64)


class CalibratedModel:
    """A fitted base model + a calibrator fitted on its out-of-fold scores (what the registry loads)."""

    def __init__(self, base: Any, calibrator: Calibrator) -> None:
        self.base = base
        self.calibrator = calibrator
        self.method = calibrator.method

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self.calibrator(np.asarray(self.base.predict_proba(x)[:, 1], dtype=np.float64))
        return np.column_stack([1.0 - p, p])


def choose_calibration(oof: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> tuple[str, list[dict[str, Any]]]:
    """Cross-validate both calibrators on the out-of-fold scores: isotonic only when it lowers Brier by
    more than 0.001 without costing PR AUC (> 0.002) — it tends to flatten the ranking into a few steps."""
    folds = StratifiedKFold(cfg.cv_folds, shuffle=True, random_state=cfg.seed + 1)
    rows: list[dict[str, Any]] = []
    for method in ("sigmoid", "isotonic"):
        p = np.zeros_like(oof)
        for tr, te in folds.split(oof.reshape(-1, 1), y):
            p[te] = Calibrator(method).fit(oof[tr], y[tr])(oof[te])
        rows.append(
            {
                "method": method,
                "cv_brier": float(brier_score_loss(y, p)),
                "cv_pr_auc": float(average_precision_score(y, p)),
                "cv_roc_auc": float(roc_auc_score(y, p)),
                "distinct_scores": len(np.unique(np.round(p, 6))),
            }
        )
    if cfg.calibration != "auto":
        return cfg.calibration, rows
    sig, iso = rows
    better = iso["cv_brier"] < sig["cv_brier"] - 0.001 and iso["cv_pr_auc"] >= sig["cv_pr_auc"] - 0.002
    return ("isotonic" if better else "sigmoid"), rows


def fit_calibrated(
    spec: FeatureSpec, params: dict[str, Any], x: np.ndarray, y: np.ndarray, cfg: TrainConfig, method: str | None
) -> tuple[CalibratedModel, list[dict[str, Any]]]:
    """Out-of-fold scores → calibration method (unless given) → base refitted on all of ``x``."""
    folds = StratifiedKFold(cfg.cv_folds, shuffle=True, random_state=cfg.seed)
    oof = cross_val_predict(product_estimator(spec, params, cfg), x, y, cv=folds, method="predict_proba")[:, 1]
    chosen, table = choose_calibration(oof, y, cfg)
    method = method or chosen
    base = product_estimator(spec, params, cfg).fit(x, y)
    return CalibratedModel(base, Calibrator(method).fit(oof, y)), table


# ---- metrics --------------------------------------------------------------------------------------------
def metrics_for(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """ROC AUC, PR AUC, Brier, log loss, calibration bins and the decile table (decile 1 = highest scores)."""
    out: dict[str, Any] = {"n": len(y), "positives": int(y.sum()), "base_rate": float(y.mean())}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
        out["log_loss"] = float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))
    out["brier"] = float(brier_score_loss(y, p))
    out["distinct_scores"] = len(np.unique(np.round(p, 6)))
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


def bootstrap(
    y: np.ndarray, scores: dict[str, np.ndarray], *, n: int, seed: int, reference: str | None = None
) -> dict[str, Any]:
    """Percentile 95 % intervals of ROC AUC, PR AUC and Brier per model over ``n`` resamples of the holdout
    (the same resamples for every model), and paired differences ``reference − model``."""
    rng = np.random.default_rng(seed)
    m = len(y)
    draws: dict[str, dict[str, list[float]]] = {k: {"roc_auc": [], "pr_auc": [], "brier": []} for k in scores}
    done = 0
    while done < n:
        idx = rng.integers(0, m, m)
        yb = y[idx]
        if yb.min() == yb.max():
            continue
        for k, p in scores.items():
            pb = p[idx]
            draws[k]["roc_auc"].append(roc_auc_score(yb, pb))
            draws[k]["pr_auc"].append(average_precision_score(yb, pb))
            draws[k]["brier"].append(float(np.mean((pb - yb) ** 2)))
        done += 1

    def ci(v: list[float]) -> list[float]:
        return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]

    out: dict[str, Any] = {"resamples": n, "models": {k: {mt: ci(v) for mt, v in d.items()} for k, d in draws.items()}}
    if reference is not None:
        diffs = {}
        for k in scores:
            if k == reference:
                continue
            entry = {}
            for mt in ("roc_auc", "pr_auc"):
                dv = np.asarray(draws[reference][mt]) - np.asarray(draws[k][mt])
                entry[mt] = {"ci": ci(list(dv)), "share_better": float((dv > 0).mean())}
            diffs[k] = entry
        out["paired_difference"] = diffs
    return out


def _summary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
    }


def _window(train_h: History, hold_h: History) -> dict[str, str | None]:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    lo, hi = train_h.window()
    hlo, hhi = hold_h.window()
    return {
        "train_from": lo.strftime(fmt) if lo else None,
        "train_to": hi.strftime(fmt) if hi else None,
        "holdout_from": hlo.strftime(fmt) if hlo else None,
        "holdout_to": hhi.strftime(fmt) if hhi else None,
    }


def profile_fields(mapping: Mapping) -> list[str]:
    """The form's profile questions: categorical columns read from custom answers, occupation, industry, country."""
    out = []
    for c in mapping.columns.values():
        if c.type not in ("string", "country"):
            continue
        if any(s.startswith("answer:") or s in ("occupation", "industry", "country") for s in c.live_sources()):
            out.append(c.field)
    return out


def _tune(spec: FeatureSpec, x: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> tuple[dict[str, Any], list[Any]]:
    folds = StratifiedKFold(cfg.cv_folds, shuffle=True, random_state=cfg.seed)
    cv_results: list[dict[str, Any]] = []
    for params in cfg.param_grid if len(cfg.param_grid) > 1 else ():
        t0 = time.perf_counter()
        p = cross_val_predict(_hgb(spec, params, cfg.seed), x, y, cv=folds, method="predict_proba")[:, 1]
        cv_results.append(
            {
                "params": params,
                "cv_roc_auc": float(roc_auc_score(y, p)),
                "cv_pr_auc": float(average_precision_score(y, p)),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
    best = max(cv_results, key=lambda r: r["cv_roc_auc"]) if cv_results else {"params": cfg.param_grid[0]}
    return best["params"], cv_results


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
    profile = profile_fields(mapping)
    kinds = mapping.field_types()
    spec = fit_spec(train_h.records, kinds, min_count=cfg.min_category_count, profile_fields=profile)
    x_tr, x_ho = encode(spec, train_h.records), encode(spec, hold_h.records)

    params, cv_results = _tune(spec, x_tr, y_tr, cfg)
    validated, calib_table = fit_calibrated(spec, params, x_tr, y_tr, cfg, None)
    p_ho = validated.predict_proba(x_ho)[:, 1]
    baselines: dict[str, np.ndarray] = {}
    if cfg.baseline:
        for name, kind in BASELINES.items():
            est = baseline_estimator(kind, spec, cfg.seed).fit(x_tr, y_tr)
            baselines[name] = np.asarray(est.predict_proba(x_ho)[:, 1])
    product = "leadflow model"
    metrics: dict[str, Any] = {
        "holdout": metrics_for(y_ho, p_ho),
        "train": {"n": len(y_tr), "positives": int(y_tr.sum()), "base_rate": float(y_tr.mean())},
        "baselines": {name: _summary(y_ho, p) for name, p in baselines.items()},
        "baseline_untuned_hgb_holdout_roc_auc": (
            float(roc_auc_score(y_ho, baselines["untuned HistGradientBoosting"])) if baselines else None
        ),
        "holdout_kind": cfg.holdout,
        "holdout_fraction": cfg.holdout_fraction,
        "cv": cv_results,
        "chosen_params": params,
        "ensemble": ["tuned HistGradientBoosting", "GradientBoosting", "spline + one-hot logistic regression"]
        if cfg.ensemble
        else ["tuned HistGradientBoosting"],
        "calibration_method": validated.method,
        "calibration_cv": calib_table,
        "refit_on_all": cfg.refit_on_all,
    }
    if cfg.bootstrap:
        metrics["bootstrap"] = bootstrap(
            y_ho, {product: p_ho, **baselines}, n=cfg.bootstrap, seed=cfg.seed, reference=product
        )
    window = _window(train_h, hold_h)
    model, final_spec, final_records = validated, spec, train_h.records
    if cfg.refit_on_all:
        final_spec = fit_spec(history.records, kinds, min_count=cfg.min_category_count, profile_fields=profile)
        x_all = encode(final_spec, history.records)
        model, _ = fit_calibrated(final_spec, params, x_all, y_all, cfg, validated.method)
        final_records = history.records
        metrics["final"] = {"n": n, "positives": int(y_all.sum()), "base_rate": float(y_all.mean())}
    explainer = fit_explainer(lambda x: model.predict_proba(x)[:, 1], final_spec, final_records, seed=cfg.seed)
    return Trained(
        model,
        final_spec,
        params,
        cv_results,
        metrics,
        p_ho,
        y_ho,
        baselines.get("untuned HistGradientBoosting"),
        window,
        explainer,
        validated_model=validated,
        validated_spec=spec,
        baselines=baselines,
    )


def evaluate(history: History, mapping: Mapping, cfg: TrainConfig) -> dict[str, Any]:
    """The same recipe and baselines on one split, without refit or artifact (the report's second split)."""
    t = train(history, mapping, TrainConfig(**{**cfg.__dict__, "refit_on_all": False}))
    return t.metrics
