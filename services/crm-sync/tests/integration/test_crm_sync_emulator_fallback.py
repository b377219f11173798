"""Field-level fallback end to end: real broker, the emulator over HTTPS refusing values and single records."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_crm_sync.app import create_app
from leadflow_crm_sync.settings import CrmSyncSettings
from leadflow_crm_sync.testing import routed
from leadflow_platform.testing.fixtures import TopicNamespace, wait_for
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator
from simple_salesforce import Salesforce

pytestmark = pytest.mark.integration

SELLER = "005FX0000000008YAA"
NOW = datetime.now(UTC).replace(microsecond=0)
NOTE = "Leadflow_Dropped_Fields__c"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        handle.seed("demo")
        yield handle


@pytest.fixture(scope="module")
async def stack(
    kafka_bootstrap: str, emu: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create()
    db = Path(tmp_path_factory.mktemp("crmsync-fb")) / "crm-sync.db"
    settings = CrmSyncSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=ns.prefix,
        database_url=f"sqlite+aiosqlite:///{db}",
        salesforce=emu.salesforce_settings(timeout=5.0),
        retry_base_seconds=0.2,
        retry_cap_seconds=1.0,
        hold_seconds=5.0,
        consumer_group=f"crm-sync-fb-{ns.prefix}",
    )
    app = create_app(settings)
    out: dict[str, list[dict[str, Any]]] = {"synced": [], "dead": []}
    names = {ns(topics.CRM_SYNCED): "synced", ns(topics.LEADS_DEADLETTER): "dead"}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    async with app.router.lifespan_context(app):
        consumer = AIOKafkaConsumer(
            *names,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            group_id=f"fb-collector-{ns.prefix}",
        )
        await consumer.start()

        async def collect() -> None:
            while True:
                for tp, records in (await consumer.getmany(timeout_ms=100)).items():
                    out[names[tp.topic]].extend(json.loads(r.value) for r in records)

        task = asyncio.create_task(collect())

        async def publish(lead_id: str, **kw: Any) -> None:
            ev = routed(lead_id, owner_id=SELLER, occurred_at=NOW, **kw)
            await producer.send_and_wait(ns(topics.LEADS_ROUTED), ev.to_json_bytes(), key=lead_id.encode())

        yield {"publish": publish, "out": out}
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
    await producer.stop()


async def test_refused_values_cost_the_value_and_unwritable_leads_are_not_in_salesforce(
    stack: dict[str, Any], emu: EmulatorHandle
) -> None:
    sf: Salesforce = connect(emu.salesforce_settings())
    # A validation rule on Phone (per record, inside a 200 response) and a record no value change can save.
    emu.add_fault(
        kind="record",
        path="*/composite/sobjects*",
        record_match={"Leadflow_Id__c": "fb-phone", "Phone": "*"},
        statusCode="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        fields=["Phone"],
        message="Phone: use +CC format",
    )
    emu.add_fault(
        kind="record",
        path="*/composite/sobjects*",
        record_match={"Leadflow_Id__c": "fb-never"},
        statusCode="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        fields=[],
        message="Source closed",
    )
    long_email = "o" * 75 + "@fjord.example"
    cases = {
        "fb-ok": {},
        "fb-unicode": {"email": "jørn@fjord.example"},
        "fb-long": {"email": long_email},
        "fb-phone": {},
        "fb-never": {},
    }
    for lead_id, kw in cases.items():
        await stack["publish"](lead_id, **kw)
    out = stack["out"]
    await wait_for(lambda: len({s["lead_id"] for s in out["synced"]}) >= 4 and out["dead"], timeout=60)

    rows = sf.query(
        "SELECT Leadflow_Id__c, Email, Phone, OwnerId, SLA_Due__c, Leadflow_Dropped_Fields__c "
        "FROM Lead WHERE Leadflow_Id__c LIKE 'fb-%'"
    )["records"]
    leads = {r["Leadflow_Id__c"]: r for r in rows}
    assert set(leads) == {"fb-ok", "fb-unicode", "fb-long", "fb-phone"}
    assert all(r["OwnerId"] == SELLER and r["SLA_Due__c"] for r in rows)
    assert leads["fb-ok"]["Email"] == "kari@fjord.example" and leads["fb-ok"][NOTE] is None
    assert leads["fb-unicode"]["Email"] is None and "jørn@fjord.example" in leads["fb-unicode"][NOTE]
    assert "INVALID_EMAIL_ADDRESS" in leads["fb-unicode"][NOTE]
    assert leads["fb-long"]["Email"] is None and long_email in leads["fb-long"][NOTE]
    assert leads["fb-phone"]["Phone"] is None and leads["fb-phone"]["Email"] == "kari@fjord.example"
    assert "+4791234567" in leads["fb-phone"][NOTE]

    synced = {s["lead_id"]: s for s in out["synced"]}
    assert synced["fb-ok"]["dropped_fields"] == []
    assert [(d["field"], d["reason"]) for d in synced["fb-unicode"]["dropped_fields"]] == [
        ("Email", "INVALID_EMAIL_ADDRESS")
    ]
    assert [(d["field"], d["reason"]) for d in synced["fb-long"]["dropped_fields"]] == [("Email", "STRING_TOO_LONG")]
    assert [(d["field"], d["reason"]) for d in synced["fb-phone"]["dropped_fields"]] == [
        ("Phone", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    ]
    assert "fb-never" not in synced
    (dead,) = out["dead"]
    assert dead["lead_id"] == "fb-never" and dead["not_in_salesforce"] is True
    assert dead["reason"] == "salesforce:FIELD_CUSTOM_VALIDATION_EXCEPTION"
    metrics = emu.control("GET", "faults")["faults"]
    assert {f["record_match"]["Leadflow_Id__c"]: f["fired"] for f in metrics} == {"fb-phone": 1, "fb-never": 1}


async def test_a_backlog_lands_through_bulk_jobs_with_owners_sla_and_callbacks(
    kafka_bootstrap: str, emu: EmulatorHandle, tmp_path: Path
) -> None:
    """Backlog mode over HTTPS: Bulk API 2.0 ingest for the Leads and their callback Tasks."""
    from datetime import timedelta

    from leadflow_crm_sync.service import Incoming

    settings = CrmSyncSettings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/b.db",
        salesforce=emu.salesforce_settings(timeout=10.0),
        bulk_threshold=50,
        bulk_min_records=10,
    )
    app = create_app(settings)
    await app.state.repo.create_tables()
    published: list[Any] = []

    async def publish(outputs: list[Any]) -> None:
        published.extend(ev for _, ev in outputs)

    service = app.state.service
    service.publish = publish
    sf: Salesforce = connect(emu.salesforce_settings())
    emu.control("DELETE", "requests")
    events = [
        routed(
            f"bk-{i}",
            owner_id=SELLER,
            occurred_at=NOW,
            email="jørn@fjord.example" if i == 7 else None,
            callback_at=NOW + timedelta(hours=2) if i % 5 == 0 else None,
        )
        for i in range(60)
    ]
    result = await service.process([Incoming("routed", e.to_json_bytes()) for e in events], backlog=0)
    assert result.published == 60 and result.dead_lettered == 0
    paths = [(r["method"], r["path"].split("/v59.0", 1)[-1]) for r in emu.requests_log(1000)]
    assert sum(1 for m, p in paths if m == "POST" and p == "/jobs/ingest") == 2, paths  # Leads, then Tasks
    rows = sf.query_all(
        "SELECT Leadflow_Id__c, OwnerId, SLA_Due__c, Email, Leadflow_Dropped_Fields__c FROM Lead "
        "WHERE Leadflow_Id__c LIKE 'bk-%'"
    )["records"]
    assert len(rows) == 60 and all(r["OwnerId"] == SELLER and r["SLA_Due__c"] for r in rows)
    by_id = {r["Leadflow_Id__c"]: r for r in rows}
    assert by_id["bk-7"]["Email"] is None and "jørn@fjord.example" in by_id["bk-7"]["Leadflow_Dropped_Fields__c"]
    ids = {
        r["Leadflow_Id__c"]: r
        for r in sf.query_all("SELECT Id, Leadflow_Id__c FROM Lead WHERE Leadflow_Id__c LIKE 'bk-%'")["records"]
    }
    who = {t["WhoId"] for t in sf.query_all("SELECT WhoId FROM Task WHERE Subject = 'Call back'")["records"]}
    assert {ids[f"bk-{i}"]["Id"] for i in range(0, 60, 5)} <= who
    synced = {e.lead_id: e for e in published}
    assert synced["bk-0"].task_id and synced["bk-7"].dropped_fields[0].field == "Email"
    assert app.state.writer.stats.bulk_jobs == 2
    await app.state.engine.dispose()


async def test_shadow_mode_against_the_org_reads_but_never_writes(emu: EmulatorHandle, tmp_path: Path) -> None:
    from datetime import timedelta

    from leadflow_contracts import SlaEventKind
    from leadflow_crm_sync.service import Incoming
    from leadflow_crm_sync.testing import sla_event

    settings = CrmSyncSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/s.db",
        shadow_mode=True,
        salesforce=emu.salesforce_settings(timeout=10.0),
    )
    app = create_app(settings)
    await app.state.repo.create_tables()
    published: list[Any] = []

    async def publish(outputs: list[Any]) -> None:
        published.extend(ev for _, ev in outputs)

    app.state.service.publish = publish
    emu.control("DELETE", "requests")
    before = connect(emu.salesforce_settings()).query("SELECT COUNT() FROM Lead")["totalSize"]
    emu.control("DELETE", "requests")
    lead = routed("sh-1", owner_id=SELLER, occurred_at=NOW, callback_at=NOW + timedelta(hours=1))
    esc = sla_event(
        "sh-1",
        SlaEventKind.ESCALATED,
        owner_id=SELLER,
        step=1,
        action="notify team leader",
        occurred_at=NOW + timedelta(minutes=40),
    )
    await app.state.service.process([Incoming("routed", lead.to_json_bytes())])
    await app.state.service.process([Incoming("sla", esc.to_json_bytes())])
    requests = [(r["method"], r["path"]) for r in emu.requests_log(1000) if r["path"].startswith("/services/")]
    writes = [r for r in requests if r[0] in ("POST", "PATCH", "PUT", "DELETE") and "/Soap/" not in r[1]]
    assert writes == [], "shadow mode wrote to Salesforce"
    assert any("/query" in p for _, p in requests), "the team leader was read from the org"
    assert connect(emu.salesforce_settings()).query("SELECT COUNT() FROM Lead")["totalSize"] == before
    assert [(e.operation.value, e.shadow) for e in published] == [("created", True), ("sla_status", True)]
    assert published[0].task_id and published[1].task_id
    shown = app.state.shadow.status()
    assert shown["writes_not_sent"]["upsert:Lead"] == 1 and shown["writes_not_sent"]["upsert:Task"] == 2
    await app.state.engine.dispose()


def _refused_value(field: dict[str, Any]) -> Any:
    """A value the org refuses for this Lead field (too long, not in a restricted picklist, malformed id…)."""
    if field["type"] == "email":
        return "not an e-mail"
    if field["type"] == "reference":
        return "not-an-id"
    if field["type"] == "picklist" and field.get("restricted"):
        return "Not A Value"
    if field.get("length"):
        return "x" * (field["length"] + 1)
    return None


async def test_every_writable_lead_field_salesforce_refuses_costs_only_that_value(emu: EmulatorHandle) -> None:
    """The class, not the example: each Lead field leadflow writes, refused by the org in turn and all at once."""
    from leadflow_crm_sync.adapters.simple_salesforce_gateway import SimpleSalesforceGateway
    from leadflow_crm_sync.domain.fallback import NOTE_FIELDS
    from leadflow_crm_sync.domain.mapping import lead_fields
    from leadflow_crm_sync.domain.policy import WriteKind, load_policy
    from leadflow_crm_sync.domain.writes import RecordWrite
    from leadflow_crm_sync.writer import BatchWriter, WriterConfig

    schema = json.loads((Path(__file__).parents[3] / "salesforce-emulator" / "schema" / "sobjects.json").read_text())
    lead_schema = {f["name"]: f for f in schema["objects"]["Lead"]["fields"]}
    policy = load_policy(None)
    written = {
        k: v for k, v in lead_fields(routed("sweep", owner_id=SELLER, occurred_at=NOW), policy).items() if v is not None
    }
    refusable = {name: bad for name in written if (bad := _refused_value(lead_schema[name])) is not None}
    assert {"Email", "OwnerId", "LastName", "Company", "Phone", "Language__c", "Grade__c"} <= set(refusable)
    placeholders = {("Lead", "LastName"): "[not provided]", ("Lead", "Company"): "[not provided]"}
    writer = BatchWriter(
        SimpleSalesforceGateway(emu.salesforce_settings(timeout=10.0)),
        WriterConfig(linger_seconds=0.001, placeholders=placeholders),
    )
    sf: Salesforce = connect(emu.salesforce_settings())
    cases = [{name: bad} for name, bad in refusable.items()] + [dict(refusable)]
    writes = [
        RecordWrite("Lead", "upsert", f"sweep-{i}", {**written, **case}, WriteKind.NEW_LEAD, ext_field="Leadflow_Id__c")
        for i, case in enumerate(cases)
    ]
    results = await writer.write(writes)
    assert all(getattr(r, "ok", False) for r in results), results
    for i, case in enumerate(cases):
        rec = sf.query(
            f"SELECT {', '.join(sorted({*written, NOTE_FIELDS['Lead']}))} FROM Lead WHERE Leadflow_Id__c = 'sweep-{i}'"
        )["records"][0]
        dropped = {d.field for d in results[i].dropped}  # type: ignore[union-attr]
        assert dropped == set(case), (case, dropped)
        for name in case:
            assert str(case[name])[:40] in rec[NOTE_FIELDS["Lead"]]
            if ("Lead", name) in placeholders:
                assert rec[name] == "[not provided]"
        kept = [n for n in written if n not in case and n not in ("SLA_Due__c", "Callback_At__c")]
        assert all(rec[n] is not None for n in kept), [n for n in kept if rec[n] is None]


async def test_values_longer_than_their_field_are_cut_to_what_fits_and_kept_whole_for_the_rep(
    stack: dict[str, Any], emu: EmulatorHandle
) -> None:
    """Names, titles and company names as long as intake accepts (1,000 characters), in several scripts: the lead
    is written in one call with the longest start each field stores, and the whole values in the note."""
    from leadflow_contracts.lead import FREE_TEXT_MAX
    from leadflow_crm_sync.domain.fallback import fit

    sf: Salesforce = connect(emu.salesforce_settings())
    values = {
        "first_name": ("Zoë-Ștefania-Ødegård-Παπαδοπούλου-" * 40)[:FREE_TEXT_MAX],
        "last_name": "Ødegård-Wiśniewska 😀 " * 6,
        "job_title": "Head of Digital Transformation, Customer Experience and Operations, EMEA and APAC",
        "company": "株式会社 " + "Nordisk Fjordlogistikk og Havbruk " * 10,
        "city": "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
    }
    values["job_title"] = values["job_title"] * 2
    await stack["publish"]("fb-longvalues", **values)
    out = stack["out"]
    await wait_for(lambda: any(s["lead_id"] == "fb-longvalues" for s in out["synced"]), timeout=60)

    (rec,) = sf.query(
        "SELECT FirstName, LastName, Title, Company, City, Leadflow_Dropped_Fields__c "
        "FROM Lead WHERE Leadflow_Id__c = 'fb-longvalues'"
    )["records"]
    limits = {"FirstName": 40, "LastName": 80, "Title": 128, "Company": 255, "City": 40}
    given = {
        "FirstName": values["first_name"],
        "LastName": values["last_name"].strip(),
        "Title": values["job_title"],
        "Company": values["company"].strip(),
        "City": values["city"],
    }
    for field, limit in limits.items():
        assert rec[field] == fit(given[field], limit), field
        assert rec[field] and given[field].startswith(rec[field])
        assert given[field] in rec[NOTE], field  # the whole value, for the rep
    synced = next(s for s in out["synced"] if s["lead_id"] == "fb-longvalues")
    assert synced["operation"] == "created"
    assert {d["field"] for d in synced["dropped_fields"]} == set(limits)
    assert all(d["reason"] == "STRING_TOO_LONG" and d["cut"] for d in synced["dropped_fields"])
    assert not any(given["Title"] in d["message"] for d in synced["dropped_fields"])  # no value in the event
    assert "fb-longvalues" not in {d["lead_id"] for d in out["dead"]}
