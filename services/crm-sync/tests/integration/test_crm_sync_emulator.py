"""crm-sync over the real embedded broker and the Salesforce emulator over HTTPS (demo org).

One app (one consumer group) for the module, fresh lead ids per test: the group's first assignment
(~5 s) is paid once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from leadflow_contracts import DuplicateOf, Event, topics
from leadflow_crm_sync.app import create_app
from leadflow_crm_sync.settings import CrmSyncSettings
from leadflow_crm_sync.testing import lead_change, routed
from leadflow_platform.testing.fixtures import TopicNamespace, wait_for
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator
from simple_salesforce import Salesforce

pytestmark = pytest.mark.integration

SELLER = "005FX0000000008YAA"  # Nordics seller in the demo org
TEAM_LEADER = "005FX0000000007YAA"  # Nordics team leader
KAM = "005FX0000000002YAA"  # owner of key account 001FX0000000001YAA
KEY_ACCOUNT = "001FX0000000001YAA"
NORDICS_QUEUE = "00GFX00000000012AA"
NOW = datetime.now(UTC).replace(microsecond=0)


class Collector:
    """Reads crm.synced and leads.deadletter from the beginning, in the background."""

    def __init__(self, bootstrap: str, ns: TopicNamespace) -> None:
        self.bootstrap = bootstrap
        self.topics = {ns(topics.CRM_SYNCED): "synced", ns(topics.LEADS_DEADLETTER): "dead"}
        self.synced: list[dict[str, Any]] = []
        self.dead: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        tps = []
        for topic in self.topics:
            for _ in range(50):
                parts = consumer.partitions_for_topic(topic)
                if parts:
                    break
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
            tps += [TopicPartition(topic, p) for p in sorted(parts or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)

        async def run() -> None:
            try:
                while True:
                    batch = await consumer.getmany(timeout_ms=100)
                    for tp, records in batch.items():
                        target = self.synced if self.topics[tp.topic] == "synced" else self.dead
                        target.extend(json.loads(r.value) for r in records)
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def synced_for(self, lead_id: str) -> list[dict[str, Any]]:
        return [s for s in self.synced if s["lead_id"] == lead_id]

    def dead_for(self, lead_id: str) -> list[dict[str, Any]]:
        return [d for d in self.dead if d["lead_id"] == lead_id]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        handle.seed("demo")
        handle.configure(dailyApiLimit=1_000_000, apiUsage=0)
        yield handle


@pytest.fixture(scope="module")
def sf(emu: EmulatorHandle) -> Salesforce:
    return connect(emu.salesforce_settings())


@pytest.fixture(scope="module")
async def stack(
    kafka_bootstrap: str, emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create()
    db = Path(tmp_path_factory.mktemp("crmsync")) / "crm-sync.db"
    settings = CrmSyncSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=ns.prefix,
        database_url=f"sqlite+aiosqlite:///{db}",
        salesforce=emu.salesforce_settings(timeout=5.0),
        retry_base_seconds=0.2,
        retry_cap_seconds=1.0,
        rate_limit_base_seconds=0.5,
        rate_limit_cap_seconds=1.5,
        hold_seconds=2.0,
        deferred_interval_seconds=1.0,
        budget_probe_seconds=1.0,
        consumer_group=f"crm-sync-it-{ns.prefix}",
    )
    app = create_app(settings)
    collector = Collector(kafka_bootstrap, ns)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    async with app.router.lifespan_context(app):
        await collector.start()

        async def publish(event: Event | bytes, topic: str, key: str = "k") -> None:
            body = event if isinstance(event, bytes) else event.to_json_bytes()
            await producer.send_and_wait(ns(topic), body, key=key.encode())

        yield {"app": app, "ns": ns, "publish": publish, "collector": collector, "settings": settings}
        await collector.stop()
    await producer.stop()


@pytest.fixture
def stackf(stack: dict[str, Any], emu: EmulatorHandle) -> Iterator[dict[str, Any]]:
    emu.clear_faults()
    yield stack
    emu.clear_faults()


def lead_by_ext(sf: Salesforce, ext: str) -> dict[str, Any]:
    fields = (
        "Id, OwnerId, Status, LeadSource, Rating, Score__c, Grade__c, SLA_Due__c, SLA_Status__c, Client_Type__c, "
        "Matched_Account__c, DoNotCall, HasOptedOutOfEmail, LastName, Company, Routing_Reason__c, "
        "SystemModstamp, IsConverted"
    )
    rows = sf.query(f"SELECT {fields} FROM Lead WHERE Leadflow_Id__c = '{ext}'")["records"]
    assert len(rows) == 1, rows
    return rows[0]


async def synced(col: Collector, lead_id: str, n: int = 1, timeout: float = 40.0) -> list[dict[str, Any]]:
    await wait_for(lambda: len(col.synced_for(lead_id)) >= n, timeout=timeout)
    return col.synced_for(lead_id)


async def test_upsert_writes_owner_sla_due_score_and_consent(stackf: dict[str, Any], sf: Salesforce) -> None:
    ev = routed("it-upsert", owner_id=SELLER, occurred_at=NOW, do_not_call=True, account_id=KEY_ACCOUNT, company=None)
    queue_ev = routed("it-queue", owner_id=NORDICS_QUEUE, owner_type="queue", occurred_at=NOW)
    await stackf["publish"](ev, topics.LEADS_ROUTED, "it-upsert")
    await stackf["publish"](queue_ev, topics.LEADS_ROUTED, "it-queue")
    (s,) = await synced(stackf["collector"], "it-upsert")
    lead = lead_by_ext(sf, "it-upsert")
    assert s["salesforce_id"] == lead["Id"] and s["operation"] == "created" and s["owner_id"] == SELLER
    assert lead["OwnerId"] == SELLER and lead["Status"] == "Open - Not Contacted"
    assert lead["SLA_Due__c"] == (NOW + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    assert lead["SLA_Status__c"] == "On Track" and lead["Score__c"] == 72.0 and lead["Grade__c"] == "A"
    assert lead["Rating"] == "Hot" and lead["LeadSource"] == "Web" and lead["Matched_Account__c"] == KEY_ACCOUNT
    assert lead["DoNotCall"] is True and lead["HasOptedOutOfEmail"] is False
    assert lead["Company"] == "[not provided]"
    await synced(stackf["collector"], "it-queue")
    assert lead_by_ext(sf, "it-queue")["OwnerId"] == NORDICS_QUEUE


async def test_duplicate_updates_the_existing_record(stackf: dict[str, Any], sf: Salesforce) -> None:
    existing = sf.Lead.create(
        {
            "LastName": "Berg",
            "Company": "Nord Foods AS",
            "Email": "ingrid@nordfoods.example",
            "Status": "Working - Contacted",
        }
    )["id"]
    owner = sf.Lead.get(existing)["OwnerId"]
    assert owner != SELLER
    ev = routed(
        "it-dup",
        owner_id=SELLER,  # whatever route said, a duplicate never moves the record (issue 12)
        occurred_at=NOW,
        email="ingrid@nordfoods.example",
        duplicate_of=DuplicateOf(object="Lead", record_id=existing, matched_on="email"),
    )
    await stackf["publish"](ev, topics.LEADS_ROUTED, "it-dup")
    (s,) = await synced(stackf["collector"], "it-dup")
    assert s["salesforce_id"] == existing and s["operation"] == "updated"
    rows = sf.query("SELECT Id, OwnerId, Status, Score__c FROM Lead WHERE Email = 'ingrid@nordfoods.example'")
    assert rows["totalSize"] == 1
    (rec,) = rows["records"]
    assert rec["OwnerId"] == owner and rec["Score__c"] == 72.0 and rec["Status"] == "Working - Contacted"
    # the repeat inquiry reaches the rep as an open follow-up Task on the Lead (a Lead WhoId takes no WhatId)
    (task,) = sf.query(f"SELECT Id, Subject, OwnerId, WhatId, Status FROM Task WHERE WhoId = '{existing}'")["records"]
    assert (task["Subject"], task["WhatId"], task["OwnerId"]) == ("Follow up: new inquiry", None, SELLER)
    assert task["Status"] != "Completed" and s["task_id"] == task["Id"]


@pytest.mark.parametrize("second_first", [False, True], ids=["first-written-first", "repeat-written-first"])
async def test_the_same_person_in_flight_is_one_lead_whichever_write_lands_first(
    stackf: dict[str, Any], sf: Salesforce, second_first: bool
) -> None:
    first_id, again_id = f"it-inflight-a-{second_first}", f"it-inflight-b-{second_first}"
    email = f"siri{int(second_first)}@bolgen.example"
    first = routed(first_id, owner_id=SELLER, occurred_at=NOW, email=email, score=55.0)
    again = routed(
        again_id,
        owner_id=TEAM_LEADER,
        occurred_at=NOW,
        email=email,
        score=81.0,
        duplicate_of=DuplicateOf(object="Lead", record_id=first_id, matched_on="email", leadflow_id=first_id),
    )
    for ev in (again, first) if second_first else (first, again):
        await stackf["publish"](ev, topics.LEADS_ROUTED, ev.lead_id)
        await synced(stackf["collector"], ev.lead_id)
    rows = sf.query(
        f"SELECT Id, Leadflow_Id__c, Status, SLA_Status__c, Score__c, OwnerId FROM Lead WHERE Email = '{email}'"
    )
    assert rows["totalSize"] == 1, rows["records"]
    (rec,) = rows["records"]
    assert rec["Leadflow_Id__c"] == first_id
    assert rec["Status"] == "Open - Not Contacted" and rec["SLA_Status__c"] == "On Track"
    assert rec["Score__c"] == (55.0 if second_first else 81.0)  # the later write wins
    assert rec["OwnerId"] == SELLER  # the person stays with the rep who got them first
    ids = {s["salesforce_id"] for lid in (first_id, again_id) for s in stackf["collector"].synced_for(lid)}
    assert ids == {rec["Id"]}


async def test_callback_task_created_once_and_a_replay_writes_nothing(
    stackf: dict[str, Any], sf: Salesforce, emu: EmulatorHandle
) -> None:
    cb = NOW + timedelta(hours=3)
    ev = routed("it-callback", owner_id=SELLER, occurred_at=NOW, callback_at=cb)
    await stackf["publish"](ev, topics.LEADS_ROUTED, "it-callback")
    (s,) = await synced(stackf["collector"], "it-callback")
    lead = lead_by_ext(sf, "it-callback")
    tasks = sf.query(
        f"SELECT Id, Subject, OwnerId, ActivityDate, ReminderDateTime, IsReminderSet FROM Task "
        f"WHERE WhoId = '{lead['Id']}'"
    )["records"]
    assert len(tasks) == 1 and s["task_id"] == tasks[0]["Id"]
    t = tasks[0]
    assert t["Subject"] == "Call back" and t["OwnerId"] == SELLER and t["IsReminderSet"] is True
    assert t["ReminderDateTime"] == cb.strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    log_before = len(emu.requests_log(10_000))
    await stackf["publish"](ev, topics.LEADS_ROUTED, "it-callback")  # redelivered
    await stackf["publish"](
        routed("it-callback", owner_id=SELLER, occurred_at=NOW, callback_at=cb, event_id="it-callback-replayed"),
        topics.LEADS_ROUTED,
        "it-callback",
    )
    synced_all = await synced(stackf["collector"], "it-callback", n=2)
    assert synced_all[1]["operation"] == "unchanged" and synced_all[1]["task_id"] == t["Id"]
    writes = [
        r
        for r in emu.requests_log(10_000)[log_before:]
        if r["method"] in ("PATCH", "POST", "DELETE")
        and "/__emulator__/" not in r["path"]
        and "/Soap/" not in r["path"]
    ]
    assert writes == [], "a replay must not write to Salesforce"
    after = lead_by_ext(sf, "it-callback")
    assert after["SystemModstamp"] == lead["SystemModstamp"]
    assert sf.query(f"SELECT COUNT() FROM Task WHERE WhoId = '{lead['Id']}'")["totalSize"] == 1


async def test_a_refused_owner_costs_the_owner_not_the_lead(stackf: dict[str, Any], sf: Salesforce) -> None:
    bad = routed("it-bad-owner", owner_id="005000000000000AAA", occurred_at=NOW)
    good = routed("it-good-owner", owner_id=SELLER, occurred_at=NOW)
    await stackf["publish"](bad, topics.LEADS_ROUTED, "it-bad-owner")
    await stackf["publish"](good, topics.LEADS_ROUTED, "it-good-owner")
    await synced(stackf["collector"], "it-good-owner")
    col: Collector = stackf["collector"]
    (s,) = await synced(col, "it-bad-owner")
    assert [(d["field"], d["reason"]) for d in s["dropped_fields"]] == [("OwnerId", "INVALID_CROSS_REFERENCE_KEY")]
    assert s["owner_id"] is None, "the refused owner is not reported as the owner"
    rows = sf.query("SELECT OwnerId, Leadflow_Dropped_Fields__c FROM Lead WHERE Leadflow_Id__c = 'it-bad-owner'")
    (rec,) = rows["records"]
    assert rec["OwnerId"] != "005000000000000AAA" and "005000000000000AAA" in rec["Leadflow_Dropped_Fields__c"]
    assert col.dead_for("it-bad-owner") == []


async def test_503_outage_loses_nothing_and_duplicates_nothing(
    stackf: dict[str, Any], sf: Salesforce, emu: EmulatorHandle
) -> None:
    emu.add_fault(kind="status", status=503, path="/services/data/*", window_seconds=4)
    ids = [f"it-outage-{i}" for i in range(40)]
    for lid in ids:
        await stackf["publish"](routed(lid, owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED, lid)
    col: Collector = stackf["collector"]
    await wait_for(lambda: all(col.synced_for(lid) for lid in ids), timeout=60)
    assert sf.query("SELECT COUNT() FROM Lead WHERE Leadflow_Id__c LIKE 'it-outage-%'")["totalSize"] == 40
    assert all(len({s["salesforce_id"] for s in col.synced_for(lid)}) == 1 for lid in ids)
    assert not [d for d in col.dead if d["lead_id"].startswith("it-outage-")]
    assert any(r["status"] == 503 for r in emu.requests_log(10_000)), "the outage happened"


async def test_request_limit_exceeded_pauses_and_loses_nothing(
    stackf: dict[str, Any], sf: Salesforce, emu: EmulatorHandle
) -> None:
    app = stackf["app"]
    waits_before = sum(c.waits for c in app.state.consumers)
    emu.add_fault(kind="REQUEST_LIMIT_EXCEEDED", path="/services/data/*", window_seconds=4)
    ids = [f"it-limit-{i}" for i in range(30)]
    for lid in ids:
        await stackf["publish"](routed(lid, owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED, lid)
    col: Collector = stackf["collector"]
    await wait_for(lambda: all(col.synced_for(lid) for lid in ids), timeout=60)
    assert sf.query("SELECT COUNT() FROM Lead WHERE Leadflow_Id__c LIKE 'it-limit-%'")["totalSize"] == 30
    refused = [r for r in emu.requests_log(10_000) if r["status"] == 403]
    assert 1 <= len(refused) <= 15, f"paused with backoff instead of spinning ({len(refused)} refused calls)"
    assert sum(c.waits for c in app.state.consumers) > waits_before, "the consumer was paused and the batch rewound"
    assert not any(c.status()["waiting"] for c in app.state.consumers), "resumed once Salesforce took the writes"
    assert app.state.writer.stats.rate_limited >= 1


async def test_unable_to_lock_row_is_retried(stackf: dict[str, Any], sf: Salesforce, emu: EmulatorHandle) -> None:
    emu.add_fault(kind="UNABLE_TO_LOCK_ROW", path="*/composite/sobjects/Lead/*", times=1)
    await stackf["publish"](routed("it-lock", owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED, "it-lock")
    (s,) = await synced(stackf["collector"], "it-lock")
    assert s["salesforce_id"] == lead_by_ext(sf, "it-lock")["Id"]


async def test_a_timed_out_write_that_landed_anyway_is_not_duplicated(
    stackf: dict[str, Any], sf: Salesforce, emu: EmulatorHandle
) -> None:
    # The emulator answers the first call after 6 s (the client gives up at 5 s) but still applies it:
    # the retry and the late write meet on the external id.
    emu.add_fault(kind="latency", latency_ms=6000, path="*/composite/sobjects/Lead/*", times=1)
    await stackf["publish"](routed("it-timeout", owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED)
    (s,) = await synced(stackf["collector"], "it-timeout")
    await asyncio.sleep(1.5)  # let the late first call finish
    assert sf.query("SELECT COUNT() FROM Lead WHERE Leadflow_Id__c = 'it-timeout'")["totalSize"] == 1
    assert s["salesforce_id"] == lead_by_ext(sf, "it-timeout")["Id"]
    assert stackf["app"].state.writer.stats.failed_calls >= 1


async def test_below_the_api_reserve_new_leads_go_through_and_cosmetic_updates_wait(
    stackf: dict[str, Any], sf: Salesforce, emu: EmulatorHandle
) -> None:
    app = stackf["app"]
    emu.configure(dailyApiLimit=100_000, apiUsage=99_700)  # 300 left; the reserve is 5 % = 5,000
    try:
        await stackf["publish"](routed("it-budget", owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED, "it-budget")
        (created,) = await synced(stackf["collector"], "it-budget")
        assert created["operation"] == "created", "a new lead is critical"
        usage = app.state.gateway.usage()
        assert usage is not None and usage.remaining < 300, "read from Sforce-Limit-Info"
        cosmetic = routed("it-budget", owner_id=SELLER, occurred_at=NOW + timedelta(minutes=1), score=91.0)
        await stackf["publish"](cosmetic, topics.LEADS_ROUTED, "it-budget")
        await wait_for(lambda: app.state.repo.count_deferred(), timeout=30)
        assert lead_by_ext(sf, "it-budget")["Score__c"] == 72.0
    finally:
        emu.configure(apiUsage=0)  # the day rolls over: the drain's /limits probe sees it
    out = await synced(stackf["collector"], "it-budget", n=2)
    assert out[1]["operation"] == "updated" and out[1]["source_event_id"] == cosmetic.event_id
    assert lead_by_ext(sf, "it-budget")["Score__c"] == 91.0
    assert app.state.gateway.usage().remaining > 90_000
    assert any(r["path"].endswith("/limits/") or r["path"].endswith("/limits") for r in emu.requests_log(10_000))


async def test_revoked_session_logs_in_again(stackf: dict[str, Any], sf: Salesforce, emu: EmulatorHandle) -> None:
    await stackf["publish"](routed("it-session-1", owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED)
    await synced(stackf["collector"], "it-session-1")
    before = len(emu.requests_log(10_000))
    assert emu.revoke_sessions() >= 1
    await stackf["publish"](routed("it-session-2", owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED)
    await synced(stackf["collector"], "it-session-2")
    lead_by_ext(sf, "it-session-2")  # the test's own client logs in again too
    log = emu.requests_log(10_000)[before:]
    statuses = [(r["method"], r["path"].split("/")[-1], r["status"]) for r in log]
    assert any(st == 401 for _, _, st in statuses), statuses
    first_401 = next(i for i, r in enumerate(log) if r["status"] == 401)
    assert any(r["path"].startswith("/services/Soap/u/") and r["status"] == 200 for r in log[first_401:]), (
        "simple-salesforce logged in again"
    )


async def test_sla_breach_and_escalation_reach_the_lead_and_the_team_leader(
    stackf: dict[str, Any], sf: Salesforce
) -> None:
    from leadflow_contracts import SlaEventKind
    from leadflow_crm_sync.testing import sla_event

    await stackf["publish"](routed("it-sla", owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED, "it-sla")
    await synced(stackf["collector"], "it-sla")
    breached = sla_event("it-sla", SlaEventKind.BREACHED, owner_id=SELLER)
    await stackf["publish"](breached, topics.SLA_EVENTS, "it-sla")
    await stackf["publish"](
        sla_event("it-sla", SlaEventKind.ESCALATED, owner_id=SELLER, step=1, action="notify_team_leader"),
        topics.SLA_EVENTS,
        "it-sla",
    )
    out = await synced(stackf["collector"], "it-sla", n=3)
    assert [s["operation"] for s in out] == ["created", "sla_status", "sla_status"]
    lead = lead_by_ext(sf, "it-sla")
    assert lead["SLA_Status__c"] == "Breached"
    (task,) = sf.query(f"SELECT Id, OwnerId, Subject FROM Task WHERE WhoId = '{lead['Id']}'")["records"]
    assert task["OwnerId"] == TEAM_LEADER and "notify_team_leader" in task["Subject"]
    assert out[2]["task_id"] == task["Id"]


async def test_conversion_creates_account_contact_opportunity_once(stackf: dict[str, Any], sf: Salesforce) -> None:
    ev = routed(
        "it-convert",
        owner_id=SELLER,
        occurred_at=NOW,
        account_id=KEY_ACCOUNT,
        account_owner_id=KAM,
        key_account=True,
        company="Fjord Logistics AS",
        campaign="nordic-spring",
    )
    await stackf["publish"](ev, topics.LEADS_ROUTED, "it-convert")
    (s,) = await synced(stackf["collector"], "it-convert")
    lead_id = s["salesforce_id"]
    opps_before = sf.query(f"SELECT COUNT() FROM Opportunity WHERE AccountId = '{KEY_ACCOUNT}'")["totalSize"]
    await stackf["publish"](lead_change("it-convert", lead_id, changed_by=SELLER), topics.CRM_CHANGES, "it-convert")
    out = await synced(stackf["collector"], "it-convert", n=2)
    conv = out[1]
    assert conv["operation"] == "converted" and conv["account_id"] == KEY_ACCOUNT
    assert conv["opportunity_id"] and conv["contact_id"] and conv["owner_id"] == KAM
    opp = sf.Opportunity.get(conv["opportunity_id"])
    assert opp["OwnerId"] == KAM and opp["AccountId"] == KEY_ACCOUNT and opp["StageName"] == "Qualification"
    assert opp["Name"] == "Fjord Logistics AS - nordic-spring" and opp["LeadSource"] == "Web"
    assert sf.Contact.get(conv["contact_id"])["AccountId"] == KEY_ACCOUNT
    assert lead_by_ext(sf, "it-convert")["IsConverted"] is True

    # The same qualification seen again (a second change event): nothing more happens.
    again = lead_change("it-convert", lead_id, changed_by=SELLER)
    await stackf["publish"](again, topics.CRM_CHANGES, "it-convert")
    await stackf["publish"](
        routed("it-convert-marker", owner_id=SELLER, occurred_at=NOW), topics.LEADS_ROUTED, "it-convert"
    )  # same partition key: processed after `again`
    await synced(stackf["collector"], "it-convert-marker")
    await asyncio.sleep(1.0)
    assert len(stackf["collector"].synced_for("it-convert")) == 2
    opps_after = sf.query(f"SELECT COUNT() FROM Opportunity WHERE AccountId = '{KEY_ACCOUNT}'")["totalSize"]
    assert opps_after == opps_before + 1


async def test_conversion_without_a_matched_account_creates_one_account_contact_and_opportunity(
    stackf: dict[str, Any], sf: Salesforce
) -> None:
    ev = routed(
        "it-convert-new",
        owner_id=SELLER,
        occurred_at=NOW,
        company="Brand New Robotics AS",
        email="ola@brandnew.example",
    )
    await stackf["publish"](ev, topics.LEADS_ROUTED, "it-convert-new")
    (s,) = await synced(stackf["collector"], "it-convert-new")
    for _ in range(2):  # the qualification seen twice
        await stackf["publish"](
            lead_change("it-convert-new", s["salesforce_id"], changed_by=SELLER), topics.CRM_CHANGES, "it-convert-new"
        )
    out = await synced(stackf["collector"], "it-convert-new", n=2)
    conv = out[1]
    assert conv["operation"] == "converted" and conv["owner_id"] == SELLER
    accounts = sf.query("SELECT Id, OwnerId FROM Account WHERE Name = 'Brand New Robotics AS'")["records"]
    assert [a["Id"] for a in accounts] == [conv["account_id"]] and accounts[0]["OwnerId"] == SELLER
    contacts = sf.query("SELECT Id, AccountId FROM Contact WHERE Email = 'ola@brandnew.example'")["records"]
    assert [c["Id"] for c in contacts] == [conv["contact_id"]]
    opps = sf.query(f"SELECT Id, Type FROM Opportunity WHERE AccountId = '{conv['account_id']}'")["records"]
    assert [o["Id"] for o in opps] == [conv["opportunity_id"]] and opps[0]["Type"] == "New Customer"
    await asyncio.sleep(1.0)
    assert len(stackf["collector"].synced_for("it-convert-new")) == 2
