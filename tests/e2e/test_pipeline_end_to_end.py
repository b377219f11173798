"""The whole qualification pipeline over the real embedded broker and the Salesforce emulator (HTTPS):
intake → enrich → score → route → crm-sync (+ sla-monitor), each service built by its own create_app
exactly as `make run` starts it, in one process, on its own topic namespace.

Leads go in as raw bytes on leads.inbound; the test then reads Salesforce through the unmodified
simple-salesforce client, as a telesales rep would find the leads in their queues.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import topics
from leadflow_platform.settings import DemoClockSettings
from leadflow_platform.testing.fixtures import TopicNamespace, consume, running_apps, wait_for
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle

pytestmark = pytest.mark.e2e

KAM_OF_ALPEN = "005FX0000000002YAA"  # owner of key account "Alpen Retail AS" in the demo org
# Routing looks at who is on shift now: route and sla-monitor run on a clock that starts on a working Tuesday
# morning (a future one, so no SLA clock is already overdue), so the result never depends on when CI runs.
WORKING_MORNING = DemoClockSettings(start=datetime(2030, 1, 8, 9, 30, tzinfo=UTC))


def _lead(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "lead_id": f"e2e-{uuid.uuid4().hex[:12]}",
        "occurred_at": now.isoformat(),
        "source": {"system": "e2e-webform", "campaign": {"utm_campaign": "e2e"}},
        "lead_source": "web_form",
        "consent": {"may_call": True, "may_email": True},
        "engagement": {"page_views": 12, "visits": 3, "time_on_site_seconds": 600, "content_downloads": 1},
    }
    base.update(overrides)
    return base


@pytest.fixture(scope="module")
async def system(kafka_bootstrap: str, salesforce_emulator: EmulatorHandle, tmp_path_factory) -> AsyncIterator[Any]:
    from leadflow_crm_sync.app import create_app as crm_sync_app
    from leadflow_crm_sync.settings import CrmSyncSettings
    from leadflow_enrich.app import create_app as enrich_app
    from leadflow_enrich.settings import EnrichSettings
    from leadflow_intake.app import create_app as intake_app
    from leadflow_intake.settings import IntakeSettings
    from leadflow_route.app import create_app as route_app
    from leadflow_route.settings import RouteSettings
    from leadflow_score.app import create_app as score_app
    from leadflow_score.settings import ScoreSettings
    from leadflow_sla_monitor.app import create_app as sla_app
    from leadflow_sla_monitor.settings import SlaSettings

    emu = salesforce_emulator
    emu.reset()
    emu.seed("demo")
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create()
    tmp = Path(tmp_path_factory.mktemp("e2e"))
    sf_settings = emu.salesforce_settings(timeout=15.0)

    def common(name: str) -> dict[str, Any]:
        return {
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": ns.prefix,
            "database_url": f"sqlite+aiosqlite:///{tmp / name}.db",
        }

    apps = [
        intake_app(IntakeSettings(**common("intake"), consumer_group=f"intake-{ns.prefix}")),
        enrich_app(EnrichSettings(**common("enrich"), salesforce=sf_settings)),
        score_app(ScoreSettings(**common("score"))),
        route_app(
            RouteSettings(
                **common("route"),
                salesforce=sf_settings,
                consumer_group=f"route-{ns.prefix}",
                demo_clock=WORKING_MORNING,
            )
        ),
        crm_sync_app(
            CrmSyncSettings(**common("crm-sync"), salesforce=sf_settings, consumer_group=f"crm-sync-{ns.prefix}")
        ),
        sla_app(SlaSettings(**common("sla"), consumer_group=f"sla-{ns.prefix}", demo_clock=WORKING_MORNING)),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    async with running_apps(apps):

        async def publish(value: bytes, key: bytes) -> None:
            await producer.send_and_wait(ns(topics.LEADS_INBOUND), value, key=key)

        yield {"ns": ns, "publish": publish, "sf": connect(sf_settings), "emu": emu}
    await producer.stop()


async def _in_salesforce(sf: Any, lead_id: str, timeout: float = 90) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        rows = sf.query(
            "SELECT Id, OwnerId, Status, Rating, Score__c, Grade__c, Score_Reasons__c, Routing_Reason__c, SLA_Due__c, "
            f"SLA_Status__c, Client_Type__c, Matched_Account__c, Email FROM Lead WHERE Leadflow_Id__c = '{lead_id}'"
        )["records"]
        return rows[0] if rows else None

    return await wait_for(find, timeout=timeout, interval=0.5)


async def test_leads_flow_from_kafka_into_salesforce_with_owner_score_and_sla(system: dict[str, Any]) -> None:
    sf = system["sf"]
    new_lead = _lead(
        person={
            "first_name": "greta",
            "last_name": "WAGNER",
            "email": "greta.wagner@rheinwerk-logistik.example",
            "phone": "030 1234567",
            "job_title": "Head of Operations",
            "language": "de",
        },
        company={
            "name": "Rheinwerk Logistik GmbH",
            "website": "https://www.rheinwerk-logistik.example",
            "country": "Germany",
            "employees": 800,
        },
    )
    key_account = _lead(
        person={
            "first_name": "Nils",
            "last_name": "Haugen",
            "email": "nils.haugen@alpen-retail.example",
            "job_title": "CFO",
        },
        company={"name": "Alpen Retail AS", "website": "https://www.alpen-retail.example", "country": "Norway"},
    )
    callback_at = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    callback = _lead(
        lead_source="callback_request",
        person={
            "first_name": "Sofie",
            "last_name": "Dubois",
            "email": "sofie@maisonclair.example",
            "phone": "+33 1 42 68 53 00",
        },
        company={"name": "Maison Clair SARL", "country": "FR"},
        callback={"start": callback_at.isoformat(), "timezone": "Europe/Paris"},
    )
    existing_contact = _lead(
        person={"first_name": "Freja", "last_name": "Kelly", "email": "freja.kelly@alpenretail.example"},
        company={"name": "Alpen Retail AS", "country": "Norway"},
    )
    for lead in (new_lead, key_account, callback, existing_contact):
        await system["publish"](json.dumps(lead).encode(), lead["lead_id"].encode())
    await system["publish"](b'{"event_id": "broken', b"bad")

    rec = await _in_salesforce(sf, new_lead["lead_id"])
    assert rec["OwnerId"][:3] in {"005", "00G"}, rec
    assert rec["SLA_Due__c"] and rec["Score__c"] is not None and rec["Grade__c"] in {"A", "B", "C", "D"}
    assert rec["Routing_Reason__c"] and rec["Rating"] in {"Hot", "Warm", "Cold"}
    assert rec["Email"] == "greta.wagner@rheinwerk-logistik.example"

    kam = await _in_salesforce(sf, key_account["lead_id"])
    assert kam["Client_Type__c"].lower().replace(" ", "_") == "key_account", kam
    assert kam["OwnerId"] == KAM_OF_ALPEN, kam

    cb = await _in_salesforce(sf, callback["lead_id"])
    tasks = await wait_for(
        lambda: sf.query(f"SELECT Id, OwnerId, ActivityDate, IsReminderSet FROM Task WHERE WhoId = '{cb['Id']}'")[
            "records"
        ],
        timeout=60,
    )
    assert len(tasks) == 1 and tasks[0]["OwnerId"] == cb["OwnerId"]

    # a duplicate of an existing Contact updates that record instead of making a new Lead
    contact = sf.query("SELECT Id FROM Contact WHERE Email = 'freja.kelly@alpenretail.example'")["records"][0]
    dup = await consume(system["ns"].bootstrap, system["ns"](topics.CRM_SYNCED), 4, timeout=60)
    by_lead = {json.loads(r.value)["lead_id"]: json.loads(r.value) for r in dup}
    assert by_lead[existing_contact["lead_id"]]["salesforce_id"] == contact["Id"]
    no_lead = f"SELECT COUNT() FROM Lead WHERE Leadflow_Id__c = '{existing_contact['lead_id']}'"
    assert sf.query(no_lead)["totalSize"] == 0

    rejected = await consume(system["ns"].bootstrap, system["ns"](topics.LEADS_REJECTED), 1)
    assert json.loads(rejected[0].value)["reason"] == "invalid_json"

    # a replay of the same events changes nothing in Salesforce
    before = sf.query(f"SELECT Id, SystemModstamp FROM Lead WHERE Leadflow_Id__c = '{new_lead['lead_id']}'")
    await system["publish"](json.dumps(new_lead).encode(), new_lead["lead_id"].encode())
    synced = await consume(system["ns"].bootstrap, system["ns"](topics.CRM_SYNCED), 4, timeout=10)
    assert len({json.loads(r.value)["lead_id"] for r in synced}) >= 3
    after = sf.query(f"SELECT Id, SystemModstamp FROM Lead WHERE Leadflow_Id__c = '{new_lead['lead_id']}'")
    assert before["records"] == after["records"]
    assert sf.query(f"SELECT COUNT() FROM Lead WHERE Leadflow_Id__c = '{new_lead['lead_id']}'")["totalSize"] == 1


async def test_values_longer_than_salesforce_fields_cost_no_lead_through_every_service(system: dict[str, Any]) -> None:
    """A web form sends what people type: a title, a company name and a name longer than Salesforce's fields,
    in Cyrillic, Greek and with emoji. The lead passes every service and lands once, cut to what fits, with
    the whole values on the record for the rep."""
    sf = system["sf"]
    title = "Руководитель отдела цифровой трансформации, клиентского опыта и операционной эффективности, EMEA 🚀 " * 2
    company = "Παράδειγμα Ναυτιλιακή και Εμπορική Ανώνυμη Εταιρεία " * 8
    last = "Kuznetsova-Papadopoulou-Ødegård-Wiśniewska-Dvořáková-Müller-Lüdenscheidt-Ivanova-Smith"
    lead = _lead(
        person={
            "first_name": "Olga",
            "last_name": last,
            "email": "olga.k@paradeigma.example",
            "job_title": title.strip(),
        },
        company={"name": company.strip(), "country": "Ελλάδα", "city": "Θεσσαλονίκη"},
    )
    await system["publish"](json.dumps(lead).encode(), lead["lead_id"].encode())
    rec = await wait_for(
        lambda: (
            sf.query(
                "SELECT LastName, Title, Company, Country, Leadflow_Dropped_Fields__c FROM Lead "
                f"WHERE Leadflow_Id__c = '{lead['lead_id']}'"
            )["records"]
            or [None]
        )[0],
        timeout=90,
        interval=0.5,
    )
    assert rec["Country"] == "GR"
    sent_values = (("LastName", last, 80), ("Title", title.strip(), 128), ("Company", company.strip(), 255))
    for field, sent, limit in sent_values:
        assert sent.startswith(rec[field]) and len(rec[field]) <= limit and len(rec[field]) >= limit - 10, field
        assert sent in rec["Leadflow_Dropped_Fields__c"], field
    count = f"SELECT COUNT() FROM Lead WHERE Leadflow_Id__c = '{lead['lead_id']}'"
    assert sf.query(count)["totalSize"] == 1
