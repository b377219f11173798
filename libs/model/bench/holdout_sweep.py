"""The product beside the untuned baselines on several holdouts a stranger might pick.

    .venv/bin/python libs/model/bench/holdout_sweep.py [--fraction 0.3] [--seeds 1 2 3 4 5]

Newest ``fraction`` by time, then stratified random ``fraction`` holdouts with each seed; no refit, no
bootstrap (one line per split: ROC AUC / PR AUC of the product and each baseline, and whether the product
beats all of them on both).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leadflow_model.history import read_csv_history
from leadflow_model.mapping import load_mapping
from leadflow_model.threads import limit_threads
from leadflow_model.train import TrainConfig, evaluate

REPO = Path(__file__).resolve().parents[3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", type=Path, default=REPO.parent / "shared" / "data" / "x-education-leads.csv")
    ap.add_argument("--mapping", type=Path, default=REPO / "deploy" / "model" / "x-education-mapping.yaml")
    ap.add_argument("--fraction", type=float, default=0.3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = ap.parse_args()
    limit_threads(1)
    mapping = load_mapping(args.mapping)
    history = read_csv_history(args.csv, mapping)
    splits = [("time", 7), *(("stratified", s) for s in args.seeds)]
    for kind, seed in splits:
        m = evaluate(
            history, mapping, TrainConfig(holdout=kind, holdout_fraction=args.fraction, seed=seed, bootstrap=0)
        )
        h = m["holdout"]
        base = m["baselines"]
        wins = all(h["roc_auc"] > b["roc_auc"] and h["pr_auc"] > b["pr_auc"] for b in base.values())
        cells = " | ".join(f"{name} {b['roc_auc']:.4f}/{b['pr_auc']:.4f}" for name, b in base.items())
        print(f"{kind:<10} seed {seed}: product {h['roc_auc']:.4f}/{h['pr_auc']:.4f} | {cells} | beats all: {wins}")


if __name__ == "__main__":
    main()
