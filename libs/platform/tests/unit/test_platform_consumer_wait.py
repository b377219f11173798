"""The runtime's wait policy (``RetryAfter``): the batch's partitions are paused on the consumer, the batch is
rewound, the partitions resume on a timer; nothing sleeps in the handler, nothing is dead-lettered; an
infrastructure error's back-off is the same pause, of the batch's partitions only; ``/readyz`` shows every
consumer runtime of the service's broker and is red when one has no fetch task left; the group options
and the backlog behind a batch come from the settings and the consumer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from faststream.kafka import KafkaBroker
from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_platform.clock import FakeClock
from leadflow_platform.consumer import (
    Batch,
    ConsumerRuntime,
    Outgoing,
    RetryAfter,
    RetryPolicy,
    consumers_of,
    group_options,
    is_infrastructure_error,
    subscribe,
)
from leadflow_platform.kafka_io import RawRecord
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.settings import ServiceSettings
from leadflow_platform.testing.consumer import Envelope, RecordingPublisher
from leadflow_platform.testing.consumer import lead_record as envelope_record

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPIC = "leads.routed"


class FakeConsumer:
    """The part of AIOKafkaConsumer the runtime uses: assignment, pause/resume/paused, highwater."""

    def __init__(self, assigned: set[TopicPartition], high: dict[TopicPartition, int] | None = None) -> None:
        self.assigned = set(assigned)
        self._paused: set[TopicPartition] = set()
        self.high = high or {}
        self.calls: list[tuple[str, TopicPartition]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        for tp in tps:
            if tp not in self.assigned:
                raise RuntimeError(f"{tp} is not assigned")
            self._paused.add(tp)
            self.calls.append(("pause", tp))

    def resume(self, *tps: TopicPartition) -> None:
        for tp in tps:
            if tp not in self.assigned:
                raise RuntimeError(f"{tp} is not assigned")
            self._paused.discard(tp)
            self.calls.append(("resume", tp))

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high.get(tp)


class Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def lead_record(lead: str, offset: int, partition: int = 0, topic: str = TOPIC) -> RawRecord:
    return envelope_record(lead, offset, at=NOW, topic=topic, partition=partition)


def make_runtime(use_case: Any, consumer: FakeConsumer | None, **kw: Any) -> ConsumerRuntime:
    options: dict[str, Any] = {"retry": RetryPolicy(0.1, 1.0), **kw}
    return ConsumerRuntime(
        service="test",
        contracts={TOPIC: Envelope, "crm.changes": Envelope},
        use_case=use_case,
        publisher=RecordingPublisher(),  # type: ignore[arg-type]
        deadletter_topic="leads.deadletter",
        clock=FakeClock(NOW),
        subscriber=SimpleNamespace(consumer=consumer),
        **options,
    )


def limited(seconds: float, *, whole: bool = False):
    async def use_case(batch: Batch) -> list[Outgoing]:
        raise RetryAfter(seconds, "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded", whole_assignment=whole)

    return use_case


async def test_a_retry_after_pauses_the_batch_partitions_rewinds_and_resumes_on_a_timer() -> None:
    tps = {TopicPartition(TOPIC, p) for p in range(3)}
    consumer = FakeConsumer(tps)
    rt = make_runtime(limited(0.05), consumer)
    batch = [lead_record("L0", 0, 0), lead_record("L1", 4, 2)]
    with pytest.raises(RetryAfter):
        await rt.handle(batch)
    assert consumer.paused() == {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 2)}, "only the batch's partitions"
    assert rt.publisher.sent == [] and rt.dead_lettered == 0 and rt.consecutive_failures == 0  # type: ignore[attr-defined]
    status = rt.status()
    assert status["waiting"] and status["wait_reason"].startswith("REQUEST_LIMIT_EXCEEDED")
    assert status["paused_partitions"] == [f"{TOPIC}/0", f"{TOPIC}/2"] and rt.waits == 1
    await asyncio.sleep(0.2)
    assert consumer.paused() == set() and not rt.status()["waiting"] and rt.status()["wait_reason"] is None


async def test_whole_assignment_pauses_every_assigned_partition() -> None:
    tps = {TopicPartition(TOPIC, p) for p in range(3)} | {TopicPartition("crm.changes", 1)}
    consumer = FakeConsumer(tps)
    rt = make_runtime(limited(30, whole=True), consumer)
    with pytest.raises(RetryAfter):
        await rt.handle([lead_record("L0", 0, 1)])
    assert consumer.paused() == tps
    rt.resume()
    assert consumer.paused() == set()


async def test_a_later_wait_extends_the_pause_and_one_timer_resumes() -> None:
    consumer, clock = FakeConsumer({TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)}), Monotonic()
    rt = make_runtime(limited(0.05), consumer, monotonic=clock)
    with pytest.raises(RetryAfter):
        await rt.handle([lead_record("L0", 0, 0)])
    rt.use_case = limited(10)
    with pytest.raises(RetryAfter):
        await rt.handle([lead_record("L1", 0, 1)])
    assert rt.paused_for() == pytest.approx(10)
    await asyncio.sleep(0.15)  # the first, shorter timer was replaced
    assert consumer.paused() == {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)}
    clock.t += 10
    assert rt.paused_for() == 0
    rt.resume()
    assert consumer.paused() == set() and rt.waits == 2


async def test_partitions_revoked_during_the_wait_are_skipped_at_resume() -> None:
    mine, gone = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    consumer = FakeConsumer({mine, gone})
    rt = make_runtime(limited(30), consumer)
    with pytest.raises(RetryAfter):
        await rt.handle([lead_record("L0", 0, 0), lead_record("L1", 0, 1)])
    consumer.assigned.discard(gone)  # a rebalance took it away
    rt.resume()
    assert rt.status()["paused_partitions"] == [] and not rt.status()["waiting"]
    assert ("resume", mine) in consumer.calls and ("resume", gone) not in consumer.calls


async def test_without_a_consumer_the_wait_is_recorded_and_nothing_breaks() -> None:
    rt = make_runtime(limited(0.01), None)
    with pytest.raises(RetryAfter):
        await rt.handle([lead_record("L0", 0)])
    assert rt.waits == 1 and rt.behind([lead_record("L0", 0)]) == 0


async def test_a_retry_after_inside_an_isolation_split_rewinds_the_batch_without_dead_letters() -> None:
    calls: list[list[str]] = []

    async def use_case(batch: Batch) -> list[Outgoing]:
        leads = [i.lead_id for i in batch.items]
        calls.append(leads)
        if len(calls) == 1:
            raise ValueError("bug on the first try")
        raise RetryAfter(5, "outage")

    consumer = FakeConsumer({TopicPartition(TOPIC, 0)})
    rt = make_runtime(use_case, consumer)
    with pytest.raises(RetryAfter):
        await rt.handle([lead_record(f"L{i}", i) for i in range(4)])
    assert rt.dead_lettered == 0 and rt.publisher.sent == []  # type: ignore[attr-defined]
    assert consumer.paused() == {TopicPartition(TOPIC, 0)}
    rt.resume()


def test_retry_after_is_neither_infrastructure_nor_negative() -> None:
    assert not is_infrastructure_error(RetryAfter(3))
    assert RetryAfter(-2).seconds == 0.0
    assert "outage" in str(RetryAfter(1.5, "outage"))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([TOPIC, "crm.changes"]), st.integers(0, 3), st.integers(0, 500)),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 1000),
)
def test_behind_is_the_high_watermark_minus_the_next_offset_per_partition(coords, extra) -> None:
    last: dict[TopicPartition, int] = {}
    for topic, partition, offset in coords:
        tp = TopicPartition(topic, partition)
        last[tp] = max(last.get(tp, -1), offset)
    high = {tp: off + 1 + extra for tp, off in last.items()}
    rt = make_runtime(limited(1), FakeConsumer(set(high), high))
    records = [lead_record(f"L{i}", off, p, t) for i, (t, p, off) in enumerate(coords)]
    assert rt.behind(records) == extra * len(last)


async def test_the_use_case_sees_the_backlog_behind_its_batch() -> None:
    seen: list[int] = []

    async def use_case(batch: Batch) -> list[Outgoing]:
        seen.append(batch.behind)
        return []

    tp = TopicPartition(TOPIC, 0)
    rt = make_runtime(use_case, FakeConsumer({tp}, {tp: 1000}))
    await rt.handle([lead_record(f"L{i}", 90 + i) for i in range(10)])
    assert seen == [1000 - 99 - 1]


def test_group_options_come_from_the_settings_and_default_to_the_client() -> None:
    assert group_options(ServiceSettings()) == {}
    opts = group_options(
        ServiceSettings(partition_assignment_strategy="range", max_poll_interval_ms=600_000, session_timeout_ms=45_000)
    )
    assert opts == {
        "partition_assignment_strategy": (RangePartitionAssignor,),
        "max_poll_interval_ms": 600_000,
        "session_timeout_ms": 45_000,
        "heartbeat_interval_ms": 4_500,
    }
    sticky = group_options(ServiceSettings(partition_assignment_strategy="sticky", heartbeat_interval_ms=700))
    assert sticky == {"partition_assignment_strategy": (StickyPartitionAssignor,), "heartbeat_interval_ms": 700}


def test_group_options_are_read_from_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import SettingsConfigDict

    class XSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="XSVC_", extra="ignore")

    monkeypatch.setenv("XSVC_PARTITION_ASSIGNMENT_STRATEGY", "range")
    monkeypatch.setenv("XSVC_SESSION_TIMEOUT_MS", "30000")
    assert group_options(XSettings()) == {
        "partition_assignment_strategy": (RangePartitionAssignor,),
        "session_timeout_ms": 30_000,
        "heartbeat_interval_ms": 3_000,
    }
    monkeypatch.setenv("XSVC_PARTITION_ASSIGNMENT_STRATEGY", "fastest")
    with pytest.raises(ValueError, match="partition_assignment_strategy"):
        XSettings()


class RunningSubscriber:
    """What the runtime reads on a started FastStream subscriber: its consumer, ``running`` and fetch tasks."""

    def __init__(self, consumer: FakeConsumer, tasks: list[asyncio.Task[Any]]) -> None:
        self.consumer = consumer
        self.running = True
        self.tasks = tasks


def registered(use_case: Any, consumer: FakeConsumer, fetch: asyncio.Task[Any]) -> tuple[ConsumerRuntime, Any]:
    """A runtime subscribed on a broker the way every service does it; its subscriber then stands for a
    started one whose fetch task is ``fetch``."""
    broker = KafkaBroker()
    rt = make_runtime(use_case, consumer, name="inputs")
    subscribe(broker, ServiceSettings(service_name="svc"), rt)
    assert consumers_of(broker) == [rt]
    rt.subscriber = RunningSubscriber(consumer, [fetch])
    return rt, broker


async def test_an_infrastructure_error_pauses_only_the_batch_partitions_for_the_back_off() -> None:
    async def use_case(batch: Batch) -> list[Outgoing]:
        raise ConnectionError("database unavailable")

    tps = {TopicPartition(TOPIC, p) for p in range(3)}
    consumer = FakeConsumer(tps)
    rt = make_runtime(use_case, consumer, retry=RetryPolicy(0.2, 0.2))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectionError):
        await rt.handle([lead_record("L0", 0, 1), lead_record("L1", 1, 1)])
    assert loop.time() - started < 0.05, "the handler returns at once: the back-off is a pause"
    assert consumer.paused() == {TopicPartition(TOPIC, 1)}, "the other partitions go on"
    status = rt.status()
    assert status["waiting"] and 0.1 <= status["wait_seconds_left"] <= 0.2
    assert status["wait_reason"] == "back-off after ConnectionError: database unavailable"
    assert status["consecutive_failures"] == 1 and rt.waits == 0 and status["last_batch_age_seconds"] is None
    await asyncio.sleep(0.3)
    assert consumer.paused() == set() and not rt.status()["waiting"]


async def test_readyz_shows_every_consumer_of_the_broker_and_a_wait_does_not_turn_it_red() -> None:
    consumer = FakeConsumer({TopicPartition(TOPIC, 0)})
    fetch = asyncio.create_task(asyncio.Event().wait())
    rt, broker = registered(limited(30), consumer, fetch)
    app = build_http_app(ServiceSettings(), Lifecycle(broker=broker), start_broker=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = (await client.get("/readyz")).json()
        with pytest.raises(RetryAfter):
            await rt.handle([lead_record("L0", 0)])
        response = await client.get("/readyz")
    fetch.cancel()
    assert first["status"]["inputs"]["waiting"] is False and first["status"]["inputs"]["fetching"] is True
    body = response.json()
    assert response.status_code == 200 and body["ready"] is True and body["checks"]["consumer:inputs"] is True
    shown = body["status"]["inputs"]
    assert shown["waiting"] is True and 0 < shown["wait_seconds_left"] <= 30
    assert shown["wait_reason"].startswith("REQUEST_LIMIT_EXCEEDED") and shown["paused_partitions"] == [f"{TOPIC}/0"]
    rt.resume()


async def test_readyz_is_red_when_a_consumer_has_no_fetch_task_left_and_shows_its_last_batch() -> None:
    async def use_case(batch: Batch) -> list[Outgoing]:
        return []

    async def fetch_loop_that_died() -> None:
        raise RuntimeError("fetch loop crashed")

    dead = asyncio.create_task(fetch_loop_that_died())
    with pytest.raises(RuntimeError):
        await dead
    clock = Monotonic()
    rt, broker = registered(use_case, FakeConsumer({TopicPartition(TOPIC, 0)}), dead)
    rt.monotonic = clock
    await rt.handle([lead_record("L0", 0)])
    clock.t += 12.5
    app = build_http_app(ServiceSettings(), Lifecycle(broker=broker), start_broker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["ready"] is False and body["checks"]["consumer:inputs"] is False
    shown = body["status"]["inputs"]
    assert shown["fetching"] is False and shown["last_batch_age_seconds"] == 12.5 and shown["processed"] == 1


def test_a_runtime_without_a_started_consumer_does_not_decide_readiness() -> None:
    rt = make_runtime(limited(1), None)
    assert rt.fetching() is None and rt.status()["fetching"] is None and consumers_of(None) == []
