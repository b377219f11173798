"""sla-monitor over TestKafkaBroker: the app as create_app builds it (handlers, scheduler loop), SQLite, fake clock."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts.pipeline import DeadLetter, ReassignRequested
from leadflow_contracts.sla import SlaEvent
from leadflow_platform.clock import FakeClock
from leadflow_platform.testing.fixtures import wait_for
from leadflow_sla_monitor.app import create_app
from leadflow_sla_monitor.settings import SlaSettings
from leadflow_sla_monitor.testing import MONDAY_9, lead_change, make_routed, task_change, test_calendars, test_policies

pytestmark = pytest.mark.component


def make_app(sqlite_url: str, clock: FakeClock) -> tuple[Any, Any, dict[str, list[Any]]]:
    settings = SlaSettings(database_url=sqlite_url, kafka_bootstrap="127.0.0.1:1", scheduler_poll_seconds=0.02)
    app = create_app(settings, clock=clock, calendars=test_calendars(), policies=test_policies(), create_topics=False)
    broker = app.state.sla.broker
    out: dict[str, list[Any]] = {"sla": [], "reassign": [], "dead": []}

    @broker.subscriber("sla.events")
    async def sla_sink(body: dict) -> None:
        out["sla"].append(SlaEvent.model_validate(body))

    @broker.subscriber("leads.reassign")
    async def reassign_sink(body: dict) -> None:
        out["reassign"].append(ReassignRequested.model_validate(body))

    @broker.subscriber("leads.deadletter")
    async def dead_sink(body: dict) -> None:
        out["dead"].append(DeadLetter.model_validate(body))

    return app, broker, out


async def test_clocks_start_meet_breach_escalate_and_poison_is_dead_lettered(sqlite_url: str) -> None:
    clock = FakeClock(MONDAY_9)
    app, broker, out = make_app(sqlite_url, clock)
    scheduler = app.state.sla.scheduler
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        for routed in (make_routed("C-met", MONDAY_9), make_routed("C-late", MONDAY_9, owner_id="005LATE")):
            await br.publish(routed.to_json_bytes(), "leads.routed", key=routed.kafka_key())
        await br.publish(b'{"lead_id": "C-bad"}', "leads.routed", key=b"C-bad")
        await br.publish(b"\xff\xfe not json", "crm.changes", key=b"C-worse")
        await br.publish(
            task_change("C-met", MONDAY_9 + timedelta(minutes=30)).to_json_bytes(), "crm.changes", key=b"C-met"
        )
        await br.publish(
            lead_change("C-met", MONDAY_9 + timedelta(hours=3), status="Qualified").to_json_bytes(),
            "crm.changes",
            key=b"C-met",
        )
        clock.set(MONDAY_9 + timedelta(hours=3))
        scheduler.wake()
        await wait_for(lambda: len(out["reassign"]) >= 2, timeout=10)

    kinds = [(e.lead_id, e.clock, e.kind.value, e.escalation_action) for e in out["sla"]]
    assert ("C-met", "first_touch", "met", None) in kinds
    assert ("C-met", "qualify", "met", None) in kinds
    assert not any(lead == "C-met" and kind == "breached" for lead, _, kind, _ in kinds)
    late = [(k, a) for lead, c, k, a in kinds if lead == "C-late" and c == "first_touch"]
    # The fake clock jumped past the deadline: no warning, the breach and every ladder step.
    assert late == [
        ("started", None),
        ("breached", None),
        ("escalated", "notify_team_leader"),
        ("escalated", "reassign"),
        ("escalated", "team_queue"),
    ]
    met = next(e for e in out["sla"] if e.lead_id == "C-met" and e.clock == "qualify" and e.kind.value == "met")
    assert met.met_how == "status:Qualified" and met.business_seconds == 3 * 3600  # 09:00-12:00 Oslo, before lunch
    assert [r.target for r in out["reassign"]] == ["any", "team_queue"]
    dead = {d.lead_id: d for d in out["dead"]}
    assert set(dead) == {"C-bad", "C-worse"}
    assert dead["C-bad"].reason == "invalid_event" and dead["C-bad"].service == "sla-monitor"
    assert base64.b64decode(dead["C-worse"].original_base64) == b"\xff\xfe not json"
    assert dead["C-worse"].topic == "crm.changes"


async def test_summary_endpoint_counts_timers(sqlite_url: str) -> None:
    import httpx

    clock = FakeClock(MONDAY_9)
    app, broker, _out = make_app(sqlite_url, clock)
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        routed = make_routed("C-sum", MONDAY_9)
        await br.publish(routed.to_json_bytes(), "leads.routed", key=routed.kafka_key())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
            summary = (await client.get("/v1/timers/summary")).json()
            timers = (await client.get("/v1/timers/C-sum")).json()
    assert summary["timers"] == {"open": 2}
    assert set(timers) == {"first_touch", "qualify"}
    assert timers["first_touch"]["owner_id"] == "005REP1"


async def test_a_lead_the_sla_engine_fails_on_is_dead_lettered_and_the_rest_of_its_batch_gets_clocks(
    sqlite_url: str,
) -> None:
    """Issue 17: a calendar that cannot produce a due time for one lead used to rewind the partition forever."""
    from leadflow_businesstime import CalendarError

    clock = FakeClock(MONDAY_9)
    app, broker, out = make_app(sqlite_url, clock)
    calendars = app.state.sla.monitor.calendars
    real_for_lead = calendars.for_lead

    def for_lead(policy: Any, team: str | None, prospect_timezone: str | None) -> Any:
        if team == "Broken":
            raise CalendarError("calendar 'broken' has no working time within 3700 days")
        return real_for_lead(policy, team, prospect_timezone)

    calendars.for_lead = for_lead
    leads = [make_routed(f"C-{i}", MONDAY_9) for i in range(4)]
    broken = make_routed("C-broken", MONDAY_9, team="Broken")
    batch = [*leads[:2], broken, *leads[2:]]
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        await br.publish_batch(*[r.to_json_bytes() for r in batch], topic="leads.routed")
        await wait_for(lambda: len(out["dead"]) == 1, timeout=10)
        async with app.state.sla.engine.connect() as conn:
            timers = {lead.lead_id: await app.state.sla.store.get_timers(conn, lead.lead_id) for lead in batch}
    [letter] = out["dead"]
    assert (letter.lead_id, letter.reason, letter.service) == ("C-broken", "processing_error", "sla-monitor")
    assert "CalendarError: calendar 'broken' has no working time" in letter.message
    assert base64.b64decode(letter.original_base64) == broken.to_json_bytes()
    assert all(timers[lead.lead_id] for lead in leads) and not timers["C-broken"]
