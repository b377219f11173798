"""The consumer runtime over the real embedded broker: a multi-partition batch that fails once is read
again from every partition (FastStream >= 0.7.8 rewinds each one) and every record is processed exactly
once; the back-off after a failed batch pauses its partitions only, so another partition's records flow
during it; a record the use case fails on deterministically is dead-lettered within seconds while the rest
of its partition flows; /readyz shows the running consumer and turns red when its fetch task is gone."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from leadflow_contracts import DeadLetter, Event, topics
from leadflow_platform.broker import make_broker
from leadflow_platform.consumer import Batch, BatchPublisher, ConsumerRuntime, Outgoing, subscribe
from leadflow_platform.metrics import CONSUMER_COMMITS
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.settings import ServiceSettings
from leadflow_platform.testing.fixtures import consume, wait_for

pytestmark = pytest.mark.integration


class Ping(Event):
    """The envelope alone."""


def ping(lead: str) -> bytes:
    return Ping(event_id=f"e-{lead}", lead_id=lead, occurred_at="2026-03-02T09:00:00Z").to_json_bytes()


async def produce(bootstrap: str, topic: str, leads: list[str], partition: int | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i, lead in enumerate(leads):  # explicit partitions: every batch spans all three (or one given)
            target = i % 3 if partition is None else partition
            await producer.send(topic, ping(lead), key=lead.encode(), partition=target)
        await producer.flush()
    finally:
        await producer.stop()


async def run(settings: ServiceSettings, use_case: Any, source: str) -> tuple[Any, ConsumerRuntime]:
    broker = make_broker(settings)
    runtime = ConsumerRuntime(
        service="runtime-test",
        contracts={source: Ping},
        use_case=use_case,
        publisher=BatchPublisher(broker, "runtime-test"),
        deadletter_topic=settings.topic(topics.LEADS_DEADLETTER),
        settings=settings,
    )
    subscribe(broker, settings, runtime)
    await broker.start()
    return broker, runtime


async def run_until(
    settings: ServiceSettings, use_case: Any, source: str, done: Any, settle: float = 0.0
) -> ConsumerRuntime:
    """Run the subscriber until ``done()``, ``settle`` seconds more, then stop it gracefully."""
    broker, runtime = await run(settings, use_case, source)
    try:
        await wait_for(done, timeout=60)
        await asyncio.sleep(settle)
    finally:
        await broker.stop()
    return runtime


def make_settings(bootstrap: str, prefix: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="runtime-test",
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        consumer_group=f"runtime-test-{uuid.uuid4().hex[:8]}",
        batch_max_records=100,
        retry_backoff_initial_seconds=0.05,
        retry_backoff_max_seconds=0.2,
    )


async def test_a_failed_multi_partition_batch_is_rewound_on_every_partition_and_processed_once(
    kafka_bootstrap: str, topic_namespace: Any
) -> None:
    settings = make_settings(kafka_bootstrap, topic_namespace.prefix)
    source, sink = settings.topic(topics.LEADS_SCORED), settings.topic(topics.LEADS_ROUTED)
    leads = [f"L{i:03d}" for i in range(60)]
    processed: Counter[str] = Counter()
    failed_batches: list[set[int]] = []

    async def use_case(batch: Batch) -> list[Outgoing]:
        partitions = {item.record.partition for item in batch.items}
        if not failed_batches and len(partitions) > 1:
            failed_batches.append(partitions)
            raise ConnectionError("broker went away mid-batch")
        processed.update(item.lead_id for item in batch.items)
        return [Outgoing(sink, item.record.key, item.record.value) for item in batch.items]

    await produce(kafka_bootstrap, source, leads)
    # anything processed twice would show up during the settle time
    runtime = await run_until(settings, use_case, source, lambda: sum(processed.values()) >= len(leads), settle=0.5)
    assert failed_batches and len(failed_batches[0]) > 1
    assert set(processed) == set(leads)
    assert all(n == 1 for n in processed.values()), {k: n for k, n in processed.items() if n > 1}
    out = await consume(kafka_bootstrap, sink, len(leads) + 1, timeout=3)
    assert Counter(r.key.decode() for r in out) == Counter(leads)
    assert runtime.consecutive_failures == 0


async def test_during_the_back_off_of_a_failed_partition_another_partition_flows(
    kafka_bootstrap: str, topic_namespace: Any
) -> None:
    """Partition 0's batch fails (the database went away): its back-off (1.5-3 s) is a pause of partition 0,
    not a sleep in the handler, so records arriving on partition 1 meanwhile are processed at once; partition
    0's records are read again after the back-off, each processed once."""
    settings = make_settings(kafka_bootstrap, topic_namespace.prefix).model_copy(
        update={"retry_backoff_initial_seconds": 3.0, "retry_backoff_max_seconds": 3.0}
    )
    source = settings.topic(topics.LEADS_SCORED)
    held, flowing = [f"H{i:02d}" for i in range(10)], [f"F{i:02d}" for i in range(10)]
    processed: dict[str, float] = {}
    counts: Counter[str] = Counter()
    failed_at: list[float] = []
    loop = asyncio.get_running_loop()

    async def use_case(batch: Batch) -> list[Outgoing]:
        if not failed_at:
            assert {item.record.partition for item in batch.items} == {0}
            failed_at.append(loop.time())
            raise ConnectionError("database went away")
        for item in batch.items:
            processed.setdefault(item.lead_id, loop.time())
        counts.update(item.lead_id for item in batch.items)
        return []

    broker, runtime = await run(settings, use_case, source)
    try:
        await asyncio.sleep(0.2)
        await produce(kafka_bootstrap, source, held, partition=0)
        await wait_for(lambda: failed_at, timeout=60)
        paused = runtime.status()
        await produce(kafka_bootstrap, source, flowing, partition=1)
        await wait_for(lambda: set(flowing) <= set(processed), timeout=30)
        flowed_after = max(processed[lead] for lead in flowing) - failed_at[0]
        held_meanwhile = set(held) & set(processed)
        await wait_for(lambda: set(held) <= set(processed), timeout=30)
        await asyncio.sleep(0.5)  # anything processed twice would show up now
    finally:
        await broker.stop()
    assert paused["paused_partitions"] == [f"{source}/0"] and paused["consecutive_failures"] == 1
    assert paused["wait_reason"] == "back-off after ConnectionError: database went away"
    assert flowed_after < 1.5 and held_meanwhile == set(), "partition 1 flowed while partition 0 backed off"
    assert min(processed[lead] for lead in held) - failed_at[0] >= 1.4, "partition 0 waited its back-off"
    assert set(counts) == set(held) | set(flowing) and all(n == 1 for n in counts.values())
    assert runtime.consecutive_failures == 0 and not runtime.status()["paused_partitions"]


async def test_readyz_shows_the_running_consumer_and_turns_red_when_its_fetch_task_is_gone(
    kafka_bootstrap: str, topic_namespace: Any
) -> None:
    settings = make_settings(kafka_bootstrap, topic_namespace.prefix)
    source = settings.topic(topics.LEADS_SCORED)
    processed: list[str] = []

    async def use_case(batch: Batch) -> list[Outgoing]:
        processed.extend(item.lead_id for item in batch.items)
        return []

    broker, runtime = await run(settings, use_case, source)
    app = build_http_app(settings, Lifecycle(broker=broker))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            await produce(kafka_bootstrap, source, ["R1", "R2", "R3"])
            await wait_for(lambda: len(processed) == 3, timeout=30)
            healthy = await client.get("/readyz")
            for task in runtime.subscriber.tasks:  # the fetch loop is gone (FastStream restarts a crashed
                task.cancel()  # one; a cancelled one stays gone)
            await asyncio.sleep(0.1)
            dead = await client.get("/readyz")
    finally:
        await broker.stop()
    shown = healthy.json()["status"]["runtime-test"]
    assert healthy.status_code == 200 and healthy.json()["checks"]["consumer:runtime-test"] is True
    assert shown["fetching"] is True and shown["processed"] == 3 and shown["last_batch_age_seconds"] < 30
    assert dead.status_code == 503 and dead.json()["checks"]["consumer:runtime-test"] is False
    assert dead.json()["status"]["runtime-test"]["fetching"] is False


async def test_a_domain_error_is_dead_lettered_within_seconds_while_the_partition_flows(
    kafka_bootstrap: str, topic_namespace: Any
) -> None:
    settings = make_settings(kafka_bootstrap, topic_namespace.prefix)
    source = settings.topic(topics.LEADS_SCORED)
    leads = [f"L{i:03d}" for i in range(30)]
    poison_lead = "L004"  # partition 1, with later records behind it
    processed: Counter[str] = Counter()

    async def use_case(batch: Batch) -> list[Outgoing]:
        for item in batch.items:
            if item.lead_id == poison_lead:
                raise ValueError("calendar has no working time within 3700 days")
        processed.update(item.lead_id for item in batch.items)
        return []

    broker, runtime = await run(settings, use_case, source)
    try:
        await asyncio.sleep(0.2)
        await produce(kafka_bootstrap, source, leads)
        started = asyncio.get_running_loop().time()
        await wait_for(lambda: runtime.dead_lettered >= 1 and sum(processed.values()) >= len(leads) - 1, timeout=60)
        await produce(kafka_bootstrap, source, ["L900", "L901", "L902"])  # the partition keeps flowing
        await wait_for(lambda: {"L900", "L901", "L902"} <= set(processed), timeout=30)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await broker.stop()
    assert set(processed) == (set(leads) - {poison_lead}) | {"L900", "L901", "L902"}
    assert all(n == 1 for n in processed.values())
    [record] = await consume(kafka_bootstrap, settings.topic(topics.LEADS_DEADLETTER), 1, timeout=5)
    letter = DeadLetter.model_validate_json(record.value)
    assert (letter.lead_id, letter.reason, letter.service) == (poison_lead, "processing_error", "runtime-test")
    assert "ValueError: calendar has no working time" in letter.message
    assert base64.b64decode(letter.original_base64) == ping(poison_lead)
    assert elapsed < 30


async def test_a_retry_after_pauses_past_the_poll_interval_without_losing_the_group_and_reads_once(
    kafka_bootstrap: str, topic_namespace: Any
) -> None:
    """A use case asks to wait longer than max.poll.interval (as a Salesforce limit does): the batch's
    partitions are paused, not slept on, so the member keeps polling and stays in the group; no record is
    handed over during the wait; afterwards every record is processed exactly once.

    Membership is read from aiokafka's coordinator (``generation``, ``member_id``): no public accessor has
    it, and ``assignment()`` stays filled after a member left. Checked once by hand: a handler that sleeps
    4 s with this max.poll.interval (2 s) drops to generation -1 and an empty member id within ~2 s."""
    from leadflow_platform.consumer import RetryAfter

    settings = make_settings(kafka_bootstrap, topic_namespace.prefix).model_copy(
        update={"max_poll_interval_ms": 2_000, "session_timeout_ms": 6_000, "partition_assignment_strategy": "range"}
    )
    source = settings.topic(topics.LEADS_SCORED)
    leads = [f"W{i:03d}" for i in range(45)]
    wait_seconds = 4.0
    processed: Counter[str] = Counter()
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def use_case(batch: Batch) -> list[Outgoing]:
        calls.append(loop.time())
        if len(calls) == 1:
            raise RetryAfter(wait_seconds, "REQUEST_LIMIT_EXCEEDED", whole_assignment=True)
        processed.update(item.lead_id for item in batch.items)
        return []

    await produce(kafka_bootstrap, source, leads)
    broker, runtime = await run(settings, use_case, source)
    memberships: list[tuple[int, str]] = []
    try:
        await wait_for(lambda: runtime.waits == 1, timeout=60)
        assert runtime.status()["waiting"] and len(runtime.status()["paused_partitions"]) == 3
        consumer = runtime.consumer
        while loop.time() - calls[0] < wait_seconds - 0.3:
            memberships.append((consumer._coordinator.generation, consumer._coordinator.member_id))
            await asyncio.sleep(0.1)
        assert len(calls) == 1, "nothing is handed over while the partitions are paused"
        await wait_for(lambda: sum(processed.values()) >= len(leads), timeout=60)
        await asyncio.sleep(0.5)
    finally:
        await broker.stop()
    assert calls[1] - calls[0] >= wait_seconds - 0.2
    assert len(memberships) > 20 and len(set(memberships)) == 1, "the member stayed in the group through the wait"
    assert memberships[0][0] >= 0 and memberships[0][1], memberships[0]
    assert set(processed) == set(leads) and all(n == 1 for n in processed.values())
    assert not runtime.status()["waiting"] and runtime.consecutive_failures == 0


async def test_offsets_committed_in_the_background_reach_the_group_and_a_graceful_stop_reads_nothing_twice(
    kafka_bootstrap: str, topic_namespace: Any
) -> None:
    """The runtime commits off the consume loop (``commit_in_background``, the default): after a graceful stop
    the group's committed offsets are each partition's end, and a new member of the group reads nothing again."""
    settings = make_settings(kafka_bootstrap, topic_namespace.prefix)
    assert settings.commit_in_background
    source, sink = settings.topic(topics.LEADS_SCORED), settings.topic(topics.LEADS_ROUTED)
    leads = [f"C{i:03d}" for i in range(60)]
    processed: Counter[str] = Counter()

    async def use_case(batch: Batch) -> list[Outgoing]:
        processed.update(item.lead_id for item in batch.items)
        return [Outgoing(sink, item.record.key, item.record.value) for item in batch.items]

    commits_before = _background_commits(settings.service_name)
    await produce(kafka_bootstrap, source, leads)
    await run_until(settings, use_case, source, lambda: sum(processed.values()) >= len(leads))
    assert _background_commits(settings.service_name) > commits_before, "the runtime's committer sent the commits"
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=settings.group_id())
    await reader.start()
    try:
        committed = {p: await reader.committed(TopicPartition(source, p)) for p in range(3)}
    finally:
        await reader.stop()
    assert committed == {0: 20, 1: 20, 2: 20}

    again: Counter[str] = Counter()

    async def second(batch: Batch) -> list[Outgoing]:
        again.update(item.lead_id for item in batch.items)
        return []

    await produce(kafka_bootstrap, source, ["C-after"])
    await run_until(settings, second, source, lambda: sum(again.values()) >= 1, settle=0.5)
    assert again == Counter({"C-after": 1})


def _background_commits(service: str) -> float:
    """Commits the runtime's ``BackgroundCommitter`` sent for ``service`` (all its consumers)."""
    return sum(
        sample.value
        for metric in CONSUMER_COMMITS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
        and sample.labels.get("service") == service
        and sample.labels.get("result") == "ok"
    )


async def test_a_record_reaching_an_idle_consumer_is_handled_without_waiting_out_its_poll_timeout(
    kafka_bootstrap: str, topic_namespace: Any
) -> None:
    """``batch_timeout_ms`` only sets how often an idle consumer's loop turns: a poll wakes on the fetch that
    brings a record. With a 5 s poll timeout, five records produced 0.4 s apart into an idle topic are each
    handled within a second of their send. Were a poll to wait out its timeout, at least one of them would
    wait more than 1.6 s (five sends span 1.6 s, and turns are 5 s apart)."""
    settings = make_settings(kafka_bootstrap, topic_namespace.prefix).model_copy(update={"batch_timeout_ms": 5_000})
    source = settings.topic(topics.LEADS_SCORED)
    handled: dict[str, float] = {}

    async def use_case(batch: Batch) -> list[Outgoing]:
        now = asyncio.get_running_loop().time()
        handled.update((item.lead_id, now) for item in batch.items)
        return []

    broker, _runtime = await run(settings, use_case, source)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        await producer.send_and_wait(source, ping("warm"), key=b"warm")
        await wait_for(lambda: "warm" in handled, timeout=60)  # joined, assigned, and polling
        await asyncio.sleep(0.3)  # now inside an idle poll
        for i in range(5):
            lead = f"idle-{i}"
            sent[lead] = asyncio.get_running_loop().time()
            await producer.send_and_wait(source, ping(lead), key=lead.encode())
            await asyncio.sleep(0.4)
        await wait_for(lambda: set(sent) <= set(handled), timeout=30)
    finally:
        await producer.stop()
        await broker.stop()
    waits = {lead: round(handled[lead] - at, 3) for lead, at in sent.items()}
    assert max(waits.values()) < 1.0, waits
