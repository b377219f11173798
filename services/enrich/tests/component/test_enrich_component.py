"""enrich over TestKafkaBroker: the app as create_app builds it, a hand-written Salesforce reader, SQLite."""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import ChangeType, ClientType, CrmChange, DeadLetter, LeadEnriched, MatchMethod
from leadflow_enrich.app import create_app
from leadflow_enrich.settings import EnrichSettings
from leadflow_enrich.testing import accepted
from leadflow_platform.clock import FakeClock

pytestmark = pytest.mark.component

STAMP = "2025-06-01T08:00:00.000+0000"


class FakeReader:
    """Serves fixed records; records every call so tests can assert how the mirror read Salesforce."""

    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        self.records = records
        self.calls: list[tuple[str, str]] = []

    async def full(self, obj: str) -> list[dict[str, Any]]:
        self.calls.append(("full", obj))
        return list(self.records.get(obj, []))

    async def changed_since(self, obj: str, since: datetime) -> list[dict[str, Any]]:
        self.calls.append(("changed_since", obj))
        return [r for r in self.records.get(obj, []) if r.get("SystemModstamp", STAMP) > since.isoformat()]


ORG = {
    "Account": [
        {
            "Id": "001KEY",
            "Name": "Nord Logistics AS",
            "Website": "https://www.nordlog.no",
            "OwnerId": "005KAM",
            "Key_Account__c": "true",
            "Client_Type__c": "Key Account",
            "Overdue_Debt__c": "false",
            "Last_Activity_Date__c": "2025-12-01",
            "SystemModstamp": STAMP,
        },
        {
            "Id": "001DEBT",
            "Name": "Fjord Foods AS",
            "Website": "fjordfoods.no",
            "OwnerId": "005S",
            "Overdue_Debt__c": "true",
            "Client_Type__c": "Existing Customer",
            "SystemModstamp": STAMP,
        },
    ],
    "Contact": [{"Id": "003A", "AccountId": "001KEY", "Email": "kari@nordlog.no", "SystemModstamp": STAMP}],
    "Lead": [
        {
            "Id": "00QOPEN",
            "Email": "dup@example.org",
            "Status": "Open - Not Contacted",
            "OwnerId": "005S",
            "IsConverted": "false",
            "SystemModstamp": STAMP,
        }
    ],
    "User": [{"Id": "005KAM", "Name": "Kim Kam", "IsActive": True, "SystemModstamp": STAMP}],
    "Queue": [{"Id": "00GQ", "Name": "Nordics Leads", "DeveloperName": "Queue_Nordics", "SystemModstamp": STAMP}],
}


def make_app(sqlite_url: str, reader: FakeReader, clock: FakeClock):
    settings = EnrichSettings(database_url=sqlite_url, kafka_bootstrap="127.0.0.1:1")
    app = create_app(settings, clock=clock, salesforce=reader, ensure_kafka_topics=False)
    broker = app.state.broker
    out: dict[str, list[Any]] = {"enriched": [], "dead": []}

    @broker.subscriber("leads.enriched")
    async def enriched_sink(body: dict) -> None:
        out["enriched"].append(LeadEnriched.model_validate(body))

    @broker.subscriber("leads.deadletter")
    async def dead_sink(body: dict) -> None:
        out["dead"].append(DeadLetter.model_validate(body))

    return app, broker, out


async def test_accepted_leads_are_enriched_from_the_mirror_and_poison_is_dead_lettered(sqlite_url: str) -> None:
    reader, clock = FakeReader(ORG), FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    app, broker, out = make_app(sqlite_url, reader, clock)
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        assert sorted(reader.calls) == sorted(("full", o) for o in ("Account", "Contact", "Lead", "User", "Queue"))
        assert app.state.index.counts() == {"Account": 2, "Contact": 1, "Lead": 1, "User": 1, "Queue": 1}
        key = accepted("L-key", email="ola@nordlog.no", phone_e164="+4722334455", country="NO")
        debt = accepted("L-debt", company_name="FJORD FOODS")
        dup = accepted("L-dup", email="dup@example.org")
        for ev in (key, debt, dup):
            await br.publish(ev.to_json_bytes(), "leads.accepted", key=ev.kafka_key())
        await br.publish(b'{"lead_id": "L-bad", "oops": true}', "leads.accepted", key=b"L-bad")
        await br.publish(b"\xff\xfe not json", "leads.accepted", key=b"L-worse")

    by_id = {e.lead_id: e for e in out["enriched"]}
    assert set(by_id) == {"L-key", "L-debt", "L-dup"}
    k = by_id["L-key"].enrichment
    assert (k.match.account_id, k.match.method, k.client_type) == (
        "001KEY",
        MatchMethod.EMAIL_DOMAIN,
        ClientType.KEY_ACCOUNT,
    )
    assert k.timezone == "Europe/Oslo"
    d = by_id["L-debt"].enrichment
    assert (d.match.account_id, d.match.method, d.client_type) == (
        "001DEBT",
        MatchMethod.NAME_EXACT,
        ClientType.CREDIT_HOLD,
    )
    assert by_id["L-dup"].enrichment.duplicate_of is not None
    assert by_id["L-dup"].enrichment.duplicate_of.record_id == "00QOPEN"
    assert all(e.occurred_at == clock.now() for e in out["enriched"])
    dead = {d.lead_id: d for d in out["dead"]}
    assert set(dead) == {"L-bad", "L-worse"}
    assert dead["L-bad"].reason == "invalid_event" and "lead" in dead["L-bad"].message
    assert base64.b64decode(dead["L-worse"].original_base64) == b"\xff\xfe not json"
    assert dead["L-bad"].service == "enrich" and dead["L-bad"].topic == "leads.accepted"


async def test_crm_changes_update_the_mirror_and_the_next_match(sqlite_url: str) -> None:
    reader, clock = FakeReader(ORG), FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    app, broker, out = make_app(sqlite_url, reader, clock)
    later = datetime(2026, 1, 5, 8, tzinfo=UTC)
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        new_account = CrmChange(
            event_id="chg-component-107",
            lead_id="001NEW",
            occurred_at=later,
            object="Account",
            record_id="001NEW",
            change_type=ChangeType.CREATED,
            changed_at=later,
            system_modstamp=later,
            record={
                "Name": "Polder Robotics B.V.",
                "Website": "polder-robotics.nl",
                "OwnerId": "005S",
                "Client_Type__c": "Regional",
            },
        )
        lead_closed = CrmChange(
            event_id="chg-component-111",
            lead_id="x",
            occurred_at=later,
            object="Lead",
            record_id="00QOPEN",
            change_type=ChangeType.UPDATED,
            changed_at=later,
            system_modstamp=later,
            record={"Status": "Closed - Converted", "IsConverted": True},
        )
        gone = CrmChange(
            event_id="chg-component-114",
            lead_id="001DEBT",
            occurred_at=later,
            object="Account",
            record_id="001DEBT",
            change_type=ChangeType.DELETED,
            changed_at=later,
            system_modstamp=later,
        )
        task = CrmChange(
            event_id="chg-component-116",
            lead_id="x",
            occurred_at=later,
            object="Task",
            record_id="00T1",
            change_type=ChangeType.CREATED,
            changed_at=later,
            system_modstamp=later,
        )
        for ch in (new_account, lead_closed, gone, task):
            await br.publish(ch.to_json_bytes(), "crm.changes", key=ch.kafka_key())
        await br.publish(b"{}", "crm.changes", key=b"junk")
        for ev in (
            accepted("L1", email="a@polder-robotics.nl"),
            accepted("L2", email="dup@example.org"),
            accepted("L3", company_name="Fjord Foods"),
        ):
            await br.publish(ev.to_json_bytes(), "leads.accepted", key=ev.kafka_key())
        mirror = app.state.mirror
        assert mirror.stats.changes_applied == 3 and mirror.stats.changes_ignored == 1
        stored = await app.state.repository.cursor("Account")
        assert stored.full_load_at is not None

    by_id = {e.lead_id: e.enrichment for e in out["enriched"]}
    assert (by_id["L1"].match.account_id, by_id["L1"].client_type) == ("001NEW", ClientType.REGIONAL)
    assert by_id["L2"].duplicate_of is None  # the lead was converted in Salesforce
    assert by_id["L3"].match.account_id is None  # the account was deleted
    assert [d.lead_id for d in out["dead"]] == ["junk"]


async def test_restart_catches_up_from_the_cursor_instead_of_a_full_load(sqlite_url: str) -> None:
    clock = FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    first = FakeReader(ORG)
    app, broker, _ = make_app(sqlite_url, first, clock)
    async with TestKafkaBroker(broker), app.router.lifespan_context(app):
        pass
    newer = "2025-06-02T08:00:00.000+0000"
    changed = dict(ORG)
    changed["Account"] = [*ORG["Account"], {"Id": "001LATE", "Name": "Late AS", "SystemModstamp": newer}]
    second = FakeReader(changed)
    clock.advance(timedelta(hours=1))
    app2, broker2, _ = make_app(sqlite_url, second, clock)
    async with TestKafkaBroker(broker2), app2.router.lifespan_context(app2):
        assert all(kind == "changed_since" for kind, _ in second.calls)
        assert len(second.calls) == 5
        assert app2.state.index.counts()["Account"] == 3
        assert "001LATE" in app2.state.index.accounts


async def test_redelivery_republishes_the_same_event_id(sqlite_url: str) -> None:
    reader, clock = FakeReader(ORG), FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    app, broker, out = make_app(sqlite_url, reader, clock)
    ev = accepted("L-again", event_id="acc-fixed", email="ola@nordlog.no")
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        await br.publish(ev.to_json_bytes(), "leads.accepted", key=ev.kafka_key())
        await br.publish(ev.to_json_bytes(), "leads.accepted", key=ev.kafka_key())
    assert len(out["enriched"]) == 2
    assert out["enriched"][0].event_id == out["enriched"][1].event_id


async def test_the_same_person_again_before_salesforce_knows_the_first_repeats_the_first(sqlite_url: str) -> None:
    reader, clock = FakeReader(ORG), FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    app, broker, out = make_app(sqlite_url, reader, clock)
    later = datetime(2026, 1, 5, 8, tzinfo=UTC)
    first = accepted("L-first", email="Siri.Vik@Bolgen.no", phone_e164="+4798765432")
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        await br.publish(first.to_json_bytes(), "leads.accepted", key=first.kafka_key())
        for ev in (
            accepted("L-same-email", email="siri.vik@bolgen.no"),
            accepted("L-same-phone", email="siri@private.example", phone_e164="+4798765432"),
            accepted("L-other", email="someone@else.no"),
        ):
            await br.publish(ev.to_json_bytes(), "leads.accepted", key=ev.kafka_key())
        # the first lead reaches Salesforce and the mirror; a rep closes it: the person may come back as new
        closed = CrmChange(
            event_id="chg-component-178",
            lead_id="L-first",
            occurred_at=later,
            object="Lead",
            record_id="00QFIRST",
            change_type=ChangeType.UPDATED,
            changed_at=later,
            system_modstamp=later,
            record={"Email": "siri.vik@bolgen.no", "Status": "Closed - Not Converted", "Leadflow_Id__c": "L-first"},
        )
        await br.publish(closed.to_json_bytes(), "crm.changes", key=closed.kafka_key())
        back = accepted("L-back", email="siri.vik@bolgen.no")
        await br.publish(back.to_json_bytes(), "leads.accepted", key=back.kafka_key())
        await br.publish(first.to_json_bytes(), "leads.accepted", key=first.kafka_key())  # a redelivery

    by_id = {e.lead_id: e.enrichment.duplicate_of for e in out["enriched"]}
    assert by_id["L-first"] is None and by_id["L-other"] is None
    assert by_id["L-same-email"] is not None and by_id["L-same-email"].leadflow_id == "L-first"
    assert (by_id["L-same-email"].object, by_id["L-same-email"].matched_on) == ("Lead", "email")
    assert by_id["L-same-phone"] is not None and by_id["L-same-phone"].leadflow_id == "L-first"
    assert by_id["L-same-phone"].matched_on == "phone"
    assert by_id["L-back"] is None  # the first lead was closed: a new lead, which now holds the e-mail
    assert [e.enrichment.duplicate_of for e in out["enriched"] if e.lead_id == "L-first"] == [None, None]
