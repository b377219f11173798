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

    async def page(self, user: str, timezone: str | None = None) -> Page:
        context = await self.browser.new_context(
            viewport={"width": 1440, "height": 900}, base_url=self.url, timezone_id=timezone
        )
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on(
            "response",
            lambda r: (
                errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 and r.url.startswith(self.url) else None
            ),
        )
        BROWSER_ERRORS[id(page)] = errors
        await page.goto("/login")
        await page.fill("#username", user)
        await page.fill("#password", F.TEST_PASSWORDS[user])
        await page.click("button[type=submit]")
        await page.wait_for_url("**/now")
        return page


BROWSER_ERRORS: dict[int, list[str]] = {}
"""Console errors, uncaught exceptions and 4xx/5xx responses per page (see Console.page)."""


def errors_of(page: Page) -> list[str]:
    return BROWSER_ERRORS.get(id(page), [])


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@contextlib.asynccontextmanager
async def start_console(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
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
        crm_sync_metrics_url=None,
        reconcile_result_file=tmp / "reconcile.json",
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


@pytest.fixture(scope="module")
async def console(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    async with start_console(kafka_bootstrap, tmp_path_factory) as c:
        yield c


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
    await expect(page.locator("#dl-fields")).to_contain_text("person.email")  # a readable record, masked
    await expect(page.locator("#dl-fields")).not_to_contain_text("Schmidt")
    assert await page.locator("#replay-form").count() == 0
    await page.context.close()


# --- issue 15: figures that add up, pages that read well ------------------------------------------

_ORACLE_PATH = Path(__file__).with_name("test_ops_tiles_from_events.py")


def _oracle() -> Any:
    """The independent reading of raw events (test_ops_tiles_from_events.py), shared without a package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ops_tiles_oracle", _ORACLE_PATH)
    assert spec is not None and spec.loader is not None
    import sys

    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
async def board(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    """A second console on its own topics, for the issue-15 checks (independent of the tests above)."""
    async with start_console(kafka_bootstrap, tmp_path_factory) as c:
        yield c


TILE_KEYS = (
    "open",
    "due_15",
    "due_60",
    "breached",
    "breached_first_touch",
    "breached_qualify",
    "breached_callback",
    "unassigned",
    "not_in_salesforce",
)


async def _read_tiles(page: Page) -> tuple[dict[str, int], datetime]:
    data = await page.evaluate(
        """() => {
          const out = {};
          document.querySelectorAll('[data-metric]').forEach(el => { out[el.dataset.metric] = el.textContent.trim(); });
          out.__at = document.querySelector('#updated time').getAttribute('datetime');
          return out;
        }"""
    )
    at = datetime.fromisoformat(data.pop("__at").replace("Z", "+00:00"))
    return {k: int(v) for k, v in data.items()}, at


async def test_every_now_tile_equals_the_figure_computed_from_the_raw_events(board: Console) -> None:
    import random

    oracle = _oracle()
    now = datetime.now(UTC).replace(microsecond=0)
    for seed in range(15, 100):  # a history that has every kind of tile to check
        history = oracle.make_history(random.Random(seed), 80, now=now, prefix="W")
        # what the console receives: each dead letter as it reads off the wire (with every field it carries)
        history.dead = [type(d).model_validate_json(d.to_json_bytes()) for d in history.dead]
        planned = oracle.expected_tiles(history, now)
        if planned["breached_callback"] and planned["not_in_salesforce"] and planned["unassigned"]:
            break
    for topic, events in (
        (T.LEADS_ROUTED, history.routed),
        (T.CRM_SYNCED, history.synced),
        (T.SLA_EVENTS, history.sla),
        (T.LEADS_DEADLETTER, history.dead),
    ):
        for event in events:
            await board.send(topic, event)
    page = await board.page("victor")
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        shown, at = await _read_tiles(page)
        expected = oracle.expected_tiles(history, at)
        if {k: shown[k] for k in TILE_KEYS} == {k: expected[k] for k in TILE_KEYS}:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"board {shown} != events {expected}")
        await page.wait_for_timeout(500)
    assert expected["breached_callback"] and expected["not_in_salesforce"] and expected["unassigned"]
    rows = await page.locator("#teams tbody tr").all_inner_texts()
    for team, counts in expected["teams"].items():
        row = next(r for r in rows if r.split("\t")[0] == team)
        cells = row.split("\t")
        open_, breached, _queued, not_in_sf, follow_ups = (int(c) for c in cells[-5:])
        assert (open_, breached, not_in_sf, follow_ups) == (
            counts["open"],
            counts["breached"],
            counts["not_in_salesforce"],
            counts["follow_ups"],
        )
    # each clock's part of the tile opens the breaches of that clock, still open: the same leads
    for clock in ("first_touch", "qualify", "callback"):
        await page.click(f"#tile-breached a[href*='clock={clock}']")
        await page.wait_for_url(f"**clock={clock}**")
        leads = set(await page.locator("#breach-table a.lead-link").all_inner_texts())
        assert len(leads) == expected[f"breached_{clock}"], clock
        await expect(page.locator(f"#breach-counts a[data-clock={clock}]")).to_contain_text(
            str(expected[f"breached_{clock}"])
        )
        await page.goto("/now")
    # each tile is defined in the page's glossary
    for key in ("open", "due_15", "due_60", "breached", "unassigned", "not_in_salesforce"):
        await expect(page.locator(f"#def-{key}")).to_have_count(1)
    assert not errors_of(page), errors_of(page)
    await shot(page, "now")
    await page.context.close()


async def test_a_lead_that_never_reached_salesforce_shows_its_dead_letter_and_replay(board: Console) -> None:
    now = datetime.now(UTC)
    await board.send(T.LEADS_ROUTED, F.routed("NS-1", now - timedelta(minutes=2), owner_id="005R1"))
    body = json.dumps({"lead_id": "NS-1", "lead": {"email": "anna.schmidt@example"}}).encode()
    dead = F.dead_letter(
        "NS-1", now, body, topic=T.LEADS_ROUTED, service="crm-sync", reason="salesforce:INVALID_EMAIL_ADDRESS"
    )
    dead = dead.model_copy(
        update={
            "message": "Email: invalid email address: anna.schmidt@example",
            "detail": {"statusCode": "INVALID_EMAIL_ADDRESS", "fields": "Email", "operation": "upsert Lead"},
            "not_in_salesforce": True,  # crm-sync's word: the lead has no record in Salesforce
        }
    )
    await board.send(T.LEADS_DEADLETTER, dead)
    page = await board.page("olivia")
    await page.goto("/leads/NS-1")
    await expect(page.locator("#not-in-sf")).to_contain_text("Not in Salesforce", timeout=30_000)
    await expect(page.locator("#timeline")).to_contain_text("dead-lettered")
    await page.click("#dl-open")
    await page.wait_for_url("**/deadletters/**")
    await expect(page.locator("#sf-error")).to_contain_text("INVALID_EMAIL_ADDRESS")
    await expect(page.locator("#sf-error")).to_contain_text("Email")
    await expect(page.locator("#sf-error")).not_to_contain_text("anna.schmidt")  # masked
    await expect(page.locator("#replay-effect")).to_contain_text("crm-sync writes the lead to Salesforce again")
    await expect(page.locator("#replay-form")).to_be_visible()
    assert not errors_of(page), errors_of(page)
    await shot(page, "deadletter")
    await page.context.close()


async def test_dead_letters_page_and_filter_by_reason_service_and_time(board: Console) -> None:
    now = datetime.now(UTC)
    for i in range(60):
        service, reason = (("enrich", "schema_violation"), ("score", "invalid_json"))[i % 2]
        await board.send(
            T.LEADS_DEADLETTER,
            F.dead_letter(f"DLP-{i:02d}", now, b"{}", topic=T.LEADS_ACCEPTED, service=service, reason=reason),
        )
    page = await board.page("victor")
    await page.goto("/pipeline?service=score")
    await expect(page.locator("#dl-list")).to_contain_text("DLP-", timeout=30_000)
    for _ in range(60):  # every record consumed
        await page.goto("/pipeline?service=score")
        if "30 matches" in await page.locator("h2:has-text('Dead-letter browser')").inner_text():
            break
        await page.wait_for_timeout(500)
    assert await page.locator("#dl-list tbody tr").count() == 25  # a page, not all of them
    texts = await page.locator("#dl-list tbody").inner_text()
    assert "enrich" not in texts and "score" in texts
    await page.click("#dl-pager a[rel=next]")
    await expect(page.locator("#dl-list tbody tr")).to_have_count(5)
    assert "page=1" in page.url and "service=score" in page.url
    await page.goto("/pipeline")
    await page.select_option("#dl-filters select[name=reason]", "schema_violation")
    await page.fill("#dl-filters input[name=since]", (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    await page.click("#dl-filters button")
    await expect(page.locator("#dl-list tbody")).not_to_contain_text("invalid_json")
    await page.fill("#dl-filters input[name=since]", (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    await page.click("#dl-filters button")
    await expect(page.locator("#dl-list tbody")).to_contain_text("Nothing here.")
    assert not errors_of(page), errors_of(page)
    await page.context.close()


def _overlaps(boxes: list[dict[str, float]]) -> list[tuple[int, int]]:
    out = []
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[i + 1 :], i + 1):
            if a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]:
                if a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]:
                    out.append((i, j))
    return out


@pytest.mark.parametrize("roster", [2, 40, 400, 2000])
async def test_staffing_chart_is_readable_at_any_roster_size(board: Console, roster: int) -> None:
    page = await board.page("victor")
    await page.goto(f"/staffing?arrivals=900&aht=300&target=60&level=80&roster={roster}")
    chart = page.locator("svg.chart.wide")
    card = page.locator("svg.chart.wide >> xpath=..")
    chart_box, card_box = await chart.bounding_box(), await card.bounding_box()
    assert chart_box and card_box and chart_box["width"] >= 0.9 * card_box["width"]  # the whole card
    ticks = [await t.bounding_box() for t in await chart.locator("text.tick").all()]
    marks = [await t.bounding_box() for t in await chart.locator("text.mark-label").all()]
    assert 2 <= len(ticks) <= 20
    assert not _overlaps([b for b in ticks if b]), "x-axis labels overprint"
    assert not _overlaps([b for b in marks if b]), "needed/roster labels overprint"
    # the inputs stay editable and keep what was typed
    assert await page.locator("input[name=roster]").input_value() == str(roster)
    await expect(page.locator("#reset-inputs")).to_be_visible()
    if roster == 40:
        await shot(page, "staffing")
    assert not errors_of(page), errors_of(page)
    await page.context.close()


async def test_staffing_arrival_rate_is_over_the_hours_the_data_covers(board: Console) -> None:
    page = await board.page("victor")
    await page.goto("/staffing")
    basis = await page.locator("#arrival-basis").inner_text()
    rate = float((await page.locator('[data-metric="arrivals"]').inner_text()).replace(",", ""))
    n = int(basis.split(" leads over")[0].replace(",", ""))
    assert "of the 24 h window" in basis  # four hours of data, not 24
    api = await (await page.request.get("/api/staffing")).json()
    assert api["inputs"]["measured_hours"] < 5
    assert rate == pytest.approx(n / api["inputs"]["measured_hours"], rel=0.02)
    await page.context.close()


async def test_lead_timeline_in_submission_order_with_actors_in_the_viewers_time_zone(board: Console) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ev = F.routed("TL-1", now - timedelta(minutes=10), policy="key-account", owner_id="005R1", owner_name="Greta Lind")
    await board.send(T.LEADS_ROUTED, ev)
    await board.send(T.CRM_SYNCED, F.synced("TL-1", now - timedelta(minutes=9), owner_id="005R1"))
    # a breach stamped (by a skewed producer clock) before the submission still comes after it
    await board.send(
        T.SLA_EVENTS,
        F.sla(
            "TL-1",
            "breached",
            ev.lead.submitted_at - timedelta(minutes=1),
            due_at=now,
            clock="callback",
            policy="callback-15m",
        ),
    )
    await board.send(
        T.SLA_EVENTS,
        F.sla("TL-1", "met", now - timedelta(minutes=2), due_at=now, policy="hot-15m", owner_id="005R1"),
    )
    page = await board.page("victor", timezone="America/New_York")
    await page.goto("/leads/TL-1")
    await expect(page.locator("#timeline tbody tr")).to_have_count(5, timeout=30_000)
    steps = await page.locator("#timeline tbody tr").all_inner_texts()
    assert "submitted" in steps[0]
    assert "callback breached" in steps[1] and "clock skew" in steps[1]  # after the submission, marked
    assert [s.split("\t")[1] for s in steps[2:]] == ["routed", "in Salesforce", "first touch met"]
    actors = [s.split("\t")[2] for s in steps]
    assert "route" in actors and "crm-sync" in actors and "sla-monitor" in actors and "Greta Lind" in actors
    await expect(page.locator("#routing-policy")).to_have_text("key-account")
    await expect(page.locator("#sla-policy")).to_have_text("hot-15m")
    first = page.locator("#timeline time").first
    assert "UTC" not in await first.inner_text()  # shown in the viewer's zone (EST/EDT here)
    assert (await first.get_attribute("title") or "").endswith("America/New_York")
    await shot(page, "breach-lead")
    assert not errors_of(page), errors_of(page)
    await page.context.close()


async def test_team_load_names_teams_from_salesforce_and_colours_only_what_needs_attention(board: Console) -> None:
    now = datetime.now(UTC)
    await board.send(T.CRM_CHANGES, F.user_change("005HEAD", now, name="Hanne Head", team="", role="Head of Sales"))
    await board.send(T.CRM_CHANGES, F.user_change("005R1", now, name="Greta Lind", team="Inbound DACH"))
    await board.send(T.CRM_CHANGES, F.user_change("005CALM", now, name="Carl Calm", team="Inbound DACH"))
    for i in range(3):
        await board.send(T.LEADS_ROUTED, F.routed(f"CAP-{i}", now, owner_id="005R1", owner_name="Greta Lind"))
    await board.app.state.repo.apply_roster([{"user_id": "005R1", "cap": 2}], now)  # route's cap for Greta
    # a team leader route keeps out of its round-robin (its roster says so), holding escalations only
    await board.send(
        T.CRM_CHANGES, F.user_change("005TL", now, name="Tove Leader", team="Inbound DACH", role="Team Leader")
    )
    await board.app.state.repo.apply_roster([{"user_id": "005TL", "in_rotation": False}], now)
    for i in range(4):
        await board.send(T.LEADS_ROUTED, F.routed(f"ESC-{i}", now, owner_id="005TL", owner_name="Tove Leader"))
    # the team's only Dutch speaker, dealt every Dutch lead by round-robin (alone in each pool): all of its
    # round-robin deals against a third of the weight, yet exactly what it could win, so not flagged
    await board.send(T.CRM_CHANGES, F.user_change("005NL", now, name="Nina Dekker", team="Inbound DACH"))
    for i in range(12):
        dutch = F.routed(
            f"NL-{i}", now, owner_id="005NL", owner_name="Nina Dekker", round_robin=True, pool=[("005NL", 1.0)]
        )
        await board.send(T.LEADS_ROUTED, dutch)
    # the head of sales (not a rep: no weight share) holds a lead route filed under no team
    await board.send(T.LEADS_ROUTED, F.routed("HOS-1", now, team="", owner_id="005HEAD", owner_name="Hanne Head"))
    await wait_for(lambda: board.app.state.repo.lead("HOS-1"), timeout=30)
    page = await board.page("victor")
    await page.goto("/team")
    await expect(page.locator("#others tr", has_text="Hanne Head")).to_contain_text("Head of Sales", timeout=30_000)
    assert await page.locator("section.team", has_text="Hanne Head").count() == 0  # not listed as a rep
    assert await page.locator("section.team h2").filter(has_text="(none)").count() == 0
    greta = page.locator("tr", has_text="Greta Lind").first
    await expect(greta.locator("[data-attention=over_cap]")).to_have_count(1)
    calm = page.locator("section.team tr", has_text="Carl Calm")
    await expect(calm).to_have_count(1)
    assert await calm.locator("td.bad, td.warn").count() == 0  # a rep with nothing wrong is not coloured
    leader = page.locator("section.team tr", has_text="Tove Leader")
    await expect(leader.locator("[data-rotation=out]")).to_have_text("not in rotation", timeout=30_000)
    assert await leader.locator("[data-attention=unfair_share]").count() == 0  # no share, never "unfair"
    nina = page.locator("section.team tr", has_text="Nina Dekker")
    await expect(nina.locator("td.n").nth(8)).to_have_text("12.0", timeout=30_000)  # Expected
    assert await nina.locator("[data-attention=unfair_share]").count() == 0
    # the chart beside the deals shows what the pools let each rep win, not the weights alone
    dach = page.locator("section.team", has_text="Nina Dekker")
    await expect(dach.locator('svg[aria-label="expected share"]')).to_have_count(1)
    assert await dach.locator('svg[aria-label="weight share"]').count() == 0
    flagged_rows = await page.locator("section.team tbody tr:has(td.bad, td.warn)").count()
    rows = await page.locator("section.team tbody tr").count()
    assert flagged_rows < rows  # not everything is red
    await shot(page, "team")
    await page.context.close()


async def test_org_health_panel(board: Console) -> None:
    result = board.settings.reconcile_result_file
    assert result is not None
    # what `leadflow reconcile --json` prints, saved where ops reads it
    summary = {"differences": 3, "by_kind": {"missing_in_salesforce": 2, "owner_differs": 1}}
    result.write_text(json.dumps({"summary": summary, "differences": [{"lead_id": "x"}] * 3}))
    page = await board.page("victor")
    await page.goto("/pipeline")
    await expect(page.locator('[data-metric="reconcile_differences"]')).to_have_text("3")
    await expect(page.locator("#reconcile-kinds")).to_have_text("missing_in_salesforce 2, owner_differs 1")
    waiting = int(await page.locator('[data-metric="dead_letters_waiting"]').inner_text())
    api = await (await page.request.get("/api/org-health")).json()
    assert waiting == api["dead_letters_waiting"] == await board.app.state.repo.dead_letter_total(waiting=True)
    await expect(page.locator("#org-health")).to_contain_text("change-feed lag")
    await expect(page.locator("#org-health")).to_contain_text("API requests left")
    await shot(page, "pipeline")
    # a later pass that could not read a side (`leadflow reconcile --write` leaves its error): no stale "3"
    result.write_text(json.dumps({"error": "cannot reconcile: TimeoutError: topics not read to the end"}))
    await page.goto("/pipeline")
    await expect(page.locator('[data-metric="reconcile_differences"]')).to_have_text("–")
    await expect(page.locator("#org-health")).to_contain_text("cannot reconcile: TimeoutError")
    await page.context.close()


PATTERN_LIMIT = 6
"""Pages of one shape (/leads/…, /pipeline?…) visited at most this many times each."""


def _shape(path: str) -> str:
    return "/" + path.split("?")[0].split("/")[1]


@pytest.mark.parametrize("user", ["olivia", "victor"])
async def test_crawl_every_page_link_and_form(board: Console, user: str) -> None:
    """From /now, follow every same-site link and submit every form (GET and the POST search); every page
    answers 200 as a console page, the favicon exists, and nothing logs a console error."""
    from urllib.parse import urljoin, urlsplit

    now = datetime.now(UTC)
    await board.send(T.LEADS_REJECTED, F.rejected("unparsed-7f3a", now))  # an intake reject's derived id
    page = await board.page(user)
    favicon = await page.request.get("/favicon.ico")
    assert favicon.ok and "svg" in (favicon.headers.get("content-type") or "")
    seen: set[str] = set()
    shapes: dict[str, int] = {}
    todo = ["/now"]
    visited = 0
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        shape = _shape(path)
        shapes[shape] = shapes.get(shape, 0) + 1
        if shapes[shape] > PATTERN_LIMIT:
            continue
        response = await page.goto(path)
        visited += 1
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        assert "text/html" in (response.headers.get("content-type") or ""), path
        hrefs = await page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        for href in hrefs:
            if href.startswith("#"):
                assert await page.locator(f"[id='{href[1:]}']").count() == 1, f"{path}: dangling anchor {href}"
                continue
            url = urlsplit(urljoin(board.url + path, href))
            if f"{url.scheme}://{url.netloc}" != board.url:
                assert href.startswith("https://acme.my.salesforce.com/lightning/r/"), f"{path}: {href}"
                continue
            target = url.path + (f"?{url.query}" if url.query else "")
            if target not in seen:
                todo.append(target)
        for action in await page.eval_on_selector_all(
            "form[method=get]",
            "fs => fs.map(f => f.getAttribute('action') + '?' + new URLSearchParams(new FormData(f)).toString())",
        ):
            if action not in seen:
                todo.append(action)
        assert not errors_of(page), f"{path}: {errors_of(page)}"
    assert visited >= 15
    await page.goto("/breaches")
    await page.fill("#q", "Inbound")
    await page.click("form.search button")
    await expect(page.locator("h1")).to_have_text("Breaches")
    await page.goto("/leads/no-such-lead")  # a real 404 is a console page, not plain text
    await expect(page.locator("#error-message")).to_contain_text("ops has seen nothing")
    BROWSER_ERRORS[id(page)] = []
    await page.click("form.logout button")
    await page.wait_for_url("**/login")
    assert not errors_of(page), errors_of(page)
    await page.context.close()


OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const out = [];
  if (doc.scrollWidth > window.innerWidth + 1) out.push(`page ${doc.scrollWidth} > ${window.innerWidth}`);
  document.querySelectorAll('table').forEach(t => {
    const box = t.parentElement.getBoundingClientRect();
    const r = t.getBoundingClientRect();
    if (r.right > box.right + 1 || t.scrollWidth > t.parentElement.clientWidth + 1)
      out.push(`${t.id || t.className} ${Math.round(r.width)} px in ${Math.round(box.width)} px`);
    t.querySelectorAll('td').forEach(td => {  // and no column squeezed to a letter per line to make it fit
      const text = td.textContent.trim();
      if (text.length > 3 && td.getBoundingClientRect().width < 40) out.push(`squeezed cell "${text.slice(0, 20)}"`);
    });
  });
  return out;
}"""


@pytest.mark.parametrize("width", [1280, 1400])
async def test_breaches_and_every_table_fit_the_window_without_a_horizontal_cut(board: Console, width: int) -> None:
    """Long real values (ids, names, teams, escalation actions, times) wrap inside their card: no table wider
    than its card, no page wider than the window, at 1280 and 1400 px."""
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(6):
        lead = f"demo-e25360e6-137c-{i:02d}-a-rather-long-source-identifier"
        ev = F.routed(
            lead,
            now - timedelta(hours=2),
            team="UK & Ireland Enterprise Accounts",
            owner_id=f"005FX00000000{i}YAQ",
            owner_name="Maximiliane Vandenberghe-Oosterhuis",
            policy="key-account-enterprise-escalation-policy",
            due_in=60,
        )
        await board.send(T.LEADS_ROUTED, ev)
        await board.send(T.CRM_SYNCED, F.synced(lead, now - timedelta(hours=2), sf_id=f"00Q8d00000000J{i}EAY"))
        await board.send(
            T.SLA_EVENTS,
            F.sla(
                lead,
                "breached",
                now - timedelta(minutes=90),
                due_at=now - timedelta(minutes=119),
                clock="qualify",
                policy="key-account-enterprise-escalation-policy",
                team="UK & Ireland Enterprise Accounts",
                step=3,
                action="reassign_team_queue_and_notify_head_of_sales",
            ),
        )
    last = "demo-e25360e6-137c-05-a-rather-long-source-identifier"
    await wait_for(lambda: board.app.state.repo.breaches(lead_id=last), timeout=30)
    context = await board.browser.new_context(viewport={"width": width, "height": 900}, base_url=board.url)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#username", "victor")
    await page.fill("#password", F.TEST_PASSWORDS["victor"])
    await page.click("button[type=submit]")
    await page.wait_for_url("**/now")
    for path in ("/breaches", f"/leads/{last}", "/now", "/team", "/pipeline", "/speed?window=24h&by=rep"):
        await page.goto(path)
        assert await page.evaluate(OVERFLOW_JS) == [], f"{path} at {width} px"
    await page.goto("/breaches")
    await expect(page.locator("#breach-table")).to_contain_text("reassign_team_queue_and_notify_head_of_sales")
    if width == 1400:
        await shot(page, "breaches")
    await context.close()
