"""The console says so when it runs on the demo clock (off in production settings)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_ops import testing as F
from leadflow_ops.app import create_app
from leadflow_ops.settings import OpsSettings
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import ScaledClock, SystemClock
from leadflow_platform.settings import DemoClockSettings

pytestmark = pytest.mark.component

BANNER = "Demo clock on"


def settings(tmp_path: Path, **extra: object) -> OpsSettings:
    return OpsSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}",
        users_file=F.write_users(tmp_path / "users.yaml"),
        kafka_bootstrap="127.0.0.1:1",
        **extra,
    )


async def now_page(ops: OpsSettings) -> tuple[object, str]:
    broker = make_broker(ops)
    app = create_app(ops, broker=broker, lag_monitor=False, create_topics=False)
    async with (
        TestKafkaBroker(broker),
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops.test") as client,
    ):
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        form = {"username": "victor", "password": F.TEST_PASSWORDS["victor"], "csrf_token": token[1]}
        assert (await client.post("/login", data=form)).status_code == 303
        return app.state.clock, (await client.get("/now")).text


async def test_banner_only_on_the_demo_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCALE", "ANCHOR", "START"):
        monkeypatch.delenv(f"LEADFLOW_DEMO_CLOCK_{name}", raising=False)
    clock, page = await now_page(settings(tmp_path))
    assert isinstance(clock, SystemClock)
    assert BANNER not in page

    demo = DemoClockSettings(scale=60, anchor=datetime.now(UTC), start=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    clock, page = await now_page(settings(tmp_path, demo_clock=demo))
    assert isinstance(clock, ScaledClock) and clock.scale == 60
    assert BANNER in page and "60&times; faster" in page and "2026-12-01 08:0" in page
    # the console's CSP is style-src 'self': an inline style is blocked and logged as a console error
    assert not re.search(r"<[^>]+\sstyle=", page), "inline style attribute (blocked by the CSP)"
    assert re.search(r'class="demo-clock"', page)
