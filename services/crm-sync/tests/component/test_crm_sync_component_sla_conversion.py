"""sla.events and crm.changes on TestKafkaBroker with the fake org: SLA status, reminder/escalation Tasks,
conversion into account/contact/opportunity exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import SlaEventKind, topics
from leadflow_crm_sync.domain.budget import ApiUsage
from leadflow_crm_sync.testing import T0, Harness, build_harness, lead_change, routed, sla_event

pytestmark = pytest.mark.component
REP = "005000000000001AAA"
LEADER = "005000000000077AAA"
KAM = "005000000000055AAA"
USERS = [
    {"Id": REP, "Team__c": "Nordics", "Role_Name__c": "Seller", "ManagerId": LEADER},
    {"Id": LEADER, "Team__c": "Nordics", "Role_Name__c": "Team Leader", "ManagerId": None},
    {"Id": "005000000000099AAA", "Team__c": None, "Role_Name__c": "Head of Sales", "ManagerId": None},
]


@pytest.fixture
async def h(sqlite_url: str) -> Harness:
    harness = build_harness(sqlite_url)
    harness.fake.users = USERS
    await harness.app.state.repo.create_tables()
    return harness


def lead_of(h: Harness, lead_id: str) -> dict:
    return next(r for r in h.fake.table("Lead").values() if r.get("Leadflow_Id__c") == lead_id)


async def test_breach_updates_sla_status_and_escalation_tasks_the_team_leader(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-1"), topics.LEADS_ROUTED)
        await h.publish(sla_event(kind=SlaEventKind.WARNING, owner_id=REP), topics.SLA_EVENTS)
        await h.publish(sla_event(kind=SlaEventKind.BREACHED, owner_id=REP), topics.SLA_EVENTS)
        await h.publish(
            sla_event(kind=SlaEventKind.ESCALATED, owner_id=REP, step=1, action="notify_team_leader"), topics.SLA_EVENTS
        )
        await h.publish(
            sla_event(kind=SlaEventKind.ESCALATED, owner_id=REP, step=1, action="notify_team_leader"), topics.SLA_EVENTS
        )  # sla-monitor fired the same step twice (new event id)
    lead = lead_of(h, "lead-1")
    assert lead["SLA_Status__c"] == "Breached"
    tasks = list(h.fake.table("Task").values())
    assert len(tasks) == 2, "one reminder, one escalation (the repeated step is the same Task)"
    reminder, escalation = tasks
    assert reminder["OwnerId"] == REP and reminder["WhoId"] == lead["Id"] and "reminder" in reminder["Subject"]
    assert escalation["OwnerId"] == LEADER and "notify_team_leader" in escalation["Subject"]
    assert [s["operation"] for s in h.synced] == ["created", "sla_status", "sla_status", "sla_status", "sla_status"]
    assert h.synced[3]["task_id"] == escalation["Id"] == h.synced[4]["task_id"]
    assert sum(1 for c in h.fake.calls if c.operation == "query") == 1, "the team directory is cached"


async def test_sla_event_before_the_lead_is_written_rides_on_its_first_write(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(sla_event("early", kind=SlaEventKind.BREACHED), topics.SLA_EVENTS)
        assert h.fake.writes() == [] and h.synced == []
        await h.publish(routed("early"), topics.LEADS_ROUTED)
    assert lead_of(h, "early")["SLA_Status__c"] == "Breached"
    assert len(h.fake.writes("Lead")) == 1


async def test_below_the_reserve_breaches_still_go_through_and_warnings_wait(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-1"), topics.LEADS_ROUTED)
        h.fake.usage_value = ApiUsage(used=99_990, total=100_000)
        await h.publish(sla_event(kind=SlaEventKind.WARNING, owner_id=REP), topics.SLA_EVENTS)
        assert lead_of(h, "lead-1")["SLA_Status__c"] == "On Track" and h.fake.table("Task") == {}
        await h.publish(
            sla_event(kind=SlaEventKind.BREACHED, owner_id=REP, occurred_at=T0 + timedelta(minutes=40)),
            topics.SLA_EVENTS,
        )
        assert lead_of(h, "lead-1")["SLA_Status__c"] == "Breached"
        assert await h.app.state.repo.count_deferred() == 1, "the reminder Task waits (the warning status is stale)"
        h.fake.usage_value = ApiUsage(used=10, total=100_000)
        assert await h.service.drain_deferred() == 1
    (task,) = h.fake.table("Task").values()
    assert task["OwnerId"] == REP and lead_of(h, "lead-1")["SLA_Status__c"] == "Breached"


async def test_qualified_lead_converts_once_into_the_key_account_owned_by_its_manager(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(
            routed("lead-q", account_id="001000000000001AAA", account_owner_id=KAM, key_account=True),
            topics.LEADS_ROUTED,
        )
        sf_id = h.synced[0]["salesforce_id"]
        h.fake.table("Contact")["003000000000042AAA"] = {
            "Id": "003000000000042AAA",
            "AccountId": "001000000000001AAA",
            "Email": "kari@fjord.example",
        }
        await h.publish(lead_change("lead-q", sf_id, changed_by=REP), topics.CRM_CHANGES)
        await h.publish(lead_change("lead-q", sf_id, changed_by=REP), topics.CRM_CHANGES)
        await h.publish(
            lead_change("lead-q", sf_id, converted=True, record={"ConvertedAccountId": "001000000000001AAA"}),
            topics.CRM_CHANGES,
        )  # the echo of our own conversion
    converts = [c for c in h.fake.calls if c.operation == "convert"]
    assert len(converts) == 1
    req = converts[0].records[0]
    assert req["account_id"] == "001000000000001AAA" and req["owner_id"] == KAM
    assert req["contact_id"] == "003000000000042AAA", "the matched Contact (same email on the account)"
    assert req["opportunity_name"] == "Fjord Logistics AS - spring-promo"
    conv = [s for s in h.synced if s["operation"] == "converted"]
    assert len(conv) == 1
    (opp,) = h.fake.table("Opportunity").values()
    assert conv[0]["opportunity_id"] == opp["Id"] and conv[0]["account_id"] == "001000000000001AAA"
    assert conv[0]["contact_id"] == "003000000000042AAA" and conv[0]["owner_id"] == KAM
    assert opp["StageName"] == "Qualification" and opp["CloseDate"] == "2026-02-04" and opp["Type"]
    assert "spring-promo" in opp["Description"]


async def test_conversion_done_by_a_rep_in_salesforce_is_reported_without_api_calls(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-ui"), topics.LEADS_ROUTED)
        sf_id = h.synced[0]["salesforce_id"]
        calls = len(h.fake.calls)
        await h.publish(
            lead_change(
                "lead-ui",
                sf_id,
                converted=True,
                record={"ConvertedAccountId": "001A", "ConvertedContactId": "003C", "ConvertedOpportunityId": "006O"},
            ),
            topics.CRM_CHANGES,
        )
        await h.publish(routed("lead-ui", score=99, event_id="late-reroute"), topics.LEADS_ROUTED)
    assert len(h.fake.calls) == calls, "no conversion call, and a converted lead is not written again"
    assert [s["operation"] for s in h.synced] == ["created", "converted", "unchanged"]
    assert h.synced[1]["opportunity_id"] == "006O"


async def test_already_converted_lead_reads_back_what_it_became(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-x"), topics.LEADS_ROUTED)
        sf_id = h.synced[0]["salesforce_id"]
        h.fake.table("Lead")[sf_id].update(
            {
                "IsConverted": True,
                "ConvertedAccountId": "001B",
                "ConvertedContactId": "003B",
                "ConvertedOpportunityId": "006B",
            }
        )
        await h.publish(lead_change("lead-x", sf_id), topics.CRM_CHANGES)
    assert h.synced[-1]["operation"] == "converted" and h.synced[-1]["opportunity_id"] == "006B"


async def test_non_qualifying_changes_do_nothing(h: Harness) -> None:
    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-w"), topics.LEADS_ROUTED)
        sf_id = h.synced[0]["salesforce_id"]
        calls = len(h.fake.calls)
        await h.publish(lead_change("lead-w", sf_id, status="Working - Contacted"), topics.CRM_CHANGES)
    assert len(h.fake.calls) == calls and len(h.synced) == 1


async def test_the_same_qualification_twice_in_one_batch_converts_once(h: Harness) -> None:
    from leadflow_crm_sync.service import Incoming

    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-2x"), topics.LEADS_ROUTED)
        sf_id = h.synced[0]["salesforce_id"]
        first, second = lead_change("lead-2x", sf_id), lead_change("lead-2x", sf_id)
        await h.service.process(
            [Incoming("changes", first.to_json_bytes()), Incoming("changes", second.to_json_bytes())]
        )
    assert sum(1 for c in h.fake.calls if c.operation == "convert") == 1
    assert [s["operation"] for s in h.synced] == ["created", "converted"]


async def test_a_repeated_escalation_in_one_batch_writes_its_task_once(h: Harness) -> None:
    from leadflow_crm_sync.service import Incoming

    async with TestKafkaBroker(h.broker):
        await h.publish(routed("lead-esc"), topics.LEADS_ROUTED)
        esc = [
            sla_event("lead-esc", SlaEventKind.ESCALATED, owner_id=REP, step=1, action="notify_team_leader")
            for _ in range(2)
        ]
        await h.service.process([Incoming("sla", e.to_json_bytes()) for e in esc])
    task_writes = h.fake.writes("Task")
    assert len(task_writes) == 1 and len(task_writes[0].records) == 1
    assert h.synced[1]["task_id"] == h.synced[2]["task_id"]
