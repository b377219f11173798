"""The consumer runtime's policy, with a recording publisher (no broker): parse once, poison and
deterministic errors dead-lettered, infrastructure errors backed off (a pause, not a sleep) and re-raised
(rewind)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_contracts import DeadLetter
from leadflow_platform.clock import FakeClock
from leadflow_platform.consumer import (
    BackgroundCommitter,
    Batch,
    ConsumerRuntime,
    DomainError,
    InfrastructureError,
    Outgoing,
    RetryPolicy,
    _mean_age,
    is_infrastructure_error,
    subscribe,
)
from leadflow_platform.kafka_io import RawRecord
from leadflow_platform.settings import ServiceSettings
from leadflow_platform.testing.consumer import Envelope, RecordingPublisher
from leadflow_platform.testing.consumer import lead_record as envelope_record
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPIC = "leads.routed"


def record(value: bytes, offset: int, key: str | None = None, partition: int = 0) -> RawRecord:
    return RawRecord(key.encode() if key else None, value, TOPIC, partition, offset)


def lead_record(lead: str, offset: int, partition: int = 0) -> RawRecord:
    return envelope_record(lead, offset, at=NOW, topic=TOPIC, partition=partition)


def runtime(use_case, publisher: RecordingPublisher) -> ConsumerRuntime:
    return ConsumerRuntime(
        service="test",
        contracts={TOPIC: Envelope},
        use_case=use_case,
        publisher=publisher,  # type: ignore[arg-type]
        deadletter_topic="leads.deadletter",
        clock=FakeClock(NOW),
        retry=RetryPolicy(0.1, 1.0),
        monotonic=lambda: 1000.0,  # frozen: paused_for() is the back-off the runtime paused for
    )


async def back_off_of(rt: ConsumerRuntime, batch: list[RawRecord], error: type[BaseException]) -> float:
    """Hand ``rt`` a batch that fails with ``error``: the back-off it paused for (then resumed at once)."""
    with pytest.raises(error):
        await rt.handle(batch)
    paused = rt.paused_for()
    rt.resume()
    return paused


def echo(seen: list[str], fail: dict[str, Exception] | None = None, times: dict[str, int] | None = None):
    async def use_case(batch: Batch) -> list[Outgoing]:
        for item in batch.items:
            lead = item.event.lead_id
            if fail and lead in fail:
                if times is None or times.get(lead, 0) > 0:
                    if times is not None:
                        times[lead] -= 1
                    raise fail[lead]
        seen.extend(item.event.lead_id for item in batch.items)
        return [Outgoing("out", item.event.kafka_key(), item.record.value) for item in batch.items]

    return use_case


async def test_a_clean_batch_is_parsed_once_and_published_in_one_call():
    pub, seen = RecordingPublisher(), []
    rt = runtime(echo(seen), pub)
    await rt.handle([lead_record(f"L{i}", i) for i in range(5)])
    assert seen == [f"L{i}" for i in range(5)]
    assert [json.loads(m.value)["lead_id"] for m in pub.sent] == seen
    assert rt.paused_for() == 0 and rt.dead_lettered == 0


async def test_poison_is_dead_lettered_with_reason_bytes_key_and_a_deterministic_id():
    pub, seen = RecordingPublisher(), []
    rt = runtime(echo(seen), pub)
    bad = record(b'{"lead_id": 7', 3, key="L-bad")
    batch = [lead_record("L1", 1), bad, lead_record("L2", 2)]
    await rt.handle(batch)
    letters = [DeadLetter.model_validate(d) for d in pub.on("leads.deadletter")]
    assert seen == ["L1", "L2"]
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.lead_id, letter.reason, letter.service, letter.topic) == ("L-bad", "invalid_event", "test", TOPIC)
    assert base64.b64decode(letter.original_base64) == bad.value
    assert letter.message
    again = RecordingPublisher()
    await runtime(echo([]), again).handle(batch)
    assert [d["event_id"] for d in again.on("leads.deadletter")] == [letter.event_id]


@pytest.mark.parametrize("error", [ValueError("no calendar time"), KeyError("team"), DomainError("bad lead")])
async def test_a_record_failing_the_same_way_twice_is_dead_lettered_and_the_rest_flows(error):
    pub, seen = RecordingPublisher(), []
    rt = runtime(echo(seen, fail={"L3": error}), pub)
    bad = lead_record("L3", 3)
    await rt.handle([lead_record(f"L{i}", i) for i in range(3)] + [bad] + [lead_record(f"L{i}", i) for i in (4, 5)])
    assert sorted(seen) == ["L0", "L1", "L2", "L4", "L5"]
    letters = [DeadLetter.model_validate(d) for d in pub.on("leads.deadletter")]
    assert [(d.lead_id, d.reason) for d in letters] == [("L3", "processing_error")]
    assert type(error).__name__ in letters[0].message and str(error.args[0]) in letters[0].message
    assert base64.b64decode(letters[0].original_base64) == bad.value
    assert sorted(json.loads(m.value)["lead_id"] for m in pub.sent if m.topic == "out") == sorted(seen)
    assert rt.paused_for() == 0 and rt.consecutive_failures == 0


async def test_a_record_that_fails_once_then_succeeds_is_processed_not_dead_lettered():
    pub, seen = RecordingPublisher(), []
    rt = runtime(echo(seen, fail={"L1": ValueError("flaky")}, times={"L1": 1}), pub)
    await rt.handle([lead_record("L0", 0), lead_record("L1", 1)])
    assert sorted(seen) == ["L0", "L1"] and pub.on("leads.deadletter") == []


async def test_a_record_that_fails_differently_the_second_time_is_retried_not_dead_lettered():
    calls = {"n": 0}

    async def use_case(batch: Batch) -> list[Outgoing]:
        calls["n"] += 1
        raise ValueError(f"attempt {calls['n']}")

    pub = RecordingPublisher()
    rt = runtime(use_case, pub)
    assert await back_off_of(rt, [lead_record("L0", 0)], ValueError) > 0
    assert pub.on("leads.deadletter") == [] and rt.consecutive_failures == 1


@pytest.mark.parametrize(
    "error", [ConnectionError("broker gone"), TimeoutError(), OSError("disk"), InfrastructureError("db down")]
)
async def test_infrastructure_errors_back_off_with_a_growing_capped_delay_and_reraise(error):
    async def use_case(batch: Batch) -> list[Outgoing]:
        raise error

    pub = RecordingPublisher()
    rt = runtime(use_case, pub)
    batch = [lead_record("L0", 0), lead_record("L1", 1, partition=1)]
    pauses = [await back_off_of(rt, batch, type(error)) for _ in range(8)]
    assert pub.sent == []  # nothing dead-lettered: the batch is rewound and read again
    assert all(0 < s <= 1.0 for s in pauses)
    assert pauses[0] <= 0.1 and max(pauses[-3:]) >= 0.5
    assert rt.status()["consecutive_failures"] == 8 and rt.waits == 0  # a back-off, not a wait
    ok = runtime(echo([]), pub)
    ok.consecutive_failures = 5
    await ok.handle([lead_record("L0", 0)])
    assert ok.consecutive_failures == 0


def test_wrapped_infrastructure_errors_are_recognised():
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("query failed") from inner
    except RuntimeError as outer:
        assert is_infrastructure_error(outer)
    assert not is_infrastructure_error(ValueError("x"))
    assert not is_infrastructure_error(DomainError("x"))


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=40),
    bad=st.sets(st.integers(min_value=0, max_value=39), max_size=6),
    poison=st.sets(st.integers(min_value=0, max_value=39), max_size=4),
)
async def test_every_record_is_processed_or_dead_lettered_exactly_once(size, bad, poison):
    bad = {i for i in bad if i < size} - poison
    poison = {i for i in poison if i < size}
    records = [
        record(b"not json", i, key=f"L{i}") if i in poison else lead_record(f"L{i}", i, partition=i % 3)
        for i in range(size)
    ]
    pub, seen = RecordingPublisher(), []
    rt = runtime(echo(seen, fail={f"L{i}": ValueError(f"bad {i}") for i in bad}), pub)
    await rt.handle(records)
    letters = [DeadLetter.model_validate(d) for d in pub.on("leads.deadletter")]
    assert sorted(seen) == sorted(f"L{i}" for i in range(size) if i not in bad | poison)
    assert len(seen) == len(set(seen))
    assert sorted(d.lead_id for d in letters) == sorted(f"L{i}" for i in bad | poison)
    assert {d.reason for d in letters if d.lead_id in {f"L{i}" for i in bad}} <= {"processing_error"}


def test_retry_policy_is_capped_and_jittered():
    policy = RetryPolicy(0.2, 5.0)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 20)]
    assert all(0 < d <= 5.0 for d in delays)
    assert delays[0] <= 0.2 and max(delays) > 2.5
    assert len({round(d, 6) for d in delays[-5:]}) == 5  # jittered, not a fixed step
    assert RetryPolicy(0.2, 0).delay(3) == 0.0


async def test_raw_topics_are_handed_over_unparsed_and_a_failing_raw_record_is_isolated():
    seen: list[bytes] = []

    async def use_case(batch: Batch) -> list[Outgoing]:
        assert not batch.items and not batch.poison
        if any(r.value == b"boom" for r in batch.raw):
            raise ValueError("cannot judge these bytes")
        seen.extend(r.value for r in batch.raw)
        return []

    pub = RecordingPublisher()
    rt = ConsumerRuntime(
        service="intake-like",
        contracts={"leads.inbound": None},
        use_case=use_case,
        publisher=pub,  # type: ignore[arg-type]
        deadletter_topic="leads.deadletter",
        clock=FakeClock(NOW),
    )
    records = [
        RawRecord(b"k1", b"not even json", "leads.inbound", 0, 0),
        RawRecord(b"k2", b"boom", "leads.inbound", 1, 5),
        RawRecord(None, b"{}", "leads.inbound", 2, 9),
    ]
    await rt.handle(records)
    assert seen == [b"not even json", b"{}"]
    [letter] = [DeadLetter.model_validate(d) for d in pub.on("leads.deadletter")]
    assert (letter.lead_id, letter.reason, base64.b64decode(letter.original_base64)) == (
        "k2",
        "processing_error",
        b"boom",
    )


def test_database_errors_are_classified_by_what_a_retry_can_fix():
    import sqlite3

    from sqlalchemy import exc as sa_exc

    class Deadlock(Exception):
        sqlstate = "40P01"

    class UniqueViolation(Exception):
        sqlstate = "23505"

    locked = sa_exc.OperationalError("UPDATE t", {}, sqlite3.OperationalError("database is locked"))
    assert is_infrastructure_error(locked)
    assert is_infrastructure_error(sa_exc.DBAPIError("UPDATE t", {}, Deadlock()))
    assert is_infrastructure_error(sa_exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True))
    assert not is_infrastructure_error(sa_exc.IntegrityError("INSERT", {}, UniqueViolation()))


class _IdleConsumer:
    """aiokafka's getmany on an idle topic: nothing for a while, then one record."""

    def __init__(self, empty_polls: int) -> None:
        self.empty_polls = empty_polls
        self.calls: list[tuple[int, int | None]] = []

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[str, list[str]]:
        self.calls.append((timeout_ms, max_records))
        if len(self.calls) <= self.empty_polls:
            return {}
        return {"tp0": ["r1", "r2"], "tp1": ["r3"]}


async def test_an_empty_poll_is_not_followed_by_a_sleep():
    """FastStream's batch subscriber sleeps batch_timeout_ms after an empty poll, so a record arriving
    then waits up to that long per hop; the runtime's subscribers poll again at once."""
    from faststream.kafka import KafkaBroker
    from faststream.kafka.subscriber.usecase import BatchSubscriber

    settings = ServiceSettings(service_name="runtime-test", batch_timeout_ms=400, batch_max_records=7)
    broker = KafkaBroker("127.0.0.1:1")
    runtime = ConsumerRuntime(
        service="runtime-test",
        contracts={"t": Envelope},
        use_case=lambda batch: [],
        publisher=RecordingPublisher(),
        deadletter_topic="dlq",
        settings=settings,
    )
    subscriber = subscribe(broker, settings, runtime)
    idle = _IdleConsumer(empty_polls=1)
    started = time.perf_counter()
    assert await subscriber.get_msg(idle) == ()
    assert await subscriber.get_msg(idle) == ("r1", "r2", "r3")
    assert time.perf_counter() - started < 0.2
    assert idle.calls == [(400, 7), (400, 7)]
    # FastStream's own get_msg, on the same idle consumer, does sleep (why the runtime replaces it)
    plain = BatchSubscriber.get_msg
    idle = _IdleConsumer(empty_polls=1)
    started = time.perf_counter()
    assert await plain(subscriber, idle) == ()
    assert time.perf_counter() - started >= 0.39


def phase_sums(service: str) -> dict[str, tuple[float, float]]:
    """(count, sum) of ``leadflow_consumer_phase_seconds`` per phase for ``service``."""
    out: dict[str, tuple[float, float]] = {}
    for metric in REGISTRY.collect():
        if metric.name != "leadflow_consumer_phase_seconds":
            continue
        for sample in metric.samples:
            if sample.labels.get("service") != service or sample.name.endswith("_bucket"):
                continue
            count, total = out.get(sample.labels["phase"], (0.0, 0.0))
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
            out[sample.labels["phase"]] = (count, total)
    return out


async def test_a_batch_s_time_is_split_into_the_phases_of_its_budget() -> None:
    class SlowPublisher(RecordingPublisher):
        async def publish_all(self, messages):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.03)
            await super().publish_all(messages)

    async def use_case(batch: Batch) -> list[Outgoing]:
        await asyncio.sleep(0.05)
        return [Outgoing("out", item.event.kafka_key(), item.record.value) for item in batch.items]

    rt = runtime(use_case, SlowPublisher())
    rt.service = "phases"
    aged = int((time.time() - 2.0) * 1000)
    batch = [replace(lead_record(f"L{i}", i), timestamp_ms=aged) for i in range(3)]
    before = phase_sums("phases")
    await rt.handle(batch)
    time.sleep(0.02)  # FastStream's ack (the offset commit) runs here, before the next poll
    rt.polled()
    rt.polled()  # a second poll without a batch in between adds nothing
    after = phase_sums("phases")
    delta = {p: (after[p][0] - before.get(p, (0, 0))[0], after[p][1] - before.get(p, (0, 0))[1]) for p in after}
    assert {p: c for p, (c, _) in delta.items()} == dict.fromkeys(["waited", "parse", "use_case", "publish", "ack"], 1)
    assert 1.9 < delta["waited"][1] < 3.0
    assert 0.05 <= delta["use_case"][1] < 0.5
    assert 0.03 <= delta["publish"][1] < 0.5
    assert 0.02 <= delta["ack"][1] < 0.5
    assert 0 <= delta["parse"][1] < 0.05


async def test_records_without_a_timestamp_have_no_age() -> None:
    assert _mean_age([record(b"{}", 0)], time.time()) == 0.0
    now = time.time()
    stamped = [RawRecord(None, b"", TOPIC, 0, i, int((now - age) * 1000)) for i, age in enumerate((1.0, 3.0))]
    assert _mean_age(stamped, now) == pytest.approx(2.0, abs=0.01)
    assert _mean_age([RawRecord(None, b"", TOPIC, 0, 0, int((now + 5) * 1000))], now) == 0.0


class CommittingConsumer:
    """Stands in for aiokafka's consumer: records each commit; the first one waits until released."""

    def __init__(self, assigned: set[Any], fail: bool = False) -> None:
        self.commits: list[dict[Any, int]] = []
        self.release = asyncio.Event()
        self.assigned, self.fail = assigned, fail

    async def commit(self, offsets: dict[Any, int]) -> None:
        if not self.commits:
            await self.release.wait()
        self.commits.append(dict(offsets))
        if self.fail:
            raise ConnectionError("coordinator gone")

    def assignment(self) -> set[Any]:
        return self.assigned


class Message:
    def __init__(self, consumer: Any) -> None:
        self.consumer, self.committed = consumer, None


async def test_background_commits_never_overlap_and_acks_in_flight_go_out_together() -> None:
    consumer = CommittingConsumer(set())
    committer = BackgroundCommitter("test", "test")
    assert committer.take(Message(consumer), [record(b"{}", 4, partition=0), record(b"{}", 9, partition=1)])
    await asyncio.sleep(0)  # the first commit is in flight (waiting)
    committer.take(Message(consumer), [record(b"{}", 5, partition=0)])
    committer.take(Message(consumer), [record(b"{}", 7, partition=0), record(b"{}", 2, partition=2)])
    consumer.release.set()
    await committer.flush()
    p0, p1, p2 = (TopicPartition(TOPIC, p) for p in range(3))
    assert consumer.commits == [{p0: 5, p1: 10}, {p0: 8, p2: 3}]
    assert not committer.pending


async def test_a_failed_background_commit_keeps_only_the_partitions_still_assigned() -> None:
    p0, p1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    consumer = CommittingConsumer({p0}, fail=True)
    consumer.release.set()
    committer = BackgroundCommitter("test", "test")
    committer.take(Message(consumer), [record(b"{}", 3, partition=0), record(b"{}", 6, partition=1)])
    await committer.flush()
    assert consumer.commits[0] == {p0: 4, p1: 7}
    assert committer.pending == {p0: 4}  # p1 was taken by a rebalance: its new owner reads from the group's offset


async def test_commit_interval_spaces_the_commits_and_each_carries_every_ack_since_the_last() -> None:
    consumer = CommittingConsumer(set())
    consumer.release.set()
    committer = BackgroundCommitter("test", "test", interval=0.3)
    loop = asyncio.get_running_loop()
    committer.take(Message(consumer), [record(b"{}", 1, partition=0)])
    await asyncio.sleep(0.01)
    first = loop.time()
    assert len(consumer.commits) == 1  # the first ack is committed at once
    for offset in (2, 3, 4):
        committer.take(Message(consumer), [record(b"{}", offset, partition=0)])
        await asyncio.sleep(0.02)
    assert len(consumer.commits) == 1, "acks within the interval wait for the next commit"
    while len(consumer.commits) < 2:
        await asyncio.sleep(0.01)
    p0 = TopicPartition(TOPIC, 0)
    assert consumer.commits == [{p0: 2}, {p0: 5}]
    assert loop.time() - first >= 0.25


async def test_a_graceful_stop_does_not_wait_out_the_commit_interval() -> None:
    consumer = CommittingConsumer(set())
    consumer.release.set()
    committer = BackgroundCommitter("test", "test", interval=60.0)
    committer.take(Message(consumer), [record(b"{}", 1, partition=0)])
    await asyncio.sleep(0.01)
    committer.take(Message(consumer), [record(b"{}", 7, partition=1)])
    await asyncio.wait_for(committer.flush(), timeout=2.0)
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 2}, {TopicPartition(TOPIC, 1): 8}]
    assert not committer.pending


async def test_a_graceful_stop_during_a_commit_sends_the_acks_behind_it_without_waiting_out_the_interval() -> None:
    consumer = CommittingConsumer(set())  # the first commit waits until released
    committer = BackgroundCommitter("test", "test", interval=60.0)
    committer.take(Message(consumer), [record(b"{}", 1, partition=0)])
    await asyncio.sleep(0.01)
    committer.take(Message(consumer), [record(b"{}", 7, partition=1)])
    flushing = asyncio.ensure_future(committer.flush())
    await asyncio.sleep(0.01)
    consumer.release.set()
    await asyncio.wait_for(flushing, timeout=2.0)
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 2}, {TopicPartition(TOPIC, 1): 8}]
    assert not committer.pending


async def test_a_message_without_a_real_consumer_is_acknowledged_the_usual_way() -> None:
    committer = BackgroundCommitter("test", "test")
    assert not committer.take(Message(None), [record(b"{}", 1)])
    acked = Message(CommittingConsumer(set()))
    acked.committed = "ACKED"  # type: ignore[assignment]
    assert not committer.take(acked, [record(b"{}", 1)])
    assert not committer.pending
