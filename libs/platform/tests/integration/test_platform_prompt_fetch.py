"""The front door's prompt fetch over the real embedded broker, with two client libraries.

Tansu 0.6.0 holds a fetch that finds no records for about half its max wait; through the front door
(as `make run` starts it, ``--prompt-fetch``) a consumer asking for up to 500 ms gets a record as soon
as it is produced, and an idle fetch still ends when its wait runs out.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import struct
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.protocol import fetch as f
from aiokafka.protocol.fetch import FetchRequest
from confluent_kafka import Consumer, Producer
from leadflow_platform.consumer import group_options
from leadflow_platform.embedded_kafka import EmbeddedKafka, free_port
from leadflow_platform.settings import ServiceSettings
from leadflow_platform.testing.fixtures import TEST_SESSION_TIMEOUT_MS
from leadflow_platform.topics_admin import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration

WAIT_MS = 500


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedKafka]:
    log = Path(tempfile.gettempdir()) / "leadflow-test-tansu-prompt.log"
    with EmbeddedKafka(log_file=log, compat_port=free_port(), prompt_fetch=True) as b:
        yield b


def _topic(broker: EmbeddedKafka) -> str:
    name = f"prompt-{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(broker.bootstrap, {name: TopicSpec(partitions=3)}))
    return name


async def _aiokafka_round_trips(bootstrap: str, topic: str, n: int, gap: float) -> list[float]:
    """Produce ``n`` single records ``gap`` apart; ms from each send to its arrival at the consumer."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=WAIT_MS,
        # Tansu answers a join after half the session: the tests' short one (and its heartbeat)
        **group_options(ServiceSettings(session_timeout_ms=TEST_SESSION_TIMEOUT_MS)),
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        took = []
        for i in range(n):
            await asyncio.sleep(gap)  # the consumer's fetch is parked, as on an idle topic
            started = time.perf_counter()
            await producer.send_and_wait(topic, str(i).encode(), key=str(i).encode())
            got = 0
            while not got:
                got = sum(len(v) for v in (await consumer.getmany(timeout_ms=2000)).values())
            took.append((time.perf_counter() - started) * 1000)
        return took
    finally:
        await producer.stop()
        await consumer.stop()


def test_aiokafka_gets_each_record_long_before_its_fetch_wait_runs_out(broker: EmbeddedKafka) -> None:
    assert broker.compat_bootstrap
    topic = _topic(broker)
    took = asyncio.run(_aiokafka_round_trips(broker.compat_bootstrap, topic, 15, 0.12))
    # on the broker itself a record produced during a parked 500 ms fetch waits for that fetch to end
    assert statistics.median(took) < 60, took
    assert max(took) < WAIT_MS, took
    assert any(k.startswith("prompt") for k in broker._front_door.fetches), broker._front_door.fetches  # type: ignore[union-attr]


def test_the_broker_itself_holds_the_fetch(broker: EmbeddedKafka) -> None:
    """Why the front door does it: the same round trips straight to Tansu wait for the fetch wait."""
    topic = _topic(broker)
    took = asyncio.run(_aiokafka_round_trips(broker.bootstrap, topic, 6, 0.12))
    assert statistics.median(took) > 100, took


def test_confluent_kafka_gets_each_record_promptly(broker: EmbeddedKafka) -> None:
    door = broker.compat_bootstrap
    assert door
    topic = _topic(broker)
    consumer = Consumer(
        {
            "bootstrap.servers": door,
            "group.id": f"g-{topic}",
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": WAIT_MS,
            "session.timeout.ms": 6_000,  # librdkafka's default 45 s would hold the join 22.5 s on Tansu
        }
    )
    consumer.subscribe([topic])
    producer = Producer({"bootstrap.servers": door, "acks": "all", "linger.ms": 0})
    arrived: dict[bytes, float] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            msg = consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                arrived[msg.value()] = time.perf_counter()

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        producer.produce(topic, b"warm")
        producer.flush(10)
        deadline = time.monotonic() + 30
        while b"warm" not in arrived and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"warm" in arrived, "the consumer never joined"
        sent = {}
        for i in range(12):
            time.sleep(0.12)
            key = f"m{i}".encode()
            sent[key] = time.perf_counter()
            producer.produce(topic, key)
            producer.flush(10)
        deadline = time.monotonic() + 10
        while len([k for k in sent if k in arrived]) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        reader.join()
        consumer.close()
    took = [(arrived[k] - t) * 1000 for k, t in sent.items() if k in arrived]
    assert len(took) == len(sent)
    assert statistics.median(took) < 60, took
    versions = [k for k in broker._front_door.fetches if k.startswith("prompt")]  # type: ignore[union-attr]
    assert versions, broker._front_door.fetches  # type: ignore[union-attr]


async def _acks0_then_acks1(bootstrap: str, topic: str) -> list[bytes]:
    """A Produce with acks=0 gets no answer: the front door must not wait for one, or every later answer
    on that connection would be stuck behind it."""
    fire = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=0)
    await fire.start()
    try:
        for i in range(5):
            await fire.send_and_wait(topic, f"a0-{i}".encode(), partition=0)
        # the same connection carries Metadata and more Produce requests afterwards
        await asyncio.wait_for(fire.client.force_metadata_update(), 5)
        await fire.send_and_wait(topic, b"after", partition=0)
    finally:
        await fire.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=WAIT_MS
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(values) < 6 and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                values += [r.value for r in batch]
        return values
    finally:
        await consumer.stop()


def test_produce_without_acknowledgement_does_not_stall_the_connection(broker: EmbeddedKafka) -> None:
    assert broker.compat_bootstrap
    topic = _topic(broker)
    values = asyncio.run(asyncio.wait_for(_acks0_then_acks1(broker.compat_bootstrap, topic), 30))
    assert values == [f"a0-{i}".encode() for i in range(5)] + [b"after"]


async def _fetch_timed(bootstrap: str, topic: str, offset: int, wait_ms: int) -> tuple[float, int]:
    """One raw Fetch of partition 0 from ``offset`` with MaxWaitMs ``wait_ms``: (ms to the answer, records)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        client: Any = consumer._client
        await client.force_metadata_update()
        await client._maybe_wait_metadata()
        leader = client.cluster.leader_for_partition(TopicPartition(topic, 0))
        request = FetchRequest(wait_ms, 1, 1 << 20, 0, [(topic, [(0, offset, 1 << 20)])])
        started = time.perf_counter()
        response = await client.send(leader, request)
        took = (time.perf_counter() - started) * 1000
        (_, parts), *_ = response.topics
        return took, len(parts[0][-1] or b"")
    finally:
        await consumer.stop()


def test_an_idle_fetch_is_answered_empty_when_its_wait_runs_out_and_at_once_when_records_are_there(
    broker: EmbeddedKafka,
) -> None:
    door = broker.compat_bootstrap
    assert door
    topic = _topic(broker)
    took, size = asyncio.run(_fetch_timed(door, topic, 0, 300))
    assert size == 0
    assert 280 <= took < 900, took

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=door)
        await producer.start()
        await producer.send_and_wait(topic, b"x", partition=0)
        await producer.stop()

    asyncio.run(produce())
    took, size = asyncio.run(_fetch_timed(door, topic, 0, 300))
    assert size > 0
    assert took < 150, took  # the broker itself would hold this one for the whole 300 ms


def _parked_fetches(door: Any) -> int:
    async def count() -> int:
        return sum(1 for t in asyncio.all_tasks() if t.get_coro().__qualname__.endswith("_prompt_fetch"))

    return asyncio.run_coroutine_threadsafe(count(), door._loop).result(5)


def test_a_client_that_hangs_up_leaves_no_parked_fetch_behind(broker: EmbeddedKafka) -> None:
    door = broker._front_door
    assert door is not None
    topic = _topic(broker)
    body = f.FetchRequest_v4(-1, 10_000, 1, 1 << 20, 0, [(topic, [(0, 0, 1 << 20)])]).encode()
    frame = struct.pack(">hhih", 1, 4, 1, 4) + b"test" + body  # Fetch v4, correlation 1, client "test"
    before = _parked_fetches(door)
    with socket.create_connection((door.host, door.port)) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        deadline = time.monotonic() + 5
        while _parked_fetches(door) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _parked_fetches(door) == before + 1  # waiting for records, up to its 10 s
    deadline = time.monotonic() + 5
    while _parked_fetches(door) > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _parked_fetches(door) == before
