"""A value Salesforce refuses costs the value, never the lead; a lead that cannot be written is 'not in Salesforce'."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import topics
from leadflow_crm_sync.domain.fallback import NOTE_FIELDS
from leadflow_crm_sync.testing import FakeSalesforce, build_harness, routed

pytestmark = pytest.mark.component
NOTE = NOTE_FIELDS["Lead"]
LONG_EMAIL = "a" * 70 + "@long-domain.example"  # 90 characters: valid in the contract, too long for Salesforce


def _ascii_email(value: Any) -> str | None:
    return None if isinstance(value, str) and value.isascii() else "INVALID_EMAIL_ADDRESS"


async def test_refused_and_over_long_emails_cost_the_value_not_the_lead(sqlite_url: str) -> None:
    h = build_harness(sqlite_url, FakeSalesforce(field_rules={"Lead.Email": _ascii_email}))
    await h.app.state.repo.create_tables()
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("good"), topics.LEADS_ROUTED)
        await h.publish(routed("unicode", email="jürgen@müller.example"), topics.LEADS_ROUTED)
        await h.publish(routed("long", email=LONG_EMAIL), topics.LEADS_ROUTED)
    assert h.dead == []
    leads = {r["Leadflow_Id__c"]: r for r in h.fake.table("Lead").values()}
    assert set(leads) == {"good", "unicode", "long"}
    assert leads["good"]["Email"] == "kari@fjord.example" and NOTE not in leads["good"]
    assert "Email" not in leads["unicode"] and "jürgen@müller.example" in leads["unicode"][NOTE]
    assert "Email" not in leads["long"] and LONG_EMAIL in leads["long"][NOTE]
    # The over-long e-mail never cost a call: it is known to be refused by every org.
    long_calls = [r for c in h.fake.writes("Lead") for r in c.records if r["Leadflow_Id__c"] == "long"]
    assert len(long_calls) == 1 and "Email" not in long_calls[0]
    synced = {s["lead_id"]: s for s in h.synced}
    assert synced["good"]["dropped_fields"] == []
    assert synced["unicode"]["dropped_fields"] == [
        {"field": "Email", "reason": "INVALID_EMAIL_ADDRESS", "message": "Email: bad value: …", "cut": False}
    ]
    assert synced["long"]["dropped_fields"][0]["reason"] == "STRING_TOO_LONG"
    assert "dropped Email (INVALID_EMAIL_ADDRESS)" in synced["unicode"]["trace"][-1]["reason"]
    assert all(s["operation"] == "created" for s in synced.values())
    await h.app.state.engine.dispose()


async def test_a_lead_salesforce_cannot_take_at_all_is_dead_lettered_as_not_in_salesforce(sqlite_url: str) -> None:
    fake = FakeSalesforce(record_errors={"dup": [("DUPLICATES_DETECTED", "Use one of these records?")]})
    h = build_harness(sqlite_url, fake)
    await h.app.state.repo.create_tables()
    ev = routed("dup")
    async with TestKafkaBroker(h.broker):
        await h.publish(ev, topics.LEADS_ROUTED)
        await h.publish(routed("fine"), topics.LEADS_ROUTED)
    (dead,) = h.dead
    assert dead["lead_id"] == "dup" and dead["not_in_salesforce"] is True
    assert dead["reason"] == "salesforce:DUPLICATES_DETECTED" and dead["topic"].endswith(topics.LEADS_ROUTED)
    assert [s["lead_id"] for s in h.synced] == ["fine"]
    await h.app.state.engine.dispose()


async def test_event_ids_of_what_crm_sync_publishes_are_the_same_on_every_redelivery(sqlite_url: str) -> None:
    runs = []
    for _ in range(2):
        fake = FakeSalesforce(record_errors={"dup": [("DUPLICATES_DETECTED", "Use one of these records?")]})
        h = build_harness(sqlite_url.replace(".db", f"{len(runs)}.db"), fake)
        await h.app.state.repo.create_tables()
        async with TestKafkaBroker(h.broker):
            await h.publish(routed("dup", event_id="e-dup"), topics.LEADS_ROUTED)
            await h.publish(routed("ok", event_id="e-ok"), topics.LEADS_ROUTED)
        runs.append(sorted(e["event_id"] for e in h.synced + h.dead))
        await h.app.state.engine.dispose()
    assert runs[0] == runs[1] and len(set(runs[0])) == 2


async def test_values_longer_than_their_fields_are_cut_in_one_call_and_kept_whole(database_url: str) -> None:
    """As long as intake accepts (1,000 characters): one call, each field cut to what fits, the whole values in the
    note, and crm-sync's own row (company: 255 on PostgreSQL) stores it too. Conversion reads that row later."""
    from leadflow_contracts.lead import FREE_TEXT_MAX
    from leadflow_crm_sync.domain.fallback import fit

    company = ("Nordisk Fjordlogistikk og Havbruk 🚢 " * 40)[:FREE_TEXT_MAX]
    title = "Leiar for digital omstilling, kundeoppleving og drift i Norden og Baltikum " * 3
    first = "Ødegård-" * 10
    h = build_harness(database_url, FakeSalesforce())
    await h.app.state.repo.create_tables()
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("long-values", company=company, job_title=title, first_name=first), topics.LEADS_ROUTED)
    assert h.dead == []
    (call,) = [r for c in h.fake.writes("Lead") for r in c.records if r["Leadflow_Id__c"] == "long-values"]
    assert call["Company"] == fit(company, 255) and call["Title"] == fit(title, 128)
    assert call["FirstName"] == fit(first, 40)
    assert company in call[NOTE] and title in call[NOTE] and first in call[NOTE]
    (synced,) = h.synced
    assert synced["operation"] == "created"
    assert {d["field"] for d in synced["dropped_fields"]} == {"Company", "Title", "FirstName"}
    assert all(d["cut"] for d in synced["dropped_fields"])
    assert "cut Company (STRING_TOO_LONG)" in synced["trace"][-1]["reason"]
    state = (await h.app.state.repo.load_states(["long-values"]))["long-values"]
    assert state.company is not None and company.startswith(state.company) and len(state.company) <= 255
    await h.app.state.engine.dispose()
