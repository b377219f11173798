"""crm-sync over the platform consumer runtime: a Salesforce limit or outage pauses every assigned partition
and rewinds the batch (nothing claimed, nothing published, no sleep in the handler), /readyz and /status show
the wait, the batch is written once after the resume; the group options are crm-sync's; dead letters of
refused values are logged and counted by the runtime and keep what ops reads."""

from __future__ import annotations

import asyncio
import base64
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import topics
from leadflow_crm_sync.adapters.gateway import SalesforceCallError
from leadflow_crm_sync.testing import Harness, build_harness, routed
from leadflow_platform.consumer import RetryAfter, group_options
from leadflow_platform.kafka_io import RawRecord

pytestmark = pytest.mark.component


class Consumer:
    """What the runtime touches on AIOKafkaConsumer."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = assigned
        self.paused_now: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused_now |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused_now -= set(tps)

    def highwater(self, tp: TopicPartition) -> int | None:
        return None


@pytest.fixture
async def h(sqlite_url: str) -> Harness:
    harness = build_harness(sqlite_url)
    await harness.app.state.repo.create_tables()
    return harness


def _records(h: Harness, leads: list[str]) -> list[RawRecord]:
    topic = h.settings.topic(topics.LEADS_ROUTED)
    return [RawRecord(lead.encode(), routed(lead).to_json_bytes(), topic, i % 2, i) for i, lead in enumerate(leads)]


@pytest.mark.parametrize(
    ("error", "backoff"),
    [
        (
            SalesforceCallError("rate_limited", 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded"),
            {"rate_limit_base_seconds": 20.0, "rate_limit_cap_seconds": 40.0},
        ),
        (
            SalesforceCallError("retry", 503, "SERVER_UNAVAILABLE", "down for maintenance"),
            {"retry_base_seconds": 20.0, "retry_cap_seconds": 40.0},
        ),
    ],
    ids=["limit", "outage"],
)
async def test_salesforce_refusing_work_pauses_every_partition_then_the_rewound_batch_is_written_once(
    sqlite_url: str, error: SalesforceCallError, backoff: dict[str, float]
) -> None:
    h = build_harness(sqlite_url, **backoff)  # Salesforce's pause outlasts the 1 s hold: the batch waits
    await h.app.state.repo.create_tables()
    h.fake.fail_calls = [error] * 500
    (runtime,) = h.app.state.consumers
    topic = h.settings.topic(topics.LEADS_ROUTED)
    assigned = {TopicPartition(topic, p) for p in range(3)} | {TopicPartition(h.settings.topic(topics.SLA_EVENTS), 0)}
    consumer = Consumer(assigned)
    records = _records(h, [f"held-{i}" for i in range(4)])
    async with TestKafkaBroker(h.broker):
        runtime.subscriber = SimpleNamespace(consumer=consumer)
        with pytest.raises(RetryAfter) as waited:
            await runtime.handle(records)
        assert waited.value.whole_assignment and waited.value.seconds >= 5
        assert consumer.paused_now == assigned, "Salesforce is shared: every assigned partition waits"
        assert runtime.consecutive_failures == 0, "a wait, not an infrastructure back-off"
        assert h.synced == [] and h.dead == [] and h.fake.table("Lead") == {}
        ids = [routed(f"held-{i}").event_id for i in range(4)]
        assert await h.app.state.repo.already_processed(ids) == set(), "nothing claimed: it is all read again"
        status = runtime.status()
        assert status["waiting"] and status["wait_reason"] == h.app.state.writer.pause_reason
        transport = httpx.ASGITransport(app=h.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ready = (await client.get("/readyz")).json()
            shown = (await client.get("/status")).json()
        assert ready["status"][runtime.name]["waiting"] is True, "the platform's /readyz shows every consumer"
        assert ready["status"][runtime.name]["consecutive_failures"] == 0 and ready["checks"]["consumer:crm-sync"]
        assert shown["consumer_paused"] is True and shown["consumers"][0]["paused_partitions"]

        h.fake.fail_calls = []  # Salesforce is back; the timer resumes the partitions
        h.app.state.writer.paused_until = 0.0
        runtime.resume()
        assert consumer.paused_now == set() and not runtime.status()["waiting"]
        await runtime.handle(records)  # the rewound batch, read again
        await runtime.handle(records)  # and a redelivery of it
    assert sorted(s["lead_id"] for s in h.synced) == [f"held-{i}" for i in range(4)]
    assert len(h.fake.table("Lead")) == 4 and h.dead == []
    await h.app.state.engine.dispose()


async def test_a_session_that_cannot_be_renewed_waits_too(h: Harness) -> None:
    h.fake.fail_calls = [SalesforceCallError("session", 401, "INVALID_SESSION_ID", "Session expired or invalid")] * 500
    (runtime,) = h.app.state.consumers
    async with TestKafkaBroker(h.broker):
        runtime.subscriber = SimpleNamespace(consumer=Consumer({TopicPartition("x", 0)}))
        with pytest.raises(RetryAfter):
            await runtime.handle(_records(h, ["revoked"]))
    assert h.synced == [] and h.dead == [] and runtime.waits == 1
    runtime.resume()
    await h.app.state.engine.dispose()


async def test_a_refused_value_dead_letter_is_counted_by_the_runtime_and_keeps_what_ops_reads(h: Harness) -> None:
    h.fake.record_errors["lead-bad"] = [("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
    (runtime,) = h.app.state.consumers
    bad = routed("lead-bad")
    topic = h.settings.topic(topics.LEADS_ROUTED)
    batch = [*_records(h, ["lead-good"]), RawRecord(b"lead-bad", bad.to_json_bytes(), topic, 0, 9)]
    async with TestKafkaBroker(h.broker):
        await runtime.handle(batch)
        await runtime.handle(batch)  # a redelivery: applied already, nothing new
    (letter,) = h.dead
    assert runtime.dead_lettered == 1 and [s["lead_id"] for s in h.synced] == ["lead-good"]
    assert letter["reason"] == "salesforce:INVALID_CROSS_REFERENCE_KEY" and letter["not_in_salesforce"] is True
    assert letter["detail"]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY" and letter["detail"]["operation"]
    assert letter["topic"] == topics.LEADS_ROUTED and letter["service"] == "crm-sync"
    assert letter["lead_id"] == "lead-bad" and letter["message"] == "invalid cross reference id"
    assert base64.b64decode(letter["original_base64"]) == bad.to_json_bytes()
    await h.app.state.engine.dispose()


def test_crm_sync_runs_one_range_assigned_group_member_per_consumer(sqlite_url: str) -> None:
    h = build_harness(sqlite_url, consumers=2)
    runtimes: list[Any] = h.app.state.consumers
    assert len(runtimes) == 2 and len({r.name for r in runtimes}) == 2
    assert set(runtimes[0].topics) == {
        h.settings.topic(t) for t in (topics.LEADS_ROUTED, topics.SLA_EVENTS, topics.CRM_CHANGES)
    }
    options = group_options(h.settings)
    assert options["partition_assignment_strategy"] == (RangePartitionAssignor,)
    assert options["session_timeout_ms"] == 45_000 and options["heartbeat_interval_ms"] == 4_500
    assert options["max_poll_interval_ms"] == 300_000


def _spread(h: Harness, leads: list[str], partitions: int) -> list[RawRecord]:
    topic = h.settings.topic(topics.LEADS_ROUTED)
    return [
        RawRecord(lead.encode(), routed(lead).to_json_bytes(), topic, i % partitions, i // partitions)
        for i, lead in enumerate(leads)
    ]


def _watch_parts(h: Harness, fail_once_on: str | None = None) -> list[tuple[str, Any]]:
    """Wrap the use case's ``process``: record each call's entry and exit (with its leads), and raise once for
    the call holding ``fail_once_on``, after the other calls of its batch have done their work."""
    service = h.app.state.service
    original = service.process
    seen: list[tuple[str, Any]] = []
    failed: list[bool] = []

    async def process(records: list[Any], backlog: int = 0) -> Any:
        leads = sorted(r.parsed().lead_id for r in records)
        seen.append(("enter", leads))
        if fail_once_on in leads and not failed:
            failed.append(True)
            await asyncio.sleep(0.05)  # the other group commits meanwhile
            seen.append(("raise", leads))
            raise RuntimeError("the code failed on this group, once")
        result = await original(records, backlog=backlog)
        seen.append(("exit", leads))
        return result

    service.process = process
    return seen


async def test_a_large_batch_is_written_in_groups_of_whole_partitions_side_by_side_each_lead_once(
    database_url: str,
) -> None:
    h = build_harness(database_url, parallel_parts=2, parallel_min_records=8)
    await h.app.state.repo.create_tables()
    seen = _watch_parts(h)
    leads = [f"big-{i:02d}" for i in range(12)]
    records = _spread(h, leads, 4)
    (runtime,) = h.app.state.consumers
    async with TestKafkaBroker(h.broker):
        await runtime.handle(records)
        await runtime.handle(records)  # a redelivery: every event is claimed already
    even = sorted(r.key.decode() for r in records if r.partition % 2 == 0)
    odd = sorted(r.key.decode() for r in records if r.partition % 2 == 1)
    first = seen[:4]
    assert [step for step, _ in first] == ["enter", "enter", "exit", "exit"], "the two groups ran side by side"
    assert sorted(leads_ for _, leads_ in first[:2]) == sorted([even, odd]), "whole partitions, by parity"
    assert sorted(s["lead_id"] for s in h.synced) == leads, "each lead synced once"
    assert sorted(r["Leadflow_Id__c"] for r in h.fake.table("Lead").values()) == leads
    assert runtime.dead_lettered == 0
    await h.app.state.engine.dispose()


async def test_a_small_batch_stays_whole(database_url: str) -> None:
    h = build_harness(database_url, parallel_parts=2, parallel_min_records=8)
    await h.app.state.repo.create_tables()
    seen = _watch_parts(h)
    (runtime,) = h.app.state.consumers
    async with TestKafkaBroker(h.broker):
        await runtime.handle(_spread(h, [f"small-{i}" for i in range(7)], 4))
    assert [step for step, _ in seen] == ["enter", "exit"]
    assert len(h.synced) == 7
    await h.app.state.engine.dispose()


async def test_when_one_group_fails_the_runtime_reads_the_batch_again_and_the_other_groups_leads_are_written_once(
    database_url: str,
) -> None:
    """One group commits, the other raises: the runtime isolates the failure by running the batch again in
    halves, and the group that was done is skipped as already processed: every lead once in Salesforce and
    once on crm.synced."""
    h = build_harness(database_url, parallel_parts=2, parallel_min_records=2)
    await h.app.state.repo.create_tables()
    leads = [f"part-{i:02d}" for i in range(8)]
    records = _spread(h, leads, 2)
    seen = _watch_parts(h, fail_once_on=records[1].key.decode())  # a lead of the odd group
    (runtime,) = h.app.state.consumers
    async with TestKafkaBroker(h.broker):
        await runtime.handle(records)
    assert any(step == "raise" for step, _ in seen) and any(step == "exit" for step, _ in seen[:3])
    assert sorted(s["lead_id"] for s in h.synced) == leads, "each lead synced once"
    lead_writes = [r["Leadflow_Id__c"] for call in h.fake.writes("Lead") for r in call.records]
    assert sorted(lead_writes) == leads, "no lead written twice"
    assert runtime.dead_lettered == 0
    await h.app.state.engine.dispose()
