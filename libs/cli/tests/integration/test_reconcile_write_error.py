"""``leadflow reconcile --write`` when a side cannot be read: the console's file says so instead of going stale."""

from __future__ import annotations

import json
import socket
from datetime import datetime
from pathlib import Path

import pytest
from leadflow_cli.main import main

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_pass_that_cannot_read_a_side_writes_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    monkeypatch.setenv("RECONCILE_SALESFORCE__LOGIN_URL", f"https://127.0.0.1:{port}")
    monkeypatch.setenv("RECONCILE_SALESFORCE__USERNAME", "nobody@example.com")
    monkeypatch.setenv("RECONCILE_SALESFORCE__PASSWORD", "x")
    monkeypatch.setenv("RECONCILE_SALESFORCE__SECURITY_TOKEN", "x")
    path = tmp_path / "last.json"
    code = main(["reconcile", "--bootstrap", f"127.0.0.1:{port}", "--write", str(path)])
    assert code == 2
    doc = json.loads(path.read_text())
    assert doc["error"].startswith("cannot reconcile:")
    assert datetime.fromisoformat(doc["finished_at"]).tzinfo is not None
    assert "cannot reconcile" in capsys.readouterr().err
