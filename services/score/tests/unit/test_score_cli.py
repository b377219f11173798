import argparse

import pytest
import yaml
from leadflow_contracts import LeadSourceKind
from leadflow_score.adapters.ruleset_file import default_ruleset_file
from leadflow_score.cli import register
from leadflow_score.testing import enriched

pytestmark = pytest.mark.unit


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_check_accepts_the_bundled_rules_and_names_a_bad_rule(tmp_path, capsys) -> None:
    assert run(["score", "check"]) == 0
    assert "ok: ruleset-v1" in capsys.readouterr().out
    raw = yaml.safe_load(default_ruleset_file().read_text())
    raw["fit"]["rules"][0]["points"] = 500
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    assert run(["score", "check", "--ruleset", str(bad)]) == 1
    assert "fit.rules[0] 'title_c_level'.points" in capsys.readouterr().err


def test_explain_prints_every_reason(tmp_path, capsys) -> None:
    f = tmp_path / "lead.json"
    f.write_bytes(
        enriched(
            "L1", job_title="CEO", country="NO", lead_source=LeadSourceKind.CALLBACK_REQUEST, engagement={"visits": 6}
        ).to_json_bytes()
    )
    assert run(["score", "explain", str(f)]) == 0
    out = capsys.readouterr().out
    assert "L1: score 40.8, fit 40, engagement 42 (high), grade B, rating Hot [ruleset-v1]" in out
    assert "+30.00  fit         C-level or owner (CEO)" in out
    f.write_text("{}")
    assert run(["score", "explain", str(f)]) == 1
