"""Pipeline health's "last reconcile" from the file ``leadflow reconcile --write`` leaves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from leadflow_ops.views import read_reconcile


def test_a_written_result_shows_its_count_kinds_and_time(tmp_path: Path) -> None:
    path = tmp_path / "last.json"
    doc = {
        "summary": {"differences": 2, "by_kind": {"owner_differs": 2}, "finished_at": "2026-12-05T08:00:00+00:00"},
        "differences": [{"lead_id": "a"}, {"lead_id": "b"}],
    }
    path.write_text(json.dumps(doc))
    shown = read_reconcile(path)
    assert shown is not None
    assert shown["differences"] == 2 and shown["ok"] is False and shown["by_kind"] == {"owner_differs": 2}
    assert shown["at"] == datetime(2026, 12, 5, 8, tzinfo=UTC)
    assert "error" not in shown


def test_a_clean_result_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "last.json"
    path.write_text(json.dumps({"summary": {"differences": 0, "by_kind": {}, "finished_at": "2026-12-05T08:00:00Z"}}))
    shown = read_reconcile(path)
    assert shown is not None and shown["ok"] is True and shown["differences"] == 0


def test_a_failed_pass_shows_its_error_not_a_stale_success(tmp_path: Path) -> None:
    path = tmp_path / "last.json"
    path.write_text(
        json.dumps(
            {"error": "cannot reconcile: TimeoutError: topics not read", "finished_at": "2026-12-05T08:05:00+00:00"}
        )
    )
    shown = read_reconcile(path)
    assert shown is not None
    assert shown["ok"] is False and shown["differences"] is None
    assert shown["error"].startswith("cannot reconcile: TimeoutError")
    assert shown["at"] == datetime(2026, 12, 5, 8, 5, tzinfo=UTC)


def test_no_file_is_no_run_yet(tmp_path: Path) -> None:
    assert read_reconcile(tmp_path / "missing.json") is None
