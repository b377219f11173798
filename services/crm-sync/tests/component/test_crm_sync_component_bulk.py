"""Adaptive writes: Bulk API 2.0 jobs above the backlog threshold, Collections below it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_crm_sync.adapters.simple_salesforce_gateway import bulk_results, bulk_rows
from leadflow_crm_sync.domain.fallback import NOTE_FIELDS
from leadflow_crm_sync.domain.reconcile import backlog_mode
from leadflow_crm_sync.service import Incoming
from leadflow_crm_sync.testing import T0, FakeSalesforce, Harness, build_harness, routed

pytestmark = pytest.mark.component


def _ascii(value: Any) -> str | None:
    return None if isinstance(value, str) and value.isascii() else "INVALID_EMAIL_ADDRESS"


async def _harness(sqlite_url: str, fake: FakeSalesforce) -> Harness:
    h = build_harness(sqlite_url, fake, bulk_threshold=20, bulk_min_records=5)
    await h.app.state.repo.create_tables()
    return h


def _burst(n: int, callbacks_every: int = 5) -> list[Incoming]:
    return [
        Incoming(
            "routed",
            routed(
                f"b-{i}",
                email="jürgen@x.de" if i == 3 else f"p{i}@x.io",
                callback_at=T0 + timedelta(hours=3) if i % callbacks_every == 0 else None,
            ).to_json_bytes(),
        )
        for i in range(n)
    ]


async def test_a_backlog_goes_through_one_bulk_job_per_object(sqlite_url: str) -> None:
    fake = FakeSalesforce(field_rules={"Lead.Email": _ascii})
    h = await _harness(sqlite_url, fake)
    async with TestKafkaBroker(h.broker):
        result = await h.service.process(_burst(25), backlog=0)  # 25 records >= threshold 20
    ops = [(c.operation, c.sobject, len(c.records)) for c in fake.calls]
    # One Bulk job for the 25 Leads, the refused one again through Collections without its value,
    # then one Bulk job for the 5 callback Tasks (WhoId = the Lead ids the first job returned).
    assert ops == [("bulk_upsert", "Lead", 25), ("upsert", "Lead", 1), ("bulk_upsert", "Task", 5)]
    assert fake.calls[1].records[0]["Leadflow_Id__c"] == "b-3" and "Email" not in fake.calls[1].records[0]
    leads = {r["Leadflow_Id__c"]: r for r in fake.table("Lead").values()}
    assert len(leads) == 25 and all(r["OwnerId"] and r["SLA_Due__c"] for r in leads.values())
    assert "jürgen@x.de" in leads["b-3"][NOTE_FIELDS["Lead"]]
    assert {t["WhoId"] for t in fake.table("Task").values()} == {leads[f"b-{i}"]["Id"] for i in range(0, 25, 5)}
    assert result.published == 25 and result.dead_lettered == 0
    assert h.app.state.writer.stats.bulk_jobs == 2
    await h.app.state.engine.dispose()


async def test_below_the_threshold_collections_and_the_kafka_backlog_counts(sqlite_url: str) -> None:
    fake = FakeSalesforce()
    h = await _harness(sqlite_url, fake)
    async with TestKafkaBroker(h.broker):
        await h.service.process(_burst(10)[:10], backlog=0)
        assert {c.operation for c in fake.calls} == {"upsert"}
        fake.calls.clear()
        more = [Incoming("routed", routed(f"m-{i}").to_json_bytes()) for i in range(10)]
        await h.service.process(more, backlog=500)  # 10 records, with 500 more still in Kafka
    assert [c.operation for c in fake.calls] == ["bulk_upsert"]
    await h.app.state.engine.dispose()


async def test_a_failed_bulk_call_falls_back_to_collections(sqlite_url: str) -> None:
    from leadflow_crm_sync.adapters.gateway import SalesforceCallError

    fake = FakeSalesforce(fail_calls=[SalesforceCallError("bad_request", 400, "FEATURE_NOT_ENABLED", "no bulk")])
    h = await _harness(sqlite_url, fake)
    async with TestKafkaBroker(h.broker):
        await h.service.process(_burst(20, callbacks_every=100), backlog=0)
    assert [(c.operation, c.sobject, len(c.records)) for c in fake.calls][:2] == [
        ("bulk_upsert", "Lead", 20),
        ("upsert", "Lead", 20),
    ]
    assert len(fake.table("Lead")) == 20
    await h.app.state.engine.dispose()


def test_backlog_mode_boundary() -> None:
    assert backlog_mode(1999, 0, 2000) is False and backlog_mode(1999, 1, 2000) is True
    assert backlog_mode(10, 5000, 0) is False, "0 turns Bulk off"


def test_bulk_csv_rows_and_results() -> None:
    records = [
        {"attributes": {"type": "Lead"}, "Leadflow_Id__c": "a", "LastName": "A", "DoNotCall": True},
        {"attributes": {"type": "Lead"}, "Leadflow_Id__c": "b", "Email": "b@x.io", "Score__c": 7.5},
    ]
    rows, header = bulk_rows(records)
    assert header == ["Leadflow_Id__c", "LastName", "DoNotCall", "Email", "Score__c"]
    assert rows[0] == {"Leadflow_Id__c": "a", "LastName": "A", "DoNotCall": "true", "Email": "", "Score__c": ""}
    ok = '"sf__Id","sf__Created","Leadflow_Id__c"\n"00Q1","true","a"\n'
    failed = (
        '"sf__Id","sf__Error","Leadflow_Id__c"\n'
        '"","INVALID_EMAIL_ADDRESS:Email: invalid email address: b@x:io:Email --","b"\n'
    )
    out = bulk_results([*records, {"Leadflow_Id__c": "c"}], "Leadflow_Id__c", ok, failed)
    assert out[0] == {"id": "00Q1", "success": True, "errors": [], "created": True}
    assert out[1]["errors"] == [
        {"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: b@x:io", "fields": ["Email"]}
    ]
    assert out[2]["success"] is False and out[2]["errors"][0]["statusCode"] == "UNKNOWN_EXCEPTION"


@pytest.mark.parametrize(("high", "operation"), [(1000, "bulk_upsert"), (100, "upsert")])
async def test_the_backlog_the_runtime_sees_behind_the_batch_decides_bulk(
    sqlite_url: str, high: int, operation: str
) -> None:
    """10 records at offsets 90-99: with the partition's high watermark at 1,000 there are 900 more in Kafka
    (>= threshold 20: one Bulk job); at 100 nothing is behind them (Collections)."""
    from types import SimpleNamespace

    from aiokafka import TopicPartition
    from leadflow_contracts import topics
    from leadflow_platform.kafka_io import RawRecord

    fake = FakeSalesforce()
    h = await _harness(sqlite_url, fake)
    topic = h.settings.topic(topics.LEADS_ROUTED)

    class Consumer:
        def pause(self, *tps: TopicPartition) -> None: ...

        def highwater(self, tp: TopicPartition) -> int | None:
            return {(topic, 0): high}.get((tp.topic, tp.partition))

    (runtime,) = h.app.state.consumers
    records = [RawRecord(f"m-{i}".encode(), routed(f"m-{i}").to_json_bytes(), topic, 0, 90 + i) for i in range(10)]
    async with TestKafkaBroker(h.broker):
        runtime.subscriber = SimpleNamespace(consumer=Consumer())
        await runtime.handle(records)
    assert [c.operation for c in fake.calls] == [operation]
    assert len(fake.table("Lead")) == 10 and len(h.synced) == 10
    await h.app.state.engine.dispose()
