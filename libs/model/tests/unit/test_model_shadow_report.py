"""Shadow report: active vs candidate on leads whose outcome became known later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from leadflow_contracts import LeadScored, Score
from leadflow_model.artifacts import ActivePointer, write_active
from leadflow_model.registry import ModelRegistry
from leadflow_model.workflow import shadow_report

pytestmark = pytest.mark.unit


def test_report_ranks_the_better_model_higher() -> None:
    outcomes = {f"l{i}": int(i % 2 == 0) for i in range(40)}
    scored = []
    for i in range(40):
        good = 0.8 if i % 2 == 0 else 0.2  # separates perfectly
        bad = 0.5 + (0.1 if i % 4 == 0 else -0.1) * (1 if i % 3 else -1)  # noise
        scored.append(
            {"lead_id": f"l{i}", "model": {"model_version": "cand", "probability": bad, "shadow": [["good", good]]}}
        )
    scored.append({"lead_id": "unknown-outcome", "model": {"model_version": "cand", "probability": 0.9, "shadow": []}})
    scored.append({"lead_id": "l0", "model": None})  # scored by rules only
    r = shadow_report(scored, outcomes)
    assert r["leads_with_outcome"] == 40
    assert r["models"]["shadow:good"]["roc_auc"] == 1.0
    assert r["models"]["active:cand"]["roc_auc"] < 0.8
    assert r["models"]["shadow:good"]["top_decile_conversion"] == 1.0


def test_cli_reads_recorded_lead_scored_events(
    trained_versions, models_dir: Path, make_lead, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The score service records shadow probabilities in LeadScored.score.model; the report reads them back."""
    from leadflow_cli.main import main

    write_active(models_dir, ActivePointer(active=trained_versions.v1, shadow=(trained_versions.v2,)))
    reg = ModelRegistry(models_dir)
    leads = [make_lead(lead_id=f"x{i}", seconds=120 * i, visits=i % 6, page_views=2 * (i % 6)) for i in range(30)]
    lines = []
    for ev, ms in zip(leads, reg.score_batch(leads), strict=True):
        score = Score(score=50, fit=20, engagement=30, grade="B", rating="Warm", ruleset_version="r1", model=ms)
        lines.append(
            LeadScored(
                event_id=f"scored-{ev.lead_id}",
                lead_id=ev.lead_id,
                occurred_at=ev.occurred_at,
                lead=ev.lead,
                enrichment=ev.enrichment,
                score=score,
            ).model_dump_json()
        )
    scored = tmp_path / "scored.jsonl"
    scored.write_text("\n".join(lines) + "\n")
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("lead_id,converted\n" + "".join(f"x{i},{int(i >= 15)}\n" for i in range(30)))
    out_md = tmp_path / "shadow.md"
    assert (
        main(
            ["scoring", "shadow-report", "--scored", str(scored), "--outcomes-csv", str(outcomes), "--out", str(out_md)]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "30 scored leads with a known outcome" in text
    assert f"active:{trained_versions.v1}" in text and f"shadow:{trained_versions.v2}" in text
    assert out_md.read_text().strip() in text
    rows = [json.loads(x) for x in lines]
    assert all(r["score"]["model"]["shadow"][0][0] == trained_versions.v2 for r in rows)
