"""Kafka transport for the services: aiokafka (pure Python) against confluent-kafka (librdkafka, C).

    .venv/bin/python tests/bench/bench_transport.py [--messages 20000] [--pings 300]

On the embedded broker, for each client, prints:
- the consume → JSON → produce hop (the work every leadflow service does per lead), messages/s and CPU
  microseconds per message of this process;
- produce → consume round-trip latency of single messages at a low rate (p50/p90/p99 ms), the floor
  of any per-hop latency budget;
- the broker's CPU for one Fetch that returns records, against the record batches stored in the partition
  (``--stored``): Tansu 0.6.0 lists every stored batch of a partition to answer it; and the broker memory
  each stored batch keeps (memory:// applies no retention).
Both on the broker itself and through its front door with prompt fetch (``leadflow_platform.kafka_compat``,
``embedded_kafka --prompt-fetch``, off in ``make run``; here in a thread of this process, so its CPU counts
in the figures).
Each client uses its batch-friendly settings (aiokafka getmany + gathered sends; confluent-kafka
consume(num_messages) + produce + one flush per batch), with acks=all as the services publish.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import threading
import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka import Consumer, Producer
from leadflow_platform.embedded_kafka import EmbeddedKafka, resident_kb
from leadflow_platform.testing.bench import process_cpu_seconds
from leadflow_platform.topics_admin import TopicSpec, ensure_topics

PAYLOAD = json.dumps(
    {
        "event_id": str(uuid.uuid4()),
        "lead_id": "bench-1",
        "occurred_at": "2026-12-04T10:00:00+00:00",
        "source": {"system": "bench"},
        "person": {"first_name": "Anna", "last_name": "Test", "email": "anna@firma.example", "phone": "+49301234567"},
        "company": {"name": "Firma GmbH", "country": "DE", "employees": 120},
        "engagement": {"visits": 3, "page_views": 12, "time_on_site_seconds": 240},
    }
).encode()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def cpu() -> float:
    t = os.times()
    return t.user + t.system


async def fill(bootstrap: str, topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    for i in range(n):
        await producer.send(topic, PAYLOAD, key=str(i).encode())
    await producer.flush()
    await producer.stop()


async def aiokafka_hop(bootstrap: str, src: str, dst: str, n: int) -> tuple[float, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=f"g-{uuid.uuid4()}")
    await producer.start()
    await consumer.start()
    tps = [TopicPartition(src, p) for p in sorted(consumer.partitions_for_topic(src) or {0})]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    done, c0, t0 = 0, cpu(), time.perf_counter()
    while done < n:
        batch = await consumer.getmany(timeout_ms=200, max_records=1000)
        futures = [
            await producer.send(dst, json.dumps(json.loads(r.value)).encode(), key=r.key)
            for records in batch.values()
            for r in records
        ]
        await asyncio.gather(*futures)
        if futures:
            await consumer.commit()
        done += len(futures)
    wall, used = time.perf_counter() - t0, cpu() - c0
    await consumer.stop()
    await producer.stop()
    return n / wall, used / n * 1e6


def confluent_hop(bootstrap: str, src: str, dst: str, n: int) -> tuple[float, float]:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 1})
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([src])
    done, c0, t0 = 0, cpu(), time.perf_counter()
    first = True
    while done < n:
        batch = [m for m in consumer.consume(num_messages=1000, timeout=0.2) if m.error() is None]
        if first and batch:  # exclude the group join, as the aiokafka side assigns directly
            c0, t0, first = cpu(), time.perf_counter(), False
        for m in batch:
            producer.produce(dst, json.dumps(json.loads(m.value())).encode(), key=m.key())
        if batch:
            producer.flush()
            consumer.commit(asynchronous=False)
        done += len(batch)
    wall, used = time.perf_counter() - t0, cpu() - c0
    consumer.close()
    return n / wall, used / n * 1e6


async def aiokafka_pings(bootstrap: str, topic: str, pings: int, gap: float, max_wait_ms: int) -> list[float]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=max_wait_ms)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await consumer.start()
    await producer.start()
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    sent: dict[bytes, float] = {}
    out: list[float] = []

    async def receive() -> None:
        while len(out) < pings:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            out.extend((now - sent[r.key]) * 1000 for records in batch.values() for r in records if r.key in sent)

    task = asyncio.create_task(receive())
    for i in range(pings):
        key = f"p{i}".encode()
        sent[key] = time.perf_counter()
        await producer.send_and_wait(topic, PAYLOAD, key=key)
        await asyncio.sleep(gap)
    await asyncio.wait_for(task, 30)
    await consumer.stop()
    await producer.stop()
    return out


def confluent_pings(bootstrap: str, topic: str, pings: int, gap: float, max_wait_ms: int) -> list[float]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": max_wait_ms,
        }
    )
    consumer.subscribe([topic])
    while not consumer.assignment():  # join the group before the first ping
        consumer.poll(0.1)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    sent: dict[bytes, float] = {}
    out: list[float] = []
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set() and len(out) < pings:
            m = consumer.poll(0.05)
            if m is not None and m.error() is None and m.key() in sent:
                out.append((time.perf_counter() - sent[m.key()]) * 1000)

    thread = threading.Thread(target=receive)
    thread.start()
    for i in range(pings):
        key = f"p{i}".encode()
        sent[key] = time.perf_counter()
        producer.produce(topic, PAYLOAD, key=key)
        producer.flush()
        time.sleep(gap)
    thread.join(30)
    stop.set()
    consumer.close()
    return out


async def fetch_cost_by_stored_batches(bootstrap: str, pid: int, topic: str, steps: list[int], fetches: int) -> None:
    """Broker CPU of one Fetch that returns records, against the record batches stored in the partition.

    Each produce request writes one batch per partition it touches; Tansu 0.6.0's storage (memory://,
    ``dynostore``) answers a Fetch below the high watermark by listing every batch object of the partition,
    so the cost grows with what the partition holds, and nothing deletes old batches (its DeleteRecords is
    not implemented, retention is not applied). One partition, batches of one record, each Fetch reads the
    last record again."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10)
    await producer.start()
    await consumer.start()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    stored, kb0 = 0, resident_kb(pid) or 0
    kb = kb0
    for target in steps:
        while stored < target:
            await (await producer.send(topic, PAYLOAD, partition=0))
            stored += 1
        c0, t0 = process_cpu_seconds(pid), time.perf_counter()
        for _ in range(fetches):
            consumer.seek(tp, stored - 1)
            if not await consumer.getmany(tp, timeout_ms=1000):
                raise RuntimeError(f"no record fetched from {topic} at offset {stored - 1}")
        used, wall = process_cpu_seconds(pid) - c0, time.perf_counter() - t0
        kb = resident_kb(pid) or 0
        print(
            f"broker     fetch of 1 record with {stored:>6,} batches stored in the partition:"
            f" {used / fetches * 1e6:6,.0f} µs broker CPU, {wall / fetches * 1e3:5.2f} ms round trip,"
            f" broker memory {kb / 1024:,.0f} MB"
        )
    print(
        f"broker     memory kept per stored batch of one {len(PAYLOAD)}-byte record:"
        f" {(kb - kb0) / max(stored, 1):.2f} kB"
        " (the topic's retention.ms is 1,000: not applied)"
    )
    await consumer.stop()
    await producer.stop()


def describe(name: str, values: list[float]) -> str:
    return (
        f"{name}: n={len(values)} p50 {pct(values, 50):.1f} ms, p90 {pct(values, 90):.1f} ms, "
        f"p99 {pct(values, 99):.1f} ms, max {max(values):.1f} ms"
    )


async def main_async(messages: int, pings: int, gap: float, stored_steps: list[int]) -> None:
    with EmbeddedKafka(compat_port=0, prompt_fetch=True) as kafka:
        bootstrap = kafka.bootstrap
        door = kafka.compat_bootstrap or bootstrap
        run = uuid.uuid4().hex[:6]
        names = {k: f"bench-{k}-{run}" for k in ("src", *(f"{kind}-{i}" for kind in ("dst", "ping") for i in range(8)))}
        await ensure_topics(bootstrap, {n: TopicSpec(partitions=3) for n in names.values()})
        await fill(bootstrap, names["src"], messages)
        print(f"embedded broker {bootstrap}; {messages:,} leads of {len(PAYLOAD)} bytes on 3 partitions")
        print(f"front door with prompt fetch (leadflow_platform.kafka_compat, embedded_kafka --prompt-fetch): {door}")
        for i, (where, addr) in enumerate((("broker", bootstrap), ("front door", door))):
            rate, us = await aiokafka_hop(addr, names["src"], names[f"dst-{2 * i}"], messages)
            print(f"{where:<10} aiokafka        consume→JSON→produce hop: {rate:,.0f} msg/s, {us:,.0f} µs CPU/msg")
            hop: Callable[[], tuple[float, float]] = functools.partial(
                confluent_hop, addr, names["src"], names[f"dst-{2 * i + 1}"], messages
            )
            rate, us = await asyncio.to_thread(hop)
            print(f"{where:<10} confluent-kafka consume→JSON→produce hop: {rate:,.0f} msg/s, {us:,.0f} µs CPU/msg")
        # the clients' default fetch wait (aiokafka 500 ms), the services' (50 ms), 10 ms, then 500 ms through
        # the front door. On the broker itself a record produced into a held fetch is seen when Tansu reads
        # again, about half the wait later: max ≈ wait / 2.
        for i, (where, addr, wait) in enumerate(
            (
                ("broker", bootstrap, 500),
                ("broker", bootstrap, 50),
                ("broker", bootstrap, 10),
                ("front door", door, 500),
            )
        ):
            a = await aiokafka_pings(addr, names[f"ping-{2 * i}"], pings, gap, wait)
            print(describe(f"{where:<10} aiokafka        produce→consume, fetch max wait {wait:>3} ms", a))
            c = await asyncio.to_thread(confluent_pings, addr, names[f"ping-{2 * i + 1}"], pings, gap, wait)
            print(describe(f"{where:<10} confluent-kafka produce→consume, fetch max wait {wait:>3} ms", c))
        if kafka.pid is not None and stored_steps:
            stored = f"bench-stored-{run}"
            await ensure_topics(bootstrap, {stored: TopicSpec(partitions=1, retention_ms=1000)})
            await fetch_cost_by_stored_batches(bootstrap, kafka.pid, stored, stored_steps, 200)
        print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between pings")
    parser.add_argument(
        "--stored",
        type=int,
        nargs="*",
        default=[10, 1000, 5000, 10000],
        help="batches stored in one partition at which a Fetch's broker CPU is measured (none: skip)",
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.messages, args.pings, args.gap, args.stored))


if __name__ == "__main__":
    main()
