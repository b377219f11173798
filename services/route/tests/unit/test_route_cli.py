"""``leadflow route check`` and ``leadflow route explain`` (called through their register functions)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml
from leadflow_route.cli import register
from leadflow_route.testing import repo_root, scored_event

pytestmark = pytest.mark.unit

ROOT = repo_root()
CONFIG = ROOT / "services/route/config/routing.yaml"
ROSTER = ROOT / "services/salesforce-emulator/fixtures/demo_org.json"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["route", *argv])
    return int(args.func(args))


def test_check_passes_for_the_shipped_config_and_demo_org(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("check", "--config", str(CONFIG), "--roster", str(ROSTER)) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_check_reports_bad_fields_and_unknown_references(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(CONFIG.read_text())
    data["teams"]["DACH"]["queue"] = "Queue_Nowhere"
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(yaml.safe_dump(data))
    assert run("check", "--config", str(unknown), "--roster", str(ROSTER)) == 1
    assert "teams.DACH.queue: unknown queue 'Queue_Nowhere'" in capsys.readouterr().err
    data["teams"]["DACH"]["caps"]["per_day"] = -1
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(yaml.safe_dump(data))
    assert run("check", "--config", str(invalid), "--roster", str(ROSTER)) == 1
    assert "teams.DACH.caps.per_day" in capsys.readouterr().err


def test_explain_prints_the_decision_and_sla(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "lead.json"
    event.write_bytes(scored_event("explain-1", country="NL", language="nl").to_json_bytes())
    assert (
        run(
            "explain", str(event), "--at", "2025-06-03T10:00:00+00:00", "--config", str(CONFIG), "--roster", str(ROSTER)
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert (out["team"], out["policy"], out["owner_type"]) == ("Benelux", "new_lead", "user")
    assert "speaks nl" in out["reason"] and out["sla"]["calendar"] == "benelux"
