"""Shadow mode: decisions recorded, published and shown; nothing written to Salesforce."""

from __future__ import annotations

from datetime import timedelta

import pytest
from faststream.kafka import TestKafkaBroker
from httpx import ASGITransport, AsyncClient
from leadflow_contracts import SlaEventKind, topics
from leadflow_crm_sync.adapters.shadow_gateway import placeholder_id
from leadflow_crm_sync.settings import CrmSyncSettings
from leadflow_crm_sync.testing import T0, FakeSalesforce, build_harness, lead_change, routed, sla_event

pytestmark = pytest.mark.component
LEADER = {"Id": "005000000000009AAA", "Team__c": "Nordics", "Role_Name__c": "Team Leader", "IsActive": True}


async def test_shadow_mode_decides_publishes_and_shows_but_writes_nothing(sqlite_url: str) -> None:
    fake = FakeSalesforce(users=[LEADER])
    h = build_harness(sqlite_url, fake, shadow_mode=True)
    await h.app.state.repo.create_tables()
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("s-1", callback_at=T0 + timedelta(hours=4)), topics.LEADS_ROUTED)
        await h.publish(routed("s-2", email="jürgen@example.de"), topics.LEADS_ROUTED)
        await h.publish(
            sla_event("s-1", SlaEventKind.ESCALATED, step=1, action="notify team leader"), topics.SLA_EVENTS
        )
        await h.publish(lead_change("s-2", placeholder_id("Lead", "s-2")), topics.CRM_CHANGES)
        async with AsyncClient(transport=ASGITransport(app=h.app), base_url="http://t") as client:
            shown = (await client.get("/shadow")).json()
            status = (await client.get("/status")).json()
    # Nothing reached the org: no Collections call, no convertLead; reads (the team directory) did.
    assert [c.operation for c in fake.calls if c.operation != "query"] == []
    assert any(c.operation == "query" for c in fake.calls), "the escalation leader was read from the org"
    assert fake.records == {} or all(not t for t in fake.records.values())
    # Every decision was published, marked as shadow, with placeholder ids that are stable per record.
    ops = sorted((s["lead_id"], s["operation"]) for s in h.synced)
    assert ("s-1", "created") in ops and ("s-2", "created") in ops and ("s-2", "converted") in ops
    assert all(s["shadow"] is True for s in h.synced)
    created = {s["lead_id"]: s for s in h.synced if s["operation"] == "created"}
    assert created["s-1"]["salesforce_id"] == placeholder_id("Lead", "s-1") and created["s-1"]["task_id"]
    assert h.dead == []
    # ... and shown: what would have been written, field names only (no personal data on the page).
    assert shown["shadow"] is True and status["shadow_mode"] is True
    assert shown["writes_not_sent"]["upsert:Lead"] == 2 and shown["writes_not_sent"]["upsert:Task"] >= 2
    assert shown["writes_not_sent"]["convertLead:Lead"] == 1
    lead_writes = [w for w in shown["recent"] if w["sobject"] == "Lead" and w["operation"] == "upsert"]
    assert {w["key"] for w in lead_writes} == {"s-1", "s-2"}
    assert "Email" in lead_writes[0]["fields"] and "jürgen" not in str(shown)
    await h.app.state.engine.dispose()


def test_shadow_mode_gets_its_own_database_and_consumer_group_unless_told() -> None:
    plain = CrmSyncSettings()
    shadow = CrmSyncSettings(shadow_mode=True)
    assert shadow.database_url != plain.database_url and shadow.database_url.endswith("crm-sync-shadow.db")
    assert shadow.consumer_group == plain.consumer_group + "-shadow"
    told = CrmSyncSettings(shadow_mode=True, consumer_group="g", database_url="sqlite+aiosqlite:///x.db")
    assert told.consumer_group == "g" and told.database_url == "sqlite+aiosqlite:///x.db"


def test_shadow_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMSYNC_SHADOW_MODE", "true")
    assert CrmSyncSettings().shadow_mode is True
