"""The console in headless Chromium (Debian's chromium + Playwright), over the real embedded broker.

Logs in, watches the live board change as events flow, opens a breach, replays a dead letter and
checks it was republished; saves a screenshot of every view to ``var/screenshots/ops`` (or
``$OPS_SCREENSHOT_DIR``). Skips only when no Chromium binary is installed (``make browser-deps``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from leadflow_contracts import LeadSubmitted
from leadflow_contracts import topics as T
from leadflow_ops import testing as F
from leadflow_ops.app import create_app
from leadflow_ops.settings import OpsSettings
from leadflow_platform.embedded_kafka import free_port
from leadflow_platform.testing.fixtures import TopicNamespace, consume, wait_for

pytestmark = pytest.mark.integration

CHROMIUM = next(
    (p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()),
    None,
)
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium, or `make browser-deps`)",
        allow_module_level=True,
    )

from playwright.async_api import Browser, Page, async_playwright, expect  # noqa: E402 - only after the skip

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[4]
SHOTS = Path(os.environ.get("OPS_SCREENSHOT_DIR") or ROOT / "var" / "screenshots" / "ops")


@dataclass
class Console:
    url: str
    app: Any
    settings: OpsSettings
    producer: AIOKafkaProducer
    bootstrap: str
    browser: Browser

    async def send(self, topic: str, event: Any) -> None:
        await self.producer.send_and_wait(self.settings.topic(topic), event.to_json_bytes(), key=event.kafka_key())

    async def page(self, user: str) -> Page:
        context = await self.browser.new_context(viewport={"width": 1440, "height": 900}, base_url=self.url)
        page = await context.new_page()
        await page.goto("/login")
        await page.fill("#username", user)
        await page.fill("#password", F.TEST_PASSWORDS[user])
        await page.click("button[type=submit]")
        await page.wait_for_url("**/now")
        return page


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
async def console(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create(partitions=2)
    tmp = tmp_path_factory.mktemp("ops-browser")
    port = free_port()
    settings = OpsSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=ns.prefix,
        database_url=f"sqlite+aiosqlite:///{tmp / 'ops.db'}",
        users_file=F.write_users(tmp / "users.yaml"),
        consumer_group=f"leadflow-ops-{ns.prefix.rstrip('.')}",
        http_port=port,
        lag_interval_seconds=1.0,
        sse_interval_seconds=0.3,
        salesforce_instance_url="https://acme.my.salesforce.com",
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", timeout_graceful_shutdown=2)
    )
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, timeout=60)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield Console(f"http://127.0.0.1:{port}", app, settings, producer, kafka_bootstrap, browser)
        finally:
            await browser.close()
            await producer.stop()
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)


async def seed(console: Console) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    teams = [
        ("Inbound DACH", "005R1", "Greta Lind"),
        ("Inbound DACH", "005R2", "Jonas Weber"),
        ("Nordics", "005R3", "Sofie Berg"),
    ]
    for uid, (team, _, name) in zip(("005R1", "005R2", "005R3"), teams, strict=True):
        await console.send(
            T.CRM_CHANGES, F.user_change(uid, now, name=name, team=team, weight=1.0 if uid != "005R3" else 2.0)
        )
    for i in range(24):
        team, owner, name = teams[i % 3]
        rating = ("Hot", "Warm", "Cold")[i % 3 if i % 4 else 0]
        ev = F.routed(
            f"B{i:03d}",
            now - timedelta(minutes=30),
            team=team,
            owner_id=owner,
            owner_name=name,
            rating=rating,
            due_in=60 * (5 + i * 4),
            submitted_delay=20 + i,
        )
        await console.send(T.LEADS_ROUTED, ev)
        await console.send(
            T.CRM_SYNCED,
            F.synced(
                ev.lead_id,
                ev.occurred_at + timedelta(seconds=4 + i % 5),
                owner_id=owner,
                sf_id=f"00Q5e00000B{i:03d}AAA",
            ),
        )
        if i % 2 == 1:
            touch = ev.occurred_at + timedelta(seconds=60 + i * 25)
            await console.send(
                T.SLA_EVENTS,
                F.sla(
                    ev.lead_id,
                    "met",
                    touch,
                    due_at=ev.sla.first_touch_due,
                    started_at=ev.occurred_at + timedelta(seconds=4 + i % 5),  # the clock starts with the owner
                    owner_id=owner,
                    team=team,
                    rating=rating,
                ),
            )
    await console.send(
        T.LEADS_ROUTED, F.routed("B900", now, owner_id="00GQ1", owner_type="queue", owner_name="DACH queue")
    )
    return now


async def test_login_and_live_board_updates_as_events_flow(console: Console) -> None:
    await seed(console)
    page = await console.page("olivia")
    await expect(page.locator('[data-metric="open"]')).to_have_text("13", timeout=40_000)
    await expect(page.locator("#teams tbody tr")).to_have_count(2)
    before = await page.locator('[data-metric="breached"]').inner_text()
    now = datetime.now(UTC)
    for lead in ("B000", "B006"):
        await console.send(
            T.SLA_EVENTS,
            F.sla(
                lead,
                "breached",
                now,
                due_at=now - timedelta(minutes=1),
                team="Inbound DACH",
                owner_id="005R1",
                step=1,
                action="notify_team_leader",
            ),
        )
    await console.send(T.LEADS_ROUTED, F.routed("B901", now, team="Nordics", owner_id="005R3", owner_name="Sofie Berg"))
    # no reload: the numbers change through server-sent events
    await expect(page.locator('[data-metric="breached"]')).to_have_text(str(int(before) + 2), timeout=30_000)
    await expect(page.locator('[data-metric="open"]')).to_have_text("14", timeout=30_000)
    assert page.url.endswith("/now")
    await page.wait_for_timeout(1300)  # let the highlight fade for the screenshot
    await shot(page, "now")
    await page.context.close()


async def test_open_a_breach_with_its_salesforce_link(console: Console) -> None:
    page = await console.page("victor")
    await page.goto("/breaches")
    await expect(page.locator("#breach-table tbody tr")).to_have_count(2, timeout=20_000)
    await shot(page, "breaches")
    await page.fill("#q", "B006")
    await page.click("form.search button")
    await expect(page.locator("#breach-table tbody tr")).to_have_count(1)
    assert "q=" not in page.url and "B006" not in page.url  # searches are POSTed, not put in the URL
    await page.click("a.lead-link")
    await page.wait_for_url("**/leads/B006")
    link = page.locator("#sf-link")
    assert await link.get_attribute("href") == "https://acme.my.salesforce.com/lightning/r/Lead/00Q5e00000B006AAA/view"
    await expect(page.locator("table.grid")).to_contain_text("breached")
    await shot(page, "breach-lead")
    await page.context.close()


async def test_speed_team_and_staffing_views(console: Console) -> None:
    page = await console.page("victor")
    await page.goto("/speed?window=24h&by=rep")
    await expect(page.locator("#speed-table tbody tr")).to_have_count(3)
    await expect(page.locator("svg.chart").first).to_be_visible()
    await shot(page, "speed")
    await page.select_option("#by", "team")  # auto-submits
    await page.wait_for_url("**by=team**")
    await expect(page.locator("#speed-table")).to_contain_text("Inbound DACH")
    await page.goto("/team")
    await expect(page.locator("section.team")).to_have_count(2)
    await expect(page.locator("main")).to_contain_text("Sofie Berg")
    await shot(page, "team")
    await page.goto("/staffing?arrivals=40&aht=360&target=300&level=80&roster=3")
    needed = int(await page.locator("#needed").inner_text())
    assert needed >= 5  # 4 Erlangs of work need more than 4 reps
    await shot(page, "staffing")
    await page.context.close()


async def test_operator_replays_a_dead_letter(console: Console) -> None:
    rejected = F.rejected("B-replay", datetime.now(UTC))
    await console.send(T.LEADS_REJECTED, rejected)
    page = await console.page("olivia")
    await page.goto("/pipeline")
    await expect(page.locator("#dl-list tbody")).to_contain_text("invalid_email", timeout=20_000)
    await expect(page.locator("#lag-table tbody")).to_contain_text("leads.routed", timeout=20_000)
    await page.reload()
    await shot(page, "pipeline")
    await page.click("#dl-list a.dl-link")
    payload = page.locator("#payload")
    masked = json.loads(await payload.input_value())
    assert "Schmidt" not in json.dumps(masked)
    masked["person"]["email"] = "anna.schmidt@example.com"
    await payload.fill(json.dumps(masked, indent=2, ensure_ascii=False))
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("#replay-btn")
    await expect(page.locator("#replay-done")).to_contain_text("Republished to")
    await expect(page.locator("#dl-replays")).to_contain_text("by olivia")
    await shot(page, "deadletter")
    [record] = await consume(console.bootstrap, console.settings.topic(T.LEADS_INBOUND), 1, timeout=30)
    replayed = LeadSubmitted.model_validate_json(record.value)
    assert replayed.person.email == "anna.schmidt@example.com" and replayed.person.last_name == "Schmidt"
    await page.context.close()


async def test_viewer_sees_no_replay_form(console: Console) -> None:
    page = await console.page("victor")
    await page.goto("/pipeline")
    await page.click("#dl-list a.dl-link")
    await expect(page.locator("#payload-view")).to_be_visible()
    assert await page.locator("#replay-form").count() == 0
    await page.context.close()
