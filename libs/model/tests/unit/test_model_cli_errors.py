"""``leadflow scoring …`` answers a missing file, a leaky or bad mapping with one clear line and exit code 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml
from leadflow_model.cli import register

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[4]
MAPPING = REPO / "deploy" / "model" / "x-education-mapping.yaml"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="leadflow")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def _mapping(tmp_path: Path, change: dict[str, object] | None = None, columns: dict[str, object] | None = None) -> Path:
    data = yaml.safe_load(MAPPING.read_text())
    data["custom_answers"] = str(MAPPING.parent / data["custom_answers"])
    data.update(change or {})
    data["columns"].update(columns or {})
    p = tmp_path / "mapping.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The error: one line (after any progress/info lines), never a traceback."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith(("error:", "leakage:"))]
    assert len(errors) == 1 and err.splitlines()[-1] == errors[0], err
    return errors[0]


def test_missing_csv_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        [
            "scoring",
            "train",
            "--from-csv",
            str(tmp_path / "nope.csv"),
            "--mapping",
            str(MAPPING),
            "--artifacts",
            str(tmp_path / "m"),
        ]
    )
    assert code == 2
    line = _one_line(capsys)
    assert line.startswith("error:") and "nope.csv" in line and "cannot read CSV" in line


def test_missing_mapping_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["scoring", "train", "--from-csv", str(tmp_path / "x.csv"), "--mapping", str(tmp_path / "m.yaml")])
    assert code == 2
    assert "m.yaml: cannot read mapping file" in _one_line(capsys)


def test_leaky_mapping_is_one_line_exit_2_naming_the_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _mapping(tmp_path, columns={"Tags": {"field": "City"}})
    code = run(["scoring", "train", "--from-csv", str(tmp_path / "x.csv"), "--mapping", str(m)])
    assert code == 2
    line = _one_line(capsys)
    assert line.startswith("leakage:") and "'Tags'" in line


@pytest.mark.parametrize(
    ("change", "columns", "needle"),
    [
        (None, {"TotalVisits": {"field": "Web_Visits__c", "type": "integer"}}, "columns.TotalVisits.type"),
        ({"version": 0}, None, "version"),
        ({"custom_answers": "/nonexistent/answers.yaml"}, None, "cannot read custom answers file"),
        (None, {"Budget": {"field": "Budget__c", "live": "answer:budget"}}, "not declared"),
    ],
)
def test_bad_mapping_is_one_line_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, object] | None,
    columns: dict[str, object] | None,
    needle: str,
) -> None:
    m = _mapping(tmp_path, change, columns)
    code = run(["scoring", "train", "--from-csv", str(tmp_path / "x.csv"), "--mapping", str(m)])
    assert code == 2
    assert needle in _one_line(capsys)


def test_csv_without_the_mapped_columns_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "other.csv"
    csv_path.write_text("id,name\n1,a\n", encoding="utf-8")
    code = run(["scoring", "train", "--from-csv", str(csv_path), "--mapping", str(MAPPING)])
    assert code == 2
    assert "not in the CSV header" in _one_line(capsys)


def test_too_little_history_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], xedu_csv: Path
) -> None:
    lines = xedu_csv.read_text(encoding="utf-8").splitlines()[:20]
    csv_path = tmp_path / "tiny.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = run(
        ["scoring", "train", "--from-csv", str(csv_path), "--mapping", str(MAPPING), "--artifacts", str(tmp_path / "m")]
    )
    assert code == 2
    assert "need at least 50 leads" in _one_line(capsys)


def test_unknown_version_to_publish_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["scoring", "publish", "nope", "--artifacts", str(tmp_path)]) == 2
    assert "not a model artifact" in _one_line(capsys)
