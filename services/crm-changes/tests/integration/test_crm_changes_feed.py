"""crm-changes against the real emulator (HTTPS) and the real embedded broker."""

from __future__ import annotations

import json

import pytest
from leadflow_contracts.crm import ChangeType, CrmChange
from leadflow_contracts.topics import CRM_CHANGES
from leadflow_platform.testing.fixtures import consume

pytestmark = pytest.mark.integration


async def _events(bootstrap: str, topic: str, n: int, timeout: float = 20.0) -> list[tuple[str, CrmChange]]:
    recs = await consume(bootstrap, topic, n, timeout=timeout)
    return [(r.key.decode(), CrmChange.model_validate(json.loads(r.value))) for r in recs]


async def test_rep_change_emitted_with_old_and_new_leadflow_write_ignored(
    emu, integration_sf, rep_sf, reps, make_settings, running, kafka_bootstrap, topic_namespace, sqlite_url
):
    REP1 = reps["rep1"]
    settings = make_settings(emu, kafka_bootstrap, topic_namespace.prefix, sqlite_url)
    async with running(settings) as svc:
        await svc.feed.step()  # initialise cursors at the newest existing version
        # leadflow (crm-sync) creates a lead: an echo, never emitted, but remembered for diffs and Task keys
        created = integration_sf.Lead.create(
            {"LastName": "Nilsen", "Company": "Fjord AS", "Leadflow_Id__c": "lf-0001", "OwnerId": REP1}
        )
        lead_sf_id = created["id"]
        await svc.feed.step()
        # the rep works it, right after another leadflow write
        integration_sf.Lead.update(lead_sf_id, {"SLA_Status__c": "On Track"})
        rep_sf.Lead.update(lead_sf_id, {"Status": "Working - Contacted"})
        task = rep_sf.Task.create(
            {"WhoId": lead_sf_id, "Subject": "Call", "TaskSubtype": "Call", "Status": "Completed"}
        )
        await svc.feed.step()
        assert svc.feed.totals.echoes == 1  # the create; the SLA write was superseded by the rep's version
        events = await _events(kafka_bootstrap, topic_namespace(CRM_CHANGES), 2)
        by_object = {e.object: (k, e) for k, e in events}
    key, lead_ev = by_object["Lead"]
    assert key == "lf-0001" and lead_ev.lead_id == "lf-0001"
    assert lead_ev.change_type is ChangeType.UPDATED and lead_ev.changed_by == REP1
    changed = {c.field: (c.old, c.new) for c in lead_ev.changed_fields}
    assert changed["Status"] == ("Open - Not Contacted", "Working - Contacted")
    assert changed["SLA_Status__c"] == (None, "On Track")
    tkey, task_ev = by_object["Task"]
    assert tkey == "lf-0001" and task_ev.record_id == task["id"]
    assert task_ev.change_type is ChangeType.CREATED and task_ev.record["TaskSubtype"] == "Call"
    assert svc.feed.totals.emitted == 2


async def test_deletions_are_emitted_through_query_all(
    emu, integration_sf, rep_sf, reps, make_settings, running, kafka_bootstrap, topic_namespace, sqlite_url
):
    settings = make_settings(emu, kafka_bootstrap, topic_namespace.prefix, sqlite_url)
    async with running(settings) as svc:
        await svc.feed.step()
        lead = integration_sf.Lead.create({"LastName": "Berg", "Company": "Vega AB", "Leadflow_Id__c": "lf-del"})
        task = rep_sf.Task.create({"WhoId": lead["id"], "Subject": "Call", "Status": "Not Started"})
        await svc.feed.step()
        rep_sf.Task.delete(task["id"])
        await svc.feed.step()
        await svc.feed.step()  # a later poll re-reads nothing new: no second deleted event
        events = await _events(kafka_bootstrap, topic_namespace(CRM_CHANGES), 3, timeout=3)
    kinds = [(e.object, e.change_type, k) for k, e in events]
    assert kinds == [("Task", ChangeType.CREATED, "lf-del"), ("Task", ChangeType.DELETED, "lf-del")]
    deleted = events[1][1]
    assert deleted.record_id == task["id"] and deleted.changed_by == reps["rep1"]
    assert deleted.record["IsDeleted"] is True


async def test_restart_resumes_without_gaps_or_duplicates(
    emu, rep_sf, make_settings, running, kafka_bootstrap, topic_namespace, database_url
):
    settings = make_settings(emu, kafka_bootstrap, topic_namespace.prefix, database_url, overlap_seconds=30.0)
    topic = topic_namespace(CRM_CHANGES)
    async with running(settings) as svc:
        await svc.feed.step()
        before = [
            rep_sf.Lead.create({"LastName": f"Before{i}", "Company": "Atlas", "Leadflow_Id__c": f"b{i}"})["id"]
            for i in range(5)
        ]
        await svc.feed.step()
        await svc.feed.step()
    # down: reps keep working
    during = [
        rep_sf.Lead.create({"LastName": f"During{i}", "Company": "Orion", "Leadflow_Id__c": f"d{i}"})["id"]
        for i in range(5)
    ]
    rep_sf.Lead.update(before[0], {"Status": "Working - Contacted"})
    async with running(settings) as svc:
        await svc.feed.step()  # re-reads the unsettled window (overlap 30 s): de-duplicated by the snapshots
        assert svc.feed.totals.duplicates == 4  # before[1..4]; before[0] has a newer version
        await svc.feed.step()
        events = await _events(kafka_bootstrap, topic, 12, timeout=4)
    assert len(events) == 11
    seen = [(e.record_id, e.change_type) for _, e in events]
    assert len(set(seen)) == 11
    assert {r for r, t in seen if t is ChangeType.CREATED} == set(before) | set(during)
    assert [r for r, t in seen if t is ChangeType.UPDATED] == [before[0]]


async def test_idle_org_costs_one_query_per_object_per_poll(
    emu, rep_sf, make_settings, running, kafka_bootstrap, topic_namespace, sqlite_url
):
    from leadflow_platform.metrics import SALESFORCE_CALLS

    settings = make_settings(emu, kafka_bootstrap, topic_namespace.prefix, sqlite_url, overlap_seconds=0.0)
    async with running(settings) as svc:
        await svc.feed.step()
        rep_sf.Lead.create({"LastName": "Idle", "Company": "Nova", "Leadflow_Id__c": "idle-1"})
        await svc.feed.step()
        await svc.feed.step()  # settles
        emu.control("DELETE", "requests")

        def api_calls() -> float:
            return sum(
                SALESFORCE_CALLS.labels("crm-changes", op, "ok")._value.get()
                for op in ("query", "queryAll", "query_more")
            )

        counted_before = api_calls()
        polls = 10
        for _ in range(polls):
            await svc.feed.step()
        log = emu.requests_log()
    objects = len(settings.objects)
    queries = [r for r in log if "/query" in r["path"]]
    assert len(log) == len(queries) == polls * objects
    assert all(r["path"].rstrip("/").endswith("queryAll") for r in queries)
    assert api_calls() - counted_before == polls * objects


async def test_rep_change_before_the_first_poll_of_a_new_lead_still_reports_the_status(
    emu, integration_sf, rep_sf, reps, make_settings, running, kafka_bootstrap, topic_namespace, sqlite_url
):
    settings = make_settings(emu, kafka_bootstrap, topic_namespace.prefix, sqlite_url)
    async with running(settings) as svc:
        await svc.feed.step()
        lead = integration_sf.Lead.create({"LastName": "Walsh", "Company": "Haven Ltd", "Leadflow_Id__c": "lf-fast"})
        rep_sf.Lead.update(lead["id"], {"Status": "Working - Contacted"})  # within one poll interval
        await svc.feed.step()
        events = await _events(kafka_bootstrap, topic_namespace(CRM_CHANGES), 2, timeout=3)
    assert len(events) == 1
    key, ev = events[0]
    assert (key, ev.change_type, ev.changed_by) == ("lf-fast", ChangeType.UPDATED, reps["rep1"])
    assert ("Status", None, "Working - Contacted") in [(c.field, c.old, c.new) for c in ev.changed_fields]
    assert "old values unknown" in ev.trace[0].reason
