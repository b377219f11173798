"""Use cases behind the CLI: train → artifact + report, publish (with the no-regression guard), shadow."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from leadflow_model.artifacts import (
    ActivePointer,
    ArtifactError,
    load_artifact,
    new_version,
    read_active,
    read_manifest,
    write_active,
    write_artifact,
)
from leadflow_model.features import encode
from leadflow_model.history import History
from leadflow_model.mapping import Mapping
from leadflow_model.report import model_card, plots, report_markdown
from leadflow_model.train import HoldoutKind, TrainConfig, Trained, evaluate, split_history, train


class PublishRefused(RuntimeError):
    pass


@dataclass
class TrainOutcome:
    version: str
    path: Path
    trained: Trained
    report: Path
    holdout: History
    other: dict[str, Any] | None = None


def train_and_write(
    history: History,
    mapping: Mapping,
    artifacts: Path,
    cfg: TrainConfig | None = None,
    *,
    command: str | None = None,
    report_dir: Path | None = None,
    now: datetime | None = None,
    other_split: bool = False,
) -> TrainOutcome:
    cfg = cfg or TrainConfig()
    trained = train(history, mapping, cfg)
    other = None
    if other_split:
        other_kind: HoldoutKind = "stratified" if cfg.holdout == "time" else "time"
        other = evaluate(history, mapping, replace(cfg, holdout=other_kind))
    version = new_version(mapping.name, now)
    card = model_card(version, mapping, history.source, trained.window, trained.metrics, trained.params, other)
    path = write_artifact(
        artifacts,
        version=version,
        model=trained.model,
        mapping_name=mapping.name,
        source=history.source,
        spec=trained.spec,
        intake=mapping.intake,
        missing_values=mapping.missing_values,
        columns=dict(mapping.columns),
        refit_on_all=bool(trained.metrics.get("refit_on_all")),
        params=trained.params,
        window=trained.window,
        metrics=trained.metrics,
        card=card,
        created_at=now,
        explainer=trained.explainer,
    )
    rdir = path / "report"
    images = plots(
        rdir,
        trained.holdout_labels,
        trained.holdout_scores,
        trained.metrics["holdout"],
        trained.baseline_holdout_scores,
    )
    (rdir / "report.md").write_text(
        report_markdown(version, mapping, trained.window, trained.metrics, images, command, other), encoding="utf-8"
    )
    if other is not None:
        (rdir / "metrics-other-split.json").write_text(dump_json(other), encoding="utf-8")
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        for f in rdir.iterdir():
            shutil.copy2(f, report_dir / f.name)
        shutil.copy2(path / "model_card.md", report_dir / "model_card.md")
        shutil.copy2(path / "metrics.json", report_dir / "metrics.json")
    holdout = history.subset(split_history(history, cfg).holdout)
    return TrainOutcome(version, path, trained, rdir / "report.md", holdout, other)


def score_history(path: Path, history: History) -> np.ndarray:
    loaded = load_artifact(path)
    x = encode(loaded.manifest.spec, history.records)
    return np.asarray(loaded.model.predict_proba(x)[:, 1])


def compare_on(paths: dict[str, Path], history: History) -> dict[str, dict[str, float]]:
    y = np.asarray(history.labels)
    out = {}
    for version, path in paths.items():
        p = score_history(path, history)
        out[version] = {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p))}
    return out


def publish(
    artifacts: Path,
    version: str,
    *,
    force: bool = False,
    evaluation: History | None = None,
    min_gain: float = 0.0,
) -> dict[str, Any]:
    """Make ``version`` active. Refused when it is worse than the active model (ROC AUC on ``evaluation``
    — the new model's holdout — when given, else the AUCs recorded in the manifests) unless ``force``."""
    read_manifest(artifacts / version)
    pointer = read_active(artifacts)
    current = pointer.active
    verdict: dict[str, Any] = {"version": version, "previous": current, "forced": force}
    if current and current != version:
        if evaluation is not None and len(evaluation) and 0 < sum(evaluation.labels) < len(evaluation):
            scores = compare_on({version: artifacts / version, current: artifacts / current}, evaluation)
            new_auc, old_auc = scores[version]["roc_auc"], scores[current]["roc_auc"]
            verdict["compared_on"] = f"{len(evaluation)} holdout leads"
        else:
            new_auc = read_manifest(artifacts / version).holdout_roc_auc or 0.0
            old_auc = read_manifest(artifacts / current).holdout_roc_auc or 0.0
            verdict["compared_on"] = "recorded holdout ROC AUC"
        verdict.update(new_roc_auc=new_auc, active_roc_auc=old_auc)
        if new_auc < old_auc + min_gain and not force:
            raise PublishRefused(
                f"refusing to publish {version}: ROC AUC {new_auc:.4f} is worse than the active {current} "
                f"({old_auc:.4f}) on {verdict['compared_on']}; use --force to publish anyway"
            )
    shadow = tuple(v for v in pointer.shadow if v != version)
    write_active(artifacts, ActivePointer(active=version, shadow=shadow, note="forced" if force else None))
    return verdict


def set_shadow(artifacts: Path, versions: list[str]) -> ActivePointer:
    pointer = read_active(artifacts)
    for v in versions:
        read_manifest(artifacts / v)
        if v == pointer.active:
            raise ArtifactError(f"{v} is the active version; a shadow must be a candidate")
    new = ActivePointer(active=pointer.active, shadow=tuple(versions))
    write_active(artifacts, new)
    return read_active(artifacts)


def shadow_report(scored: list[dict[str, Any]], outcomes: dict[str, int]) -> dict[str, Any]:
    """Compare active vs shadow probabilities recorded on scored leads, on those whose outcome is known.

    ``scored``: items with ``lead_id`` and ``model`` (a ModelScore dict: model_version, probability, shadow).
    ``outcomes``: lead_id → 1 converted / 0 not.
    """
    rows = [s for s in scored if s.get("model") and s["lead_id"] in outcomes]
    by_version: dict[str, tuple[list[float], list[int]]] = {}
    for s in rows:
        outcome = outcomes[s["lead_id"]]
        m = s["model"]
        pairs = [(f"active:{m['model_version']}", m["probability"])] + [
            (f"shadow:{v}", p) for v, p in m.get("shadow", [])
        ]
        for name, p in pairs:
            ps, ys = by_version.setdefault(name, ([], []))
            ps.append(float(p))
            ys.append(int(outcome))
    result: dict[str, Any] = {"leads_with_outcome": len(rows), "models": {}}
    for name, (ps, ys) in by_version.items():
        p, y = np.asarray(ps), np.asarray(ys)
        entry: dict[str, Any] = {
            "n": len(y),
            "converted": int(y.sum()),
            "mean_p_converted": float(p[y == 1].mean()) if y.any() else None,
            "mean_p_not_converted": float(p[y == 0].mean()) if (y == 0).any() else None,
            "brier": float(np.mean((p - y) ** 2)),
        }
        if 0 < y.sum() < len(y):
            entry["roc_auc"] = float(roc_auc_score(y, p))
            entry["pr_auc"] = float(average_precision_score(y, p))
            top = np.argsort(-p)[: max(1, len(p) // 10)]
            entry["top_decile_conversion"] = float(y[top].mean())
        result["models"][name] = entry
    return result


def shadow_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Shadow comparison ({result['leads_with_outcome']} scored leads with a known outcome)",
        "",
        "| model | leads | converted | ROC AUC | PR AUC | Brier | top-decile conversion | mean p (converted) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def f(v: Any) -> str:
        return "–" if v is None else f"{v:.4f}"

    for name, e in result["models"].items():
        lines.append(
            f"| {name} | {e['n']} | {e['converted']} | {f(e.get('roc_auc'))} | {f(e.get('pr_auc'))} | "
            f"{f(e['brier'])} | {f(e.get('top_decile_conversion'))} | {f(e['mean_p_converted'])} |"
        )
    return "\n".join(lines) + "\n"


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
