"""Scoring cost of ModelRegistry.score_batch: leads/s in batches and the latency each batch adds (p50/p99).

    .venv/bin/python libs/model/bench/bench_model.py [--artifacts var/models] [--batch 1000] [--batches 40]
        [--no-shadow] [--search-missing-modules]

Small batches (``--batch 20``) show the fixed cost per call, what a score hop pays at a steady low rate;
``--search-missing-modules`` removes the registry's ``MissingModuleFinder`` (leadflow_model.inference) to
show what scikit-learn's per-call probing for pandas cost before it.

Uses --artifacts' active model (copied; the directory is not changed); a shadow candidate, or both models
when there is no active one, are trained on the shared export with quick settings. Leads are
varied LeadEnriched events built in memory; the figures are for the model call only (what the score service
adds to a batch), with explanations (top-3 contributions) and with a shadow candidate, and without both.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from leadflow_contracts import (
    Engagement,
    Enrichment,
    LeadEnriched,
    LeadSourceKind,
    NormalizedLead,
    SourceInfo,
)
from leadflow_contracts.lead import Campaign
from leadflow_model.artifacts import ActivePointer, read_active, write_active
from leadflow_model.history import read_csv_history
from leadflow_model.inference import MissingModuleFinder
from leadflow_model.mapping import load_mapping
from leadflow_model.registry import ModelRegistry
from leadflow_model.threads import limit_threads
from leadflow_model.train import TrainConfig
from leadflow_model.workflow import train_and_write

REPO = Path(__file__).resolve().parents[3]
CSV = [REPO.parent / "shared" / "data" / "x-education-leads.csv", Path("/work/shared/data/x-education-leads.csv")]


def leads(n: int, seed: int = 1) -> list[LeadEnriched]:
    rnd = random.Random(seed)
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    kinds = list(LeadSourceKind)
    out = []
    for i in range(n):
        visits = rnd.choice([0, 1, 2, 3, 4, 6, 9])
        lead = NormalizedLead(
            source_event_id=f"s{i}",
            submitted_at=now,
            accepted_at=now,
            source=SourceInfo(
                system="web", campaign=Campaign(utm_source=rnd.choice(["google", "olark", "direct", None]))
            ),
            lead_source=rnd.choice(kinds),
            country=rnd.choice(["IN", "US", "AE", None]),
            industry=rnd.choice(["Finance Management", "Marketing Management", None]),
            job_title=rnd.choice(["Student", "Engineer", None, "Unemployed"]),
            do_not_email=rnd.random() < 0.08,
            engagement=Engagement(
                visits=visits,
                time_on_site_seconds=rnd.random() * 2000 if visits else 0,
                page_views=visits * rnd.randint(1, 4),
                content_downloads=rnd.randint(0, 1),
            ),
        )
        out.append(
            LeadEnriched(
                event_id=f"enriched-{i}", lead_id=f"lead-{i}", occurred_at=now, lead=lead, enrichment=Enrichment()
            )
        )
    return out


def ensure_models(root: Path, source: Path | None, want_shadow: bool = True) -> tuple[str, str | None]:
    """Active + shadow versions in ``root`` (a scratch dir): copied from ``source``'s active model when it has
    one (never changing ``source``), the missing ones trained on the shared export with quick settings."""
    active = shadow = None
    if source is not None and read_active(source).active:
        pointer = read_active(source)
        for v in [pointer.active, *pointer.shadow]:
            shutil.copytree(source / v, root / v)
        active, shadow = pointer.active, (pointer.shadow[0] if pointer.shadow else None)
    if active is None or (shadow is None and want_shadow):
        csv = next(p for p in CSV if p.exists())
        mapping = load_mapping(REPO / "deploy" / "model" / "x-education-mapping.yaml")
        history = read_csv_history(csv, mapping)
        print(
            f"training {'a shadow' if active else 'two models'} on {len(history)} leads (quick settings) ...",
            file=sys.stderr,
        )
        cfg = TrainConfig(cv_folds=3, param_grid=({"max_iter": 150, "max_leaf_nodes": 15},), baseline=False)
        if active is None:
            active = train_and_write(history, mapping, root, cfg, now=datetime(2026, 1, 1, tzinfo=UTC)).version
        if not want_shadow:
            return active, None
        cfg2 = TrainConfig(cv_folds=3, param_grid=({"max_iter": 100},), baseline=False)
        shadow = train_and_write(history, mapping, root, cfg2, now=datetime(2026, 1, 2, tzinfo=UTC)).version
    return active, shadow


def run(reg: ModelRegistry, batch: list[LeadEnriched], batches: int) -> tuple[float, float, float, float]:
    """(leads/s wall, leads per CPU-second, p50 and p99 wall seconds per batch)."""
    reg.score_batch(batch)  # warm-up
    times, cpu = [], 0.0
    for _ in range(batches):
        t0, c0 = time.perf_counter(), time.process_time()
        out = reg.score_batch(batch)
        times.append(time.perf_counter() - t0)
        cpu += time.process_time() - c0
        assert len(out) == len(batch) and out[0] is not None
    n = len(batch) * len(times)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return n / sum(times), n / cpu, statistics.median(times), p99


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", type=Path, help="score with this dir's active (and shadow) model; read only")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads for predict (ModelRegistry(threads=…))")
    ap.add_argument("--no-shadow", action="store_true", help="skip the shadow row (no candidate is trained)")
    ap.add_argument(
        "--search-missing-modules", action="store_true", help="without the missing-module finder (the old cost)"
    )
    args = ap.parse_args()
    limit_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        active, shadow = ensure_models(root, args.artifacts, want_shadow=not args.no_shadow)
        batch = leads(args.batch)
        print(
            f"active {active}, shadow {shadow}; batch {args.batch} leads x {args.batches} batches, "
            f"{args.threads} thread(s), missing modules {'searched' if args.search_missing_modules else 'refused'}"
        )
        for label, explain, with_shadow in [
            ("probability only", False, False),
            ("+ top-3 contributions", True, False),
            ("+ contributions + 1 shadow", True, True),
        ]:
            if with_shadow and shadow is None:
                continue
            write_active(root, ActivePointer(active=active, shadow=(shadow,) if with_shadow and shadow else ()))
            reg = ModelRegistry(root, explain=explain, threads=args.threads)
            if args.search_missing_modules:
                sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, MissingModuleFinder)]
            rate, cpu_rate, p50, p99 = run(reg, batch, args.batches)
            print(
                f"{label:<28} {rate:>9,.0f} leads/s wall  {cpu_rate:>9,.0f} leads/CPU-s   "
                f"added latency per batch p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
