"""The roster from Salesforce, once: a fresh start publishes every existing User and queue, then their changes."""

from __future__ import annotations

import json

import pytest
from leadflow_contracts.crm import CrmChange
from leadflow_contracts.topics import CRM_CHANGES
from leadflow_platform.testing.fixtures import consume

pytestmark = pytest.mark.integration


async def test_fresh_start_publishes_every_user_and_queue_then_only_changes(
    emu, integration_sf, rep_sf, reps, make_settings, running, kafka_bootstrap, topic_namespace, sqlite_url
):
    queue = integration_sf.Group.create({"Name": "Nordics Leads", "DeveloperName": "Nordics_Leads", "Type": "Queue"})
    old_lead = integration_sf.Lead.create({"LastName": "Before", "Company": "Atlas", "Leadflow_Id__c": "lf-old"})
    users = {u["Id"]: u for u in integration_sf.query_all("SELECT Id, IsActive FROM User")["records"]}
    assert {reps["rep1"], reps["rep2"]} <= set(users)
    settings = make_settings(
        emu, kafka_bootstrap, topic_namespace.prefix, sqlite_url, snapshot_objects=["User", "Group"]
    )  # the default
    topic = topic_namespace(CRM_CHANGES)
    async with running(settings) as svc:
        await svc.feed.step()
        snapshot = [
            CrmChange.model_validate(json.loads(r.value))
            for r in await consume(kafka_bootstrap, topic, len(users) + 1, timeout=20)
        ]
        # every User (the API user too: it is no echo here, leadflow never writes Users) and the queue, once
        assert {e.record_id for e in snapshot if e.object == "User"} == set(users)
        assert [e.record_id for e in snapshot if e.object == "Group"] == [queue["id"]]
        assert old_lead["id"] not in {e.record_id for e in snapshot}  # other objects still start from "latest"
        rep_one = next(e for e in snapshot if e.record_id == reps["rep1"])
        assert rep_one.lead_id == reps["rep1"] and rep_one.record["IsActive"] is True
        # a change to a rep afterwards is one more event; a second poll re-publishes nothing
        rep_sf.User.update(reps["rep2"], {"Is_Absent__c": True})
        await svc.feed.step()
        await svc.feed.step()
        after = [
            CrmChange.model_validate(json.loads(r.value))
            for r in await consume(kafka_bootstrap, topic, len(snapshot) + 2, timeout=3)
        ]
    assert len(after) == len(snapshot) + 1
    # records of several partitions arrive in no particular order: the change is the one event not in the snapshot
    (change,) = [e for e in after if e.event_id not in {s.event_id for s in snapshot}]
    assert change.record_id == reps["rep2"] and {c.field for c in change.changed_fields} == {"Is_Absent__c"}

    # a restart of the same deployment does not publish the roster again
    async with running(settings) as svc:
        await svc.feed.step()
        again = await consume(kafka_bootstrap, topic, len(after) + 1, timeout=3)
    assert len(again) == len(after)
