"""The console says so when it runs on the demo clock (off in production settings)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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


class WallClock:
    """The wall clock a test moves by hand (the source of the demo clock)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def test_one_time_base_under_the_demo_clock(tmp_path: Path) -> None:
    """Wall-clock stamps (submission, crm-sync) and demo-clock stamps (route, sla-monitor) on one time base:
    no clock skew in a consistent demo run, delays in demo time; a producer whose clock is really off still
    gets its badge."""
    from leadflow_contracts import topics as T

    wall0 = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    wall = WallClock(wall0)
    demo = ScaledClock(60, wall0, start=datetime(2026, 12, 1, 8, 0, tzinfo=UTC), source=wall)
    ops = settings(tmp_path)
    broker = make_broker(ops)
    app = create_app(ops, clock=demo, broker=broker, lag_monitor=False, create_topics=False)

    def at(seconds: float) -> datetime:
        """A wall-clock instant ``seconds`` after the test's start."""
        return wall0 + timedelta(seconds=seconds)

    async with (
        TestKafkaBroker(broker) as br,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops.test") as client,
    ):

        async def send(topic: str, event: object) -> None:
            await br.publish(event.to_json_bytes(), ops.topic(topic), key=event.kafka_key())  # type: ignore[attr-defined]

        # the source stamps the wall clock; route stamps demo time 0.5 s (real) later
        submitted = at(10)
        routed_at = demo.from_wall(at(10.5))
        lead = F.routed("D1", routed_at, due_in=4 * 3600, submitted_delay=0)
        lead = lead.model_copy(update={"lead": lead.lead.model_copy(update={"submitted_at": submitted})})
        await send(T.LEADS_ROUTED, lead)
        # crm-sync (wall clock) writes it 1 s after the submission; a rep calls a real minute later
        await send(T.CRM_SYNCED, F.synced("D1", at(11), submitted_at=submitted))
        touch = demo.from_wall(at(70))
        await send(T.SLA_EVENTS, F.sla("D1", "met", touch, due_at=routed_at + timedelta(hours=4)))
        # a source whose clock runs 10 minutes fast: its submission looks later than its routing
        skewed = F.routed("D2", demo.from_wall(at(12)), due_in=4 * 3600, submitted_delay=0)
        skewed = skewed.model_copy(update={"lead": skewed.lead.model_copy(update={"submitted_at": at(12 + 600)})})
        await send(T.LEADS_ROUTED, skewed)
        wall.at = at(120)

        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        form = {"username": "victor", "password": F.TEST_PASSWORDS["victor"], "csrf_token": token[1]}
        assert (await client.post("/login", data=form)).status_code == 303
        consistent = (await client.get("/leads/D1")).text
        really_skewed = (await client.get("/leads/D2")).text
        [row] = (await client.get("/api/speed", params={"window": "24h", "by": "all"})).json()["rows"]

    skew_badge = ">clock skew</span>"
    assert skew_badge not in consistent
    steps = re.findall(r'<span class="pill[^"]*">([^<]+)</span></td><td class="actor">', consistent)
    assert steps[:3] == ["submitted", "routed", "in Salesforce"] and "first touch met" in steps
    assert really_skewed.count(skew_badge) == 1  # the routing, stamped before the (fast) submission
    # delays in demo time: 1 real second to Salesforce = 60 s; the rep's real minute = an hour
    assert row["system_p50"] == pytest.approx(60, rel=0.1)
    assert row["total_p50"] == pytest.approx(60 * 60, rel=0.1)
    assert row["human_p50"] == pytest.approx(59 * 60, rel=0.1)
