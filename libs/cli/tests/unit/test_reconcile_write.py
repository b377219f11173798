"""``leadflow reconcile --write``: the file the console reads is replaced whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from leadflow_cli.reconcile.belief import Belief
from leadflow_cli.reconcile.command import Report, document, write_atomically
from leadflow_cli.reconcile.compare import Difference, SalesforceView


def test_document_has_when_and_every_difference(tmp_path: Path) -> None:
    report = Report(
        [Difference("L1", "owner_differs", "005A", "005B"), Difference("L2", "clock_open_but_touched", "open", "Call")],
        Belief(),
        SalesforceView(),
        queries=3,
        seconds=1.5,
    )
    at = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    path = tmp_path / "deep" / "last.json"
    write_atomically(path, {"old": True})
    write_atomically(path, document(report, at))
    doc = json.loads(path.read_text())
    assert doc["summary"]["finished_at"] == at.isoformat()
    assert doc["summary"]["differences"] == 2
    assert doc["summary"]["by_kind"] == {"clock_open_but_touched": 1, "owner_differs": 1}
    assert [d["lead_id"] for d in doc["differences"]] == ["L1", "L2"]
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
