"""Evaluation report (markdown + PNG: ROC, PR, calibration, conversion and lift by decile) and model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from leadflow_model.mapping import Mapping


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plots(out: Path, y: np.ndarray, p: np.ndarray, metrics: dict[str, Any], baseline: np.ndarray | None) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    names = []
    fig, ax = plt.subplots(figsize=(5, 4.5))
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, label=f"model (AUC {metrics['roc_auc']:.3f})")
    if baseline is not None:
        bf, bt, _ = roc_curve(y, baseline)
        ax.plot(bf, bt, "--", alpha=0.7, label="untuned HGB baseline")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (holdout)")
    ax.legend(loc="lower right")
    names.append(_save(fig, out / "roc.png"))

    fig, ax = plt.subplots(figsize=(5, 4.5))
    prec, rec, _ = precision_recall_curve(y, p)
    ax.plot(rec, prec, label=f"model (AP {metrics['pr_auc']:.3f})")
    ax.axhline(metrics["base_rate"], ls=":", color="grey", label=f"base rate {metrics['base_rate']:.2f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (holdout)", ylim=(0, 1.02))
    ax.legend(loc="lower left")
    names.append(_save(fig, out / "pr.png"))

    fig, ax = plt.subplots(figsize=(5, 4.5))
    cal = [c for c in metrics["calibration"] if c["n"] >= 10]  # a bin of 3 leads says nothing
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
    ax.plot([c["mean_probability"] for c in cal], [c["observed_rate"] for c in cal], "o-", label="model")
    ax.set(
        xlabel="predicted probability",
        ylabel="observed conversion rate",
        title="Calibration (holdout, bins of ≥ 10 leads)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left")
    names.append(_save(fig, out / "calibration.png"))

    fig, ax = plt.subplots(figsize=(6, 4.5))
    dec = metrics["deciles"]
    xs = [d["decile"] for d in dec]
    ax.bar(xs, [d["conversion_rate"] for d in dec], color="tab:blue", label="conversion rate")
    ax.axhline(metrics["base_rate"], ls=":", color="grey", label="overall")
    ax2 = ax.twinx()
    ax2.plot(xs, [d["lift"] for d in dec], "o-", color="tab:orange", label="lift")
    ax.set(
        xlabel="score decile (1 = highest)",
        ylabel="conversion rate",
        title="Conversion and lift by decile",
        xticks=xs,
        ylim=(0, 1),
    )
    ax2.set_ylabel("lift")
    ax.legend(loc="upper right")
    names.append(_save(fig, out / "deciles.png"))
    return names


def _opt(v: float | None) -> str:
    return "not computed" if v is None else f"{v:.4f}"


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


PRODUCT = "leadflow model"


def _split_name(m: dict[str, Any]) -> str:
    h = m["holdout"]
    kind = (
        "newest {:.0%} by time".format(m["holdout_fraction"])
        if m["holdout_kind"] == "time"
        else ("stratified random {:.0%}".format(m["holdout_fraction"]))
    )
    return f"{kind} ({h['n']} leads, {h['positives']} converted)"


def _ci(m: dict[str, Any], model: str, metric: str) -> str:
    b = (m.get("bootstrap") or {}).get("models", {}).get(model, {}).get(metric)
    return f" [{b[0]:.3f}, {b[1]:.3f}]" if b else ""


def comparison_table(m: dict[str, Any]) -> list[str]:
    """Product beside the same-split baselines, with 95 % bootstrap intervals and paired differences."""
    h = m["holdout"]
    rows = [(PRODUCT, {"roc_auc": h["roc_auc"], "pr_auc": h["pr_auc"], "brier": h["brier"]})]
    rows += list(m.get("baselines", {}).items())
    lines = [
        f"Holdout: {_split_name(m)}. 95 % intervals: {m.get('bootstrap', {}).get('resamples', 0)} bootstrap "
        "resamples of the holdout.",
        "",
        "| model | ROC AUC | PR AUC | Brier | product − model, ROC AUC (share of resamples product wins) "
        "| product − model, PR AUC |",
        "|---|---|---|---|---|---|",
    ]
    diffs = (m.get("bootstrap") or {}).get("paired_difference", {})
    for name, v in rows:
        d = diffs.get(name)
        dr = (
            f"[{d['roc_auc']['ci'][0]:+.3f}, {d['roc_auc']['ci'][1]:+.3f}] ({d['roc_auc']['share_better']:.0%})"
            if d
            else "–"
        )
        dp = (
            f"[{d['pr_auc']['ci'][0]:+.3f}, {d['pr_auc']['ci'][1]:+.3f}] ({d['pr_auc']['share_better']:.0%})"
            if d
            else "–"
        )
        bold = "**" if name == PRODUCT else ""
        lines.append(
            f"| {bold}{name}{bold} | {v['roc_auc']:.4f}{_ci(m, name, 'roc_auc')} | "
            f"{v['pr_auc']:.4f}{_ci(m, name, 'pr_auc')} | {v['brier']:.4f}{_ci(m, name, 'brier')} | {dr} | {dp} |"
        )
    verdict = beats_baselines(m)
    if verdict is not None:
        lines += [
            "",
            "Product beats every baseline on ROC AUC and PR AUC on this split: "
            + ("**yes**" if verdict else "**no** (see the rows above)"),
        ]
    return lines


def beats_baselines(m: dict[str, Any]) -> bool | None:
    base = m.get("baselines") or {}
    if not base:
        return None
    h = m["holdout"]
    return all(h["roc_auc"] > b["roc_auc"] and h["pr_auc"] > b["pr_auc"] for b in base.values())


def comparison_lines(m: dict[str, Any]) -> list[str]:
    """Plain-text comparison for the terminal."""
    h = m["holdout"]
    out = [f"  holdout {_split_name(m)}:"]
    rows = [(PRODUCT, {"roc_auc": h["roc_auc"], "pr_auc": h["pr_auc"], "brier": h["brier"]})]
    rows += list(m.get("baselines", {}).items())
    for name, v in rows:
        out.append(
            f"    {name:<30} ROC AUC {v['roc_auc']:.4f}{_ci(m, name, 'roc_auc'):<17} "
            f"PR AUC {v['pr_auc']:.4f}{_ci(m, name, 'pr_auc'):<17} Brier {v['brier']:.4f}"
        )
    verdict = beats_baselines(m)
    if verdict is not None:
        out.append(f"    product beats every baseline on ROC AUC and PR AUC: {'yes' if verdict else 'NO'}")
    return out


def calibration_choice(m: dict[str, Any]) -> list[str]:
    rows = m.get("calibration_cv") or []
    if not rows:
        return []
    return [
        "| calibration (5-fold CV on the training split) | Brier | PR AUC | ROC AUC | distinct scores |",
        "|---|---|---|---|---|",
        *[
            f"| {r['method']}{' (chosen)' if r['method'] == m['calibration_method'] else ''} | {r['cv_brier']:.4f} | "
            f"{r['cv_pr_auc']:.4f} | {r['cv_roc_auc']:.4f} | {r['distinct_scores']} |"
            for r in rows
        ],
    ]


def report_markdown(
    version: str,
    mapping: Mapping,
    manifest_window: dict[str, Any],
    metrics: dict[str, Any],
    images: list[str],
    command: str | None = None,
    other: dict[str, Any] | None = None,
) -> str:
    h = metrics["holdout"]
    splits = [metrics, *([other] if other else [])]
    harder = min(splits, key=lambda m: m["holdout"]["roc_auc"])
    lines = [
        f"# Evaluation report: {version}",
        "",
        f"- Data: `{mapping.name}` ({metrics['train']['n'] + h['n']} leads with a known outcome)",
        f"- Holdout: {metrics['holdout_kind']}-ordered, {metrics['holdout_fraction']:.0%} "
        f"({h['n']} leads, {h['positives']} converted, base rate {_pct(h['base_rate'])})"
        if metrics["holdout_kind"] == "time"
        else f"- Holdout: stratified random {metrics['holdout_fraction']:.0%} "
        f"({h['n']} leads, base rate {_pct(h['base_rate'])})",
        f"- Training window: {manifest_window.get('train_from')} → {manifest_window.get('train_to')}; "
        f"holdout {manifest_window.get('holdout_from')} → {manifest_window.get('holdout_to')}",
        "",
        "| metric (holdout) | value |",
        "|---|---|",
        f"| ROC AUC | **{h['roc_auc']:.4f}** |",
        f"| PR AUC (average precision) | {h['pr_auc']:.4f} |",
        f"| Brier score | {h['brier']:.4f} |",
        f"| log loss | {h['log_loss']:.4f} |",
        f"| expected calibration error | {h['expected_calibration_error']:.4f} |",
        f"| lift in top decile | {h['lift_top_decile']:.2f} |",
        "| untuned gradient boosting, same features (ROC AUC) | "
        f"{_opt(metrics['baseline_untuned_hgb_holdout_roc_auc'])} |",
        f"| distinct scores on the holdout | {h.get('distinct_scores', '–')} |",
        "",
        "## Product beside the baselines (same split, same features)",
        "",
        f"Headline (the harder split): ROC AUC **{harder['holdout']['roc_auc']:.4f}**, PR AUC "
        f"**{harder['holdout']['pr_auc']:.4f}** on the {_split_name(harder)} holdout.",
        "",
        f"The product: {' + '.join(metrics.get('ensemble', []))} (soft vote), calibrated. Baselines are untuned, "
        "fitted on the same training split with the same columns.",
        "",
        *[line for m in splits for line in [f"### {_split_name(m)}", "", *comparison_table(m), ""]],
        *calibration_choice(metrics),
        "",
        (
            f"The published model is the same recipe **refitted on all {metrics['final']['n']} leads** after this "
            "validation (the figures above are the validated model's, on leads it never saw)."
            if metrics.get("refit_on_all") and metrics.get("final")
            else "The published model is the validated model (fitted on the training split only)."
        ),
        "",
        "Parameters were chosen by 5-fold cross-validation **on the training split only**; the holdout was used "
        "once, for this report. Calibration: " + metrics["calibration_method"] + " (cross-validated).",
        "",
        "| candidate parameters | CV ROC AUC (train split) |",
        "|---|---|",
        *[f"| `{c['params'] or 'sklearn defaults'}` | {c['cv_roc_auc']:.4f} |" for c in metrics["cv"]],
        *([f"| `{metrics['chosen_params']}` (only candidate) | not run |"] if not metrics["cv"] else []),
        "",
        "## Conversion by decile (holdout)",
        "",
        "| decile | leads | mean probability | conversion rate | lift | cumulative share of conversions |",
        "|---|---|---|---|---|---|",
        *[
            f"| {d['decile']} | {d['n']} | {_pct(d['mean_probability'])} | {_pct(d['conversion_rate'])} | "
            f"{d['lift']:.2f} | {_pct(d['cumulative_capture'])} |"
            for d in h["deciles"]
        ],
        "",
        "## Calibration (holdout)",
        "",
        "| predicted | leads | mean predicted | observed |",
        "|---|---|---|---|",
        *[
            f"| {c['bin']} | {c['n']} | {_pct(c['mean_probability'])} | {_pct(c['observed_rate'])} |"
            for c in h["calibration"]
        ],
        "",
        "## Plots",
        "",
        *[f"![{name}]({name})" for name in images],
        "",
        "## Features (intake-time only)",
        "",
        "| export column | Lead field | from a live lead (LeadEnriched) |",
        "|---|---|---|",
        *[f"| {col} | {c.field} | {c.describe_live()} |" for col, c in mapping.columns.items()],
        "",
        "Not used: " + "; ".join(f"**{k}** ({v})" for k, v in mapping.ignored.items()),
        "",
    ]
    if command:
        lines += ["## Reproduce", "", "```", command, "```", ""]
    return "\n".join(lines)


def model_card(
    version: str,
    mapping: Mapping,
    source: str,
    window: dict[str, Any],
    metrics: dict[str, Any],
    params: dict[str, Any],
    other: dict[str, Any] | None = None,
) -> str:
    template = (Path(__file__).parent / "model_card_template.md").read_text(encoding="utf-8")
    h = metrics["holdout"]
    return template.format(
        version=version,
        mapping=mapping.name,
        source=source,
        train_from=window.get("train_from"),
        train_to=window.get("train_to"),
        holdout_from=window.get("holdout_from"),
        holdout_to=window.get("holdout_to"),
        n_train=metrics["train"]["n"],
        n_holdout=h["n"],
        base_rate=_pct(h["base_rate"]),
        holdout_kind=metrics["holdout_kind"],
        roc_auc=f"{h['roc_auc']:.4f}",
        pr_auc=f"{h['pr_auc']:.4f}",
        brier=f"{h['brier']:.4f}",
        ece=f"{h['expected_calibration_error']:.4f}",
        lift=f"{h['lift_top_decile']:.2f}",
        baseline=_opt(metrics["baseline_untuned_hgb_holdout_roc_auc"]),
        params=params or "scikit-learn defaults",
        calibration=metrics["calibration_method"],
        features="\n".join(f"- {col} → `{c.field}` (live: {c.describe_live()})" for col, c in mapping.columns.items()),
        ignored="\n".join(f"- {k}: {v}" for k, v in mapping.ignored.items()),
        ensemble=" + ".join(metrics.get("ensemble", [])) or "HistGradientBoosting",
        validation="\n".join(
            line for m in [metrics, *([other] if other else [])] for line in [*comparison_table(m), ""]
        ),
        calibration_cv="\n".join(calibration_choice(metrics)),
        refit=(
            f"Refitted on all {metrics['final']['n']} leads after validation (the figures are the validated "
            "model's, on leads it never saw)."
            if metrics.get("refit_on_all") and metrics.get("final")
            else "Not refitted: the published model is the validated one."
        ),
    )
