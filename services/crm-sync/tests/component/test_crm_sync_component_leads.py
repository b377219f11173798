"""crm-sync on TestKafkaBroker with the hand-written fake org: leads, Tasks, duplicates, failures, budget."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import DuplicateOf, topics
from leadflow_crm_sync.adapters.gateway import SalesforceCallError
from leadflow_crm_sync.domain.budget import ApiUsage
from leadflow_crm_sync.service import Incoming
from leadflow_crm_sync.testing import T0, FakeSalesforce, Harness, build_harness, routed

pytestmark = pytest.mark.component
ROUTED = topics.LEADS_ROUTED


@pytest.fixture
async def h(sqlite_url: str) -> Harness:
    harness = build_harness(sqlite_url)
    await harness.app.state.repo.create_tables()
    return harness


async def test_routed_lead_is_upserted_once_and_replays_change_nothing(database_url: str) -> None:
    h = build_harness(database_url)
    await h.app.state.repo.create_tables()
    ev = routed("lead-1")
    async with TestKafkaBroker(h.broker):
        await h.publish(ev, ROUTED)
        await h.publish(ev, ROUTED)  # the same event again (redelivery)
        await h.publish(routed("lead-1", event_id="same-content-new-event"), ROUTED)  # upstream replay
    writes = h.fake.writes("Lead")
    assert len(writes) == 1 and writes[0].records[0]["Leadflow_Id__c"] == "lead-1"
    (lead,) = h.fake.table("Lead").values()
    assert lead["OwnerId"] == "005000000000001AAA" and lead["SLA_Due__c"] == "2026-01-05T09:30:00.000+0000"
    assert [s["operation"] for s in h.synced] == ["created", "unchanged"]
    first = h.synced[0]
    assert first["salesforce_id"] == lead["Id"] and first["owner_id"] == "005000000000001AAA"
    assert first["team"] == "Nordics" and first["rating"] == "Hot" and first["lead_source"] == "web_form"
    assert first["source_event_id"] == ev.event_id and first["submitted_at"] == "2026-01-05T08:59:55Z"
    await h.app.state.engine.dispose()


async def test_owner_change_updates_the_same_record(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-1"), ROUTED)
        await h.publish(
            routed("lead-1", owner_id="005000000000002AAA", reassignment=1, occurred_at=T0 + timedelta(hours=1)), ROUTED
        )
    assert [len(w.records) for w in h.fake.writes("Lead")] == [1, 1]
    (lead,) = h.fake.table("Lead").values()
    assert lead["OwnerId"] == "005000000000002AAA"
    assert "Status" not in h.fake.writes("Lead")[1].records[0], "the rep owns Status after the first write"
    assert [s["operation"] for s in h.synced] == ["created", "updated"]


async def test_callback_creates_its_task_once(h: Harness) -> None:
    cb = T0 + timedelta(hours=4)
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-cb", callback_at=cb), ROUTED)
        await h.publish(routed("lead-cb", callback_at=cb, event_id="replayed-upstream"), ROUTED)
    task_writes = h.fake.writes("Task")
    assert len(task_writes) == 1
    (task,) = h.fake.table("Task").values()
    (lead,) = h.fake.table("Lead").values()
    assert task["WhoId"] == lead["Id"] and task["Subject"] == "Call back" and task["IsReminderSet"] is True
    assert task["ReminderDateTime"] == "2026-01-05T13:00:00.000+0000"
    assert h.synced[0]["task_id"] == task["Id"] and h.synced[1]["task_id"] == task["Id"]


async def test_duplicate_of_a_lead_updates_it_and_of_a_contact_adds_a_task(h: Harness) -> None:
    existing = "00Q000000000777AAA"
    h.fake.table("Lead")[existing] = {"Id": existing, "LastName": "Old", "Company": "Old Co", "Status": "Working"}
    contact = "003000000000123AAA"
    h.fake.table("Contact")[contact] = {"Id": contact, "LastName": "Known"}
    async with TestKafkaBroker(h.broker):
        await h.publish(
            routed("dup-lead", duplicate_of=DuplicateOf(object="Lead", record_id=existing, matched_on="email")), ROUTED
        )
        await h.publish(
            routed("dup-contact", duplicate_of=DuplicateOf(object="Contact", record_id=contact, matched_on="phone")),
            ROUTED,
        )
    assert list(h.fake.table("Lead")) == [existing], "no new Lead"
    assert "OwnerId" not in h.fake.table("Lead")[existing], "a duplicate never moves the record's owner"
    assert h.fake.table("Lead")[existing]["Status"] == "Working", "the rep's status stays"
    # each repeat inquiry is a follow-up Task for its rep on the record it went into (no WhatId on a Lead)
    tasks = {t["WhoId"]: t for t in h.fake.table("Task").values()}
    assert set(tasks) == {existing, contact}
    assert all(t["Subject"] == "Follow up: new inquiry" for t in tasks.values())
    assert "WhatId" not in tasks[existing]
    by_lead = {s["lead_id"]: s for s in h.synced}
    assert by_lead["dup-lead"]["salesforce_id"] == existing and by_lead["dup-lead"]["operation"] == "updated"
    assert by_lead["dup-lead"]["task_id"] == tasks[existing]["Id"]
    assert by_lead["dup-contact"]["object"] == "Contact" and by_lead["dup-contact"]["salesforce_id"] == contact
    assert by_lead["dup-contact"]["task_id"] == tasks[contact]["Id"]


async def test_duplicate_whose_record_is_gone_becomes_a_new_lead(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(
            routed(
                "dup-gone", duplicate_of=DuplicateOf(object="Lead", record_id="00Q000000000404AAA", matched_on="email")
            ),
            ROUTED,
        )
    (lead,) = h.fake.table("Lead").values()
    assert lead["Leadflow_Id__c"] == "dup-gone" and h.synced[0]["operation"] == "created"


async def test_partial_failure_dead_letters_only_the_bad_record_with_the_salesforce_error(h: Harness) -> None:
    h.fake.record_errors["lead-bad"] = [("STRING_TOO_LONG", "Company: data value too large (max length=255)")]
    good, bad = routed("lead-good"), routed("lead-bad")
    async with TestKafkaBroker(h.broker):
        await h.service.process([Incoming("routed", good.to_json_bytes()), Incoming("routed", bad.to_json_bytes())])
    assert [s["lead_id"] for s in h.synced] == ["lead-good"] and [d["lead_id"] for d in h.dead] == ["lead-bad"]
    assert len(h.fake.writes("Lead")) == 1 and len(h.fake.writes("Lead")[0].records) == 2
    assert [lead["Leadflow_Id__c"] for lead in h.fake.table("Lead").values()] == ["lead-good"]
    processed = await h.app.state.repo.already_processed([good.event_id, bad.event_id])
    assert processed == {good.event_id, bad.event_id}, "a dead-lettered event is done, not retried forever"


async def test_dead_letter_carries_status_code_and_original_bytes(h: Harness) -> None:
    h.fake.record_errors["lead-bad"] = [("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
    bad = routed("lead-bad")
    async with TestKafkaBroker(h.broker):
        await h.publish(bad, ROUTED)
        await h.publish(b"{not json", ROUTED)
    assert len(h.dead) == 2
    sf_error, poison = h.dead
    assert sf_error["reason"] == "salesforce:INVALID_CROSS_REFERENCE_KEY" and sf_error["lead_id"] == "lead-bad"
    assert sf_error["detail"]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert sf_error["topic"] == topics.LEADS_ROUTED and sf_error["service"] == "crm-sync"
    assert base64.b64decode(sf_error["original_base64"]) == bad.to_json_bytes()
    assert poison["reason"] == "invalid_event" and base64.b64decode(poison["original_base64"]) == b"{not json"
    assert h.synced == []


async def test_salesforce_unavailable_keeps_the_batch_unclaimed_then_writes_it_once(h: Harness) -> None:
    h.fake.fail_calls = [SalesforceCallError("retry", 503, "SERVER_UNAVAILABLE", "down")] * 200
    ev = routed("lead-outage", callback_at=T0 + timedelta(hours=3))
    async with TestKafkaBroker(h.broker):
        result = await h.service.process([Incoming("routed", ev.to_json_bytes())])
        assert result.unavailable == 1 and result.published == 0
        assert await h.app.state.repo.already_processed([ev.event_id]) == set()
        assert h.fake.table("Lead") == {}
        h.fake.fail_calls = []
        h.app.state.writer.paused_until = 0.0
        result = await h.service.process([Incoming("routed", ev.to_json_bytes())])
    assert result.unavailable == 0 and result.published == 1
    assert len(h.fake.table("Lead")) == 1 and len(h.fake.table("Task")) == 1


async def test_rate_limit_pauses_without_loss(h: Harness) -> None:
    h.fake.fail_calls = [SalesforceCallError("rate_limited", 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests")] * 3
    events = [routed(f"lead-{i}") for i in range(30)]
    async with TestKafkaBroker(h.broker):
        result = await h.service.process([Incoming("routed", e.to_json_bytes()) for e in events])
    assert result.unavailable == 0 and result.published == 30
    assert len(h.fake.table("Lead")) == 30
    assert h.app.state.writer.stats.rate_limited == 3
    assert len(h.fake.writes("Lead")) == 4, "3 refused calls + 1 call for 30 leads, no spinning"


async def test_handler_rewinds_and_pauses_the_consumer_when_salesforce_is_down(h: Harness) -> None:
    h.fake.fail_calls = [SalesforceCallError("rate_limited", 403, "REQUEST_LIMIT_EXCEEDED", "limit")] * 500
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-held"), ROUTED)
    assert h.synced == [] and h.dead == []
    (runtime,) = h.app.state.consumers
    assert runtime.waits == 1, "the batch waits (partitions paused, rewound), not dead-lettered, not committed"
    assert h.app.state.writer.paused_for() > 0 and h.app.state.writer.pause_reason.startswith("REQUEST_LIMIT")
    assert await h.app.state.repo.already_processed([routed("lead-held").event_id]) == set()
    runtime.resume()


async def test_below_the_api_reserve_cosmetic_updates_wait_and_new_leads_do_not(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-1"), ROUTED)
        h.fake.usage_value = ApiUsage(used=99_900, total=100_000)
        await h.publish(routed("lead-1", score=91.0, occurred_at=T0 + timedelta(minutes=5)), ROUTED)  # cosmetic
        await h.publish(routed("lead-2"), ROUTED)  # new lead: critical
    assert [w.records[0]["Leadflow_Id__c"] for w in h.fake.writes("Lead")] == ["lead-1", "lead-2"]
    assert h.fake.table("Lead")[h.synced[0]["salesforce_id"]]["Score__c"] == 72.0
    assert await h.app.state.repo.count_deferred() == 1
    assert await h.service.drain_deferred() == 0, "still below the reserve"
    h.fake.usage_value = ApiUsage(used=1_000, total=100_000)
    async with TestKafkaBroker(h.broker):
        assert await h.service.drain_deferred() == 1
    assert h.fake.table("Lead")[h.synced[0]["salesforce_id"]]["Score__c"] == 91.0
    assert await h.app.state.repo.count_deferred() == 0
    assert h.synced[-1]["operation"] == "updated" and h.synced[-1]["lead_id"] == "lead-1"


async def test_many_leads_in_one_batch_cost_one_call_per_200(h: Harness) -> None:
    events = [routed(f"burst-{i}") for i in range(600)]
    async with TestKafkaBroker(h.broker):
        await h.service.process([Incoming("routed", e.to_json_bytes()) for e in events])
    assert [len(w.records) for w in h.fake.writes()] == [200] * 3
    assert len(h.fake.calls) == 3


async def test_fake_defaults_keep_the_fake_honest() -> None:
    fake = FakeSalesforce()
    (res,) = await fake.save(
        "upsert", "Lead", "Leadflow_Id__c", [{"attributes": {"type": "Lead"}, "Leadflow_Id__c": "x", "LastName": "L"}]
    )
    assert res["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"


async def test_a_database_failure_rewinds_instead_of_committing(h: Harness) -> None:
    from sqlalchemy.exc import OperationalError

    real_commit = h.app.state.repo.commit

    async def broken(*_a: object, **_k: object) -> None:
        raise OperationalError("COMMIT", {}, ConnectionError("database is gone"))

    h.app.state.repo.commit = broken
    ev = routed("lead-crash")
    async with TestKafkaBroker(h.broker):
        # An infrastructure error: the runtime backs off and re-raises (the ack policy rewinds the batch);
        # TestKafkaBroker re-raises a handler's exception into publish().
        with pytest.raises(OperationalError):
            await h.publish(ev, ROUTED)
    assert await h.app.state.repo.already_processed([ev.event_id]) == set(), "not claimed: it will be redelivered"
    assert h.synced and h.synced[0]["lead_id"] == "lead-crash", "published before the failed commit (at least once)"
    assert h.dead == [], "an infrastructure failure never dead-letters"
    h.app.state.repo.commit = real_commit
    async with TestKafkaBroker(h.broker):
        await h.publish(ev, ROUTED)  # the redelivery
    assert await h.app.state.repo.already_processed([ev.event_id]) == {ev.event_id}
    assert len(h.fake.writes("Lead")) == 2 and len(h.fake.table("Lead")) == 1, "written twice, one record"


async def test_a_bug_that_fails_one_lead_twice_dead_letters_it_and_the_rest_is_synced(h: Harness) -> None:
    from leadflow_platform.kafka_io import RawRecord

    real_process = h.service.process

    async def process(records: list[Incoming], backlog: int = 0) -> object:
        if any(r.event is not None and r.event.lead_id == "lead-bug" for r in records):
            raise KeyError("team 'Ghost' has no calendar")
        return await real_process(records, backlog=backlog)

    h.service.process = process
    (runtime,) = h.app.state.consumers
    topic = h.settings.topic(ROUTED)
    leads = ["lead-a", "lead-bug", "lead-b"]
    records = [RawRecord(lead.encode(), routed(lead).to_json_bytes(), topic, 0, i) for i, lead in enumerate(leads)]
    async with TestKafkaBroker(h.broker):
        await runtime.handle(records)
    assert sorted(s["lead_id"] for s in h.synced) == ["lead-a", "lead-b"]
    (letter,) = h.dead
    assert (letter["lead_id"], letter["reason"]) == ("lead-bug", "processing_error")
    assert "KeyError" in letter["message"] and base64.b64decode(letter["original_base64"]) == records[1].value


async def test_deferred_writes_probe_the_budget_when_nothing_else_calls_salesforce(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-1"), ROUTED)
        h.fake.usage_value = ApiUsage(used=99_900, total=100_000)
        await h.publish(routed("lead-1", score=91.0, occurred_at=T0 + timedelta(minutes=5)), ROUTED)
        assert await h.app.state.repo.count_deferred() == 1
        h.fake.org_usage = ApiUsage(used=99_950, total=100_000)  # still low when probed
        assert await h.service.drain_deferred() == 0
        assert await h.service.drain_deferred() == 0
        assert sum(1 for c in h.fake.calls if c.operation == "limits") == 1, "one probe per probe interval"
        h.fake.org_usage = ApiUsage(used=100, total=100_000)  # the daily window moved on
        h.service._last_probe = None  # the probe interval has passed
        assert await h.service.drain_deferred() == 1
    assert sum(1 for c in h.fake.calls if c.operation == "limits") == 2
    assert h.fake.table("Lead")[h.synced[0]["salesforce_id"]]["Score__c"] == 91.0
