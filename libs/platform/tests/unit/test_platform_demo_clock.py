"""The demo clock: accelerated SLA time that every process of ``make run`` agrees on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from leadflow_platform.clock import ScaledClock, SystemClock, clock_for, describe_clock, from_wall
from leadflow_platform.settings import DemoClockSettings, ServiceSettings

pytestmark = pytest.mark.unit

ANCHOR = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)


class Wall:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_demo_time_runs_scale_times_faster_from_the_start_instant() -> None:
    wall = Wall(ANCHOR)
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday morning
    clock = ScaledClock(60, ANCHOR, start=start, source=wall)
    assert clock.now() == start
    wall.at = ANCHOR + timedelta(minutes=2)
    assert clock.now() == start + timedelta(hours=2)
    # A Salesforce timestamp (wall clock) one minute after the anchor is one demo hour after the start.
    assert from_wall(clock, ANCHOR + timedelta(minutes=1)) == start + timedelta(hours=1)
    assert from_wall(SystemClock(), ANCHOR) == ANCHOR


def test_two_processes_with_the_same_settings_agree() -> None:
    wall = Wall(ANCHOR + timedelta(seconds=37))
    a = ScaledClock(30, ANCHOR, source=wall)
    b = ScaledClock(30, ANCHOR, source=wall)
    assert a.now() == b.now() == ANCHOR + timedelta(seconds=37 * 30)


def test_sleep_waits_the_real_time_that_matches() -> None:
    clock = ScaledClock(100)
    began = time.monotonic()
    asyncio.run(clock.sleep(10))  # ten demo seconds
    assert time.monotonic() - began < 1.0


def test_refuses_slower_than_wall_time_and_naive_instants() -> None:
    with pytest.raises(ValueError, match="scale >= 1"):
        ScaledClock(0.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        ScaledClock(2, datetime(2026, 1, 1))


def test_off_by_default_and_on_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCALE", "ANCHOR", "START"):
        monkeypatch.delenv(f"LEADFLOW_DEMO_CLOCK_{name}", raising=False)
    settings = ServiceSettings()
    assert not settings.demo_clock.enabled
    assert isinstance(clock_for(settings.demo_clock), SystemClock)
    assert describe_clock(clock_for(settings.demo_clock)) == {"demo": False}
    monkeypatch.setenv("LEADFLOW_DEMO_CLOCK_SCALE", "60")
    monkeypatch.setenv("LEADFLOW_DEMO_CLOCK_ANCHOR", ANCHOR.isoformat())
    monkeypatch.setenv("LEADFLOW_DEMO_CLOCK_START", "2026-12-01T08:00:00Z")
    demo = ServiceSettings().demo_clock
    assert demo.enabled and demo.scale == 60
    clock = clock_for(demo)
    assert isinstance(clock, ScaledClock) and clock.anchor == ANCHOR
    shown = describe_clock(clock)
    assert shown["demo"] is True and shown["scale"] == 60.0 and shown["start"] == "2026-12-01T08:00:00+00:00"


def test_a_shifted_clock_without_acceleration_is_on() -> None:
    assert DemoClockSettings(scale=1, start=ANCHOR).enabled
    with pytest.raises(ValueError):
        DemoClockSettings(scale=0.5)


def test_on_in_make_run_and_off_in_production_config() -> None:
    import yaml

    root = Path(__file__).resolve().parents[4]
    local = yaml.safe_load((root / "deploy" / "local" / "run.yaml").read_text())["env"]
    assert float(local["LEADFLOW_DEMO_CLOCK_SCALE"]) > 1
    demo = DemoClockSettings(scale=float(local["LEADFLOW_DEMO_CLOCK_SCALE"]), start=local["LEADFLOW_DEMO_CLOCK_START"])
    assert demo.start is not None and demo.start.weekday() < 5  # a working day, so breaches show at any hour
    production = (root / "docker-compose.yml").read_text()
    assert "DEMO_CLOCK" not in production
