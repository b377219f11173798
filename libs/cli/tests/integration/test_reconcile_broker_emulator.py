"""leadflow reconcile over the real embedded broker and the Salesforce emulator (HTTPS): topics read to the
end, SOQL paged, differences by lead, exit codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_cli.main import main
from leadflow_cli.reconcile.command import ReconcileSettings, reconcile
from leadflow_contracts import CrmSynced, DuplicateOf, SlaEvent, SlaEventKind, SyncOperation, topics
from leadflow_crm_sync.testing import routed
from leadflow_platform.testing.fixtures import TopicNamespace
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        handle.seed("demo")
        handle.configure(dailyApiLimit=1_000_000, apiUsage=0)
        yield handle


async def test_reconcile_reads_both_sides_and_lists_differences_by_lead(
    emu: EmulatorHandle,
    kafka_bootstrap: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    sf = connect(emu.salesforce_settings())
    owner = sf.query("SELECT Id FROM User WHERE IsActive = true LIMIT 1")["records"][0]["Id"]
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create()
    run_id = ns.prefix.strip(".").replace(".", "-")[-12:]
    ids = [f"rc-{run_id}-{i}" for i in range(3)]
    lead_sf = [
        sf.Lead.create({"LastName": f"R{i}", "Company": "Acme", "Leadflow_Id__c": ids[i], "OwnerId": owner})["id"]
        for i in range(2)
    ]
    events = [
        routed(ids[0], owner_id=owner, occurred_at=NOW),
        CrmSynced(
            event_id=f"synced-{ids[0]}",
            lead_id=ids[0],
            occurred_at=NOW,
            salesforce_id=lead_sf[0],
            operation=SyncOperation.CREATED,
        ),
        SlaEvent(
            event_id=f"sla-{ids[0]}",
            lead_id=ids[0],
            occurred_at=NOW,
            kind=SlaEventKind.STARTED,
            clock="first_touch",
            policy="p",
            due_at=NOW + timedelta(hours=1),
            started_at=NOW,
        ),
        routed(ids[1], owner_id=owner, occurred_at=NOW),
        CrmSynced(
            event_id=f"synced-{ids[1]}",
            lead_id=ids[1],
            occurred_at=NOW,
            salesforce_id=lead_sf[1],
            operation=SyncOperation.CREATED,
        ),
        routed(
            ids[2],
            owner_id=owner,
            occurred_at=NOW,
            duplicate_of=DuplicateOf(object="Lead", record_id=ids[0], matched_on="email", leadflow_id=ids[0]),
        ),
    ]
    topic_of = {"LeadRouted": topics.LEADS_ROUTED, "CrmSynced": topics.CRM_SYNCED, "SlaEvent": topics.SLA_EVENTS}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for ev in events:
            await producer.send_and_wait(ns(topic_of[type(ev).__name__]), ev.to_json_bytes(), key=ev.kafka_key())
    finally:
        await producer.stop()
    settings = ReconcileSettings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=ns.prefix, salesforce=emu.salesforce_settings()
    )

    report = await reconcile(settings)
    mine = [d for d in report.differences if d.lead_id in ids]
    assert mine == []  # both sides agree on these leads
    assert report.summary()["leadflow"]["routed_leads"] == 3 and report.summary()["leadflow"]["merged_leads"] == 1

    # a rep logs a call on the first lead: the clock leadflow still holds open is one difference, and so is
    # the merged lead's (its clock runs on the same record); the other lead changes owner by hand
    sf.Task.create({"WhoId": lead_sf[0], "Subject": "Call", "TaskSubtype": "Call", "Status": "Completed"})
    other = sf.query(f"SELECT Id FROM User WHERE IsActive = true AND Id != '{owner}' LIMIT 1")["records"][0]["Id"]
    sf.Lead.update(lead_sf[1], {"OwnerId": other})
    monkeypatch.setenv("RECONCILE_SALESFORCE__LOGIN_URL", str(emu.salesforce_settings().login_url))
    s = emu.salesforce_settings()
    for name in ("username", "password", "security_token", "ca_bundle"):
        value = getattr(s, name)
        if value is not None:
            value = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
            monkeypatch.setenv(f"RECONCILE_SALESFORCE__{name.upper()}", value)
    written = tmp_path / "reconcile" / "last.json"
    args = ["reconcile", "--bootstrap", kafka_bootstrap, "--topic-prefix", ns.prefix, "--json", "--write", str(written)]
    code = await asyncio.to_thread(main, args)  # the command runs its own event loop
    out = json.loads(capsys.readouterr().out)
    assert json.loads(written.read_text()) == out  # the console's "last reconcile" is what was printed
    assert datetime.fromisoformat(out["summary"]["finished_at"]) >= NOW
    mine_now = {(d["lead_id"], d["kind"]) for d in out["differences"] if d["lead_id"] in ids}
    assert code == 1
    assert mine_now == {(ids[0], "clock_open_but_touched"), (ids[1], "owner_differs")}
    assert out["summary"]["salesforce"]["soql_queries"] >= 2

    # --settle on a running system: a difference that settles between the passes (the owner put back) is left
    # out and counted; one that persists (the open clock on the called lead) is listed
    async def owner_put_back(seconds: float) -> None:
        assert seconds == 5
        await asyncio.to_thread(sf.Lead.update, lead_sf[1], {"OwnerId": owner})

    settled = await reconcile(settings, settle=5, sleep=owner_put_back)
    assert {(d.lead_id, d.kind) for d in settled.differences if d.lead_id in ids} == {
        (ids[0], "clock_open_but_touched")
    }
    assert settled.transient >= 1 and settled.summary()["transient_left_out"] == settled.transient
