"""Repeat inquiries end ``met`` when the simulated reps work them, across the real pieces (issue 12):

the Salesforce emulator (HTTPS) ← crm-sync's follow-up Task payloads; telesales-sim's reps (logged in as
themselves) work their open follow-up Tasks; crm-changes' feed publishes what they did; sla-monitor (SQLite
and PostgreSQL) meets the merged leads' clocks. Two repeats: one of a Lead a rep had already worked before
the new inquiry (that old touch, delivered late, must not count), one of an existing Contact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadflow_contracts.pipeline import DuplicateOf, LeadRouted
from leadflow_contracts.sla import SlaEvent
from leadflow_crm_changes.testing import recording_feed
from leadflow_crm_sync.domain.mapping import inquiry_task
from leadflow_crm_sync.domain.policy import load_policy
from leadflow_platform.clock import FakeClock, SystemClock
from leadflow_platform.db import create_engine
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle
from leadflow_sf_emulator.ids import mint
from leadflow_sla_monitor.adapters.publisher import RecordingPublisher
from leadflow_sla_monitor.adapters.store import TimerStore
from leadflow_sla_monitor.service import Calendars, SlaMonitor
from leadflow_sla_monitor.testing import make_routed, test_calendars, test_policies
from leadflow_telesales_sim.app import create_app
from leadflow_telesales_sim.settings import TelesalesSimSettings

pytestmark = pytest.mark.integration

SELLER = mint("005", 901, pod="FU")
QUICK = {  # every rep answers within a simulated minute and reaches the prospect
    "ignore_probability": 0,
    "quick_probability": 1,
    "quick_first_touch_minutes": [1, 1],
    "connect_probability": 1,
    "qualify_probability": 0,
    "disqualify_probability": 0,
}


@pytest.fixture
def org(sf_emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    sf_emulator.seed(
        {
            "records": {
                "User": [
                    {
                        "Id": SELLER,
                        "Username": "fu.seller@leadflow-test.example",
                        "LastName": "Seller",
                        "IsActive": True,
                        "Role_Name__c": "Seller",
                    }
                ]
            }
        }
    )
    yield sf_emulator


def repeat(lead_id: str, dup: DuplicateOf, at: datetime) -> LeadRouted:
    ev = make_routed(lead_id, at, owner_id=SELLER)
    return ev.model_copy(update={"enrichment": ev.enrichment.model_copy(update={"duplicate_of": dup})})


async def test_a_repeat_of_a_worked_lead_and_a_contact_follow_up_end_met(
    org: EmulatorHandle, database_url: str, tmp_path: Any
) -> None:
    sf = connect(org.salesforce_settings())
    rep = connect(org.salesforce_settings(username="fu.seller@leadflow-test.example"))
    worked = sf.Lead.create(
        {"LastName": "Lund", "Company": "Lund AS", "Leadflow_Id__c": "lf-first", "OwnerId": SELLER}
    )["id"]
    contact = sf.Contact.create({"LastName": "Berg", "OwnerId": SELLER})["id"]

    feed, published, feed_engine = await recording_feed(tmp_path, org.salesforce_settings())
    engine = create_engine(database_url)
    store = TimerStore(engine)
    await store.create_tables()
    pub = RecordingPublisher()
    monitor = SlaMonitor(store, pub, test_policies(), Calendars(test_calendars()), SystemClock())

    def met() -> dict[str, str | None]:
        return {
            e.lead_id: e.met_how
            for e in pub.events("sla.events")
            if isinstance(e, SlaEvent) and e.kind == "met" and e.clock == "first_touch"
        }

    async def deliver() -> None:
        """crm-changes polls and sla-monitor consumes what it published since the last delivery."""
        before = len(published)
        await feed.step()
        await monitor.handle_changes(published[before:])

    try:
        await feed.step()  # leadflow's own writes are echoes
        await monitor.handle_routed(
            [make_routed("lf-first", datetime.now(UTC) - timedelta(minutes=5), owner_id=SELLER)]
        )
        # the rep works the Lead before the person asks again; the feed has not delivered it yet
        await asyncio.to_thread(rep.Lead.update, worked, {"Status": "Working - Contacted"})
        await asyncio.sleep(0.05)
        asked = datetime.now(UTC)
        again = repeat("lf-again", DuplicateOf(object="Lead", record_id=worked, matched_on="email"), asked)
        inquiry = repeat("lf-inquiry", DuplicateOf(object="Contact", record_id=contact, matched_on="phone"), asked)
        await monitor.handle_routed([again, inquiry])
        await deliver()  # the old touch arrives late: it meets the first lead only
        assert set(met()) == {"lf-first"}

        # crm-sync's follow-up Tasks for the two repeats, as it writes them (owner = the assigned rep)
        policy = load_policy(None)
        for ev, who in ((again, worked), (inquiry, contact)):
            fields = inquiry_task(ev, who, policy).fields
            await asyncio.to_thread(sf.Task.create, fields)
        await deliver()  # leadflow's own Tasks: echoes, nothing met
        assert set(met()) == {"lf-first"}

        clock = FakeClock()
        settings = TelesalesSimSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'tsim.db'}",
            salesforce=org.salesforce_settings(),
            time_scale=60,
            behaviour=QUICK,
        )
        app = create_app(settings, clock=clock, run_simulation=False)
        async with app.router.lifespan_context(app):
            sim = app.state.simulator
            await sim.start()
            await sim.tick()
            clock.advance(1.5)  # a simulated minute and a half
            await sim.tick()
            assert sim.stats.follow_ups_completed == 2
        await deliver()
        assert met() == {"lf-first": "status:Working - Contacted", "lf-again": "task:Call", "lf-inquiry": "task:Call"}
        follow_ups = sf.query_all("SELECT Status FROM Task WHERE Subject = 'Follow up: new inquiry'")["records"]
        assert [t["Status"] for t in follow_ups] == ["Completed", "Completed"]
    finally:
        await engine.dispose()
        await feed_engine.dispose()
