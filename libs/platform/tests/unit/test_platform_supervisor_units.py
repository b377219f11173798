"""`make run`'s choices, pure: which processes run (ONLY/EXCLUDE) and how long a crashed one waits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_platform.supervisor import Process, SupervisorSettings, backoff, load, names, select

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[4]


def procs() -> list[Process]:
    return [
        Process(name="kafka", cmd=["x"], order=0, base=True),
        Process(name="salesforce", cmd=["x"], order=5, base=True),
        Process(name="route", cmd=["x"], order=32),
        Process(name="score", cmd=["x"], order=31),
        Process(name="demo-generator", cmd=["x"], order=90),
    ]


def test_names_accept_commas_spaces_and_repeats() -> None:
    assert names("a, b  c") == ["a", "b", "c"]
    assert names(["route,score", "", "ops"]) == ["route", "score", "ops"]


def test_exclude_leaves_out_and_only_keeps_the_base() -> None:
    every = [p.name for p in select(procs())]
    assert every == ["kafka", "salesforce", "route", "score", "demo-generator"]
    assert "demo-generator" not in [p.name for p in select(procs(), exclude=["demo-generator"])]
    assert [p.name for p in select(procs(), only=["route"])] == ["kafka", "salesforce", "route"]
    assert [p.name for p in select(procs(), only=["route", "score"], exclude=["salesforce"])] == [
        "kafka",
        "route",
        "score",
    ]


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown process demo-genrator \(known: .*demo-generator"):
        select(procs(), exclude=["demo-genrator"])


@given(st.integers(1, 200), st.floats(0.01, 5), st.floats(5, 120))
def test_backoff_doubles_and_is_capped(failures: int, initial: float, maximum: float) -> None:
    delay = backoff(failures, initial, maximum)
    assert 0 < delay <= maximum
    assert delay <= backoff(failures + 1, initial, maximum)
    assert backoff(1, initial, maximum) == min(initial, maximum)
    assert backoff(0, initial, maximum) == 0


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_RUN_READY_TIMEOUT_SECONDS", "7.5")
    monkeypatch.setenv("LEADFLOW_RUN_EXCLUDE", "demo-generator")
    s = SupervisorSettings()
    assert s.ready_timeout_seconds == 7.5 and names(s.exclude) == ["demo-generator"]


def test_the_repository_run_files_load_and_every_service_can_be_left_out() -> None:
    _env, found = load(REPO / "deploy" / "local" / "run.yaml")
    by_name = {p.name: p for p in found}
    assert by_name["kafka"].base and by_name["salesforce"].base and not by_name["sla-monitor"].base
    assert "demo-generator" in by_name
    for name in by_name:
        assert name not in [p.name for p in select(found, exclude=[name])]


def test_make_run_passes_only_and_exclude_to_the_supervisor() -> None:
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make not installed")
    cmd = ["make", "-s", "-n", "-C", str(REPO), "run", "EXCLUDE=demo-generator", "ONLY=route,score"]
    line = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert "leadflow_platform.supervisor deploy/local/run.yaml" in line
    assert '--only "route,score"' in line and '--exclude "demo-generator"' in line
    plain = subprocess.run(cmd[:6], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert "--only" not in plain and "--exclude" not in plain
