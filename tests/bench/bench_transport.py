"""Kafka transport for the services: aiokafka (pure Python) against confluent-kafka (librdkafka, C).

    .venv/bin/python tests/bench/bench_transport.py [--messages 20000] [--pings 300]

On the embedded broker, for each client, prints:
- the consume → JSON → produce hop (the work every leadflow service does per lead), messages/s and CPU
  microseconds per message of this process;
- the same hop at a steady rate (``--paced-rate``, default 200 records/s, in a child process so its CPU is
  its own): batches of one or a few records, as each service sees the pipeline's steady flow, and the CPU
  per record and per batch, fetches while idle included;
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
import sys
import threading
import time
import uuid
from collections.abc import Callable

import uvloop
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


def confluent_pair(bootstrap: str, src: str, linger_ms: int, **consumer_extra: object) -> tuple[Producer, Consumer]:
    """A producer (acks=all, as the services publish) and a consumer of ``src`` in a new group from the start,
    without auto-commit."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": linger_ms})
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **consumer_extra,
        }
    )
    consumer.subscribe([src])
    return producer, consumer


def confluent_hop(bootstrap: str, src: str, dst: str, n: int) -> tuple[float, float]:
    producer, consumer = confluent_pair(bootstrap, src, 1)
    done, c0, t0 = 0, cpu(), time.perf_counter()
    first = True
    while done < n:
        batch = [m for m in consumer.consume(num_messages=1000, timeout=0.2) if m.error() is None]
        if first and batch:  # exclude the group join, as the aiokafka side assigns directly
            c0, t0, first = cpu(), time.perf_counter(), False
        for m in batch:
            producer.produce(dst, json.dumps(json.loads(m.value() or b"null")).encode(), key=m.key())
        if batch:
            producer.flush()
            consumer.commit(asynchronous=False)
        done += len(batch)
    wall, used = time.perf_counter() - t0, cpu() - c0
    consumer.close()
    return n / wall, used / n * 1e6


async def _aiokafka_paced_hop(bootstrap: str, src: str, dst: str, n: int, wait_ms: int) -> tuple[int, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        src, bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4()}", enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=wait_ms,
    )  # fmt: skip
    await producer.start()
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    print("ready", flush=True)
    done, batches, c0 = 0, 0, cpu()
    while done < n:
        batch = await consumer.getmany(timeout_ms=100, max_records=500)
        records = [r for rs in batch.values() for r in rs]
        if not records:
            continue
        futures = [await producer.send(dst, json.dumps(json.loads(r.value)).encode(), key=r.key) for r in records]
        await asyncio.gather(*futures)
        await consumer.commit()
        done, batches = done + len(records), batches + 1
    used = cpu() - c0
    await consumer.stop()
    await producer.stop()
    return batches, used


def _confluent_paced_hop(bootstrap: str, src: str, dst: str, n: int, wait_ms: int) -> tuple[int, float]:
    producer, consumer = confluent_pair(bootstrap, src, 0, **{"fetch.wait.max.ms": wait_ms})
    while not consumer.assignment():
        consumer.poll(0.1)
    print("ready", flush=True)
    done, batches, c0 = 0, 0, cpu()
    while done < n:
        # poll returns as soon as a record is there; consume(timeout=0) takes what else is queued (consume
        # with a timeout would wait to fill num_messages: a batch window the aiokafka side does not have)
        first = consumer.poll(0.1)
        if first is None:
            continue
        records = [m for m in [first, *consumer.consume(num_messages=499, timeout=0)] if m.error() is None]
        for m in records:
            producer.produce(dst, json.dumps(json.loads(m.value() or b"null")).encode(), key=m.key())
        producer.flush()
        consumer.commit(asynchronous=False)
        done, batches = done + len(records), batches + 1
    used = cpu() - c0
    consumer.close()
    return batches, used


def paced_hop_child(client: str, bootstrap: str, src: str, dst: str, n: int, wait_ms: int) -> None:
    """In a process of its own (``--paced-hop-child``): one client's consume → JSON → produce → commit
    hop, in a group as the services consume, until ``n`` records are through; prints its batches and the
    CPU this process used from the moment it had its partitions (idle fetches included; librdkafka's
    threads count, os.times covers the whole process)."""
    if client == "aiokafka":
        # on uvloop, as the services run (ServiceSettings.event_loop): 20-25 % less CPU here than asyncio's loop
        batches, used = uvloop.run(_aiokafka_paced_hop(bootstrap, src, dst, n, wait_ms))
    else:
        batches, used = _confluent_paced_hop(bootstrap, src, dst, n, wait_ms)
    print(f"done {batches} {used}", flush=True)


async def paced_hop(client: str, bootstrap: str, src: str, dst: str, rate: float, seconds: float, wait_ms: int) -> str:
    """The hop at a steady rate, as a service sees the pipeline's steady flow: batches of one or a few
    records, each paying a fetch, a produce and a commit. The hop runs in a child process so that its CPU
    is its own, while this process sends ``rate`` records a second, one produce request each."""
    n = int(rate * seconds)
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--paced-hop-child", client, bootstrap, src, dst, str(n), str(wait_ms),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    if (await asyncio.wait_for(child.stdout.readline(), 60)).strip() != b"ready":
        raise RuntimeError(f"the {client} hop did not start")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    next_at = time.perf_counter()
    for i in range(n):
        await producer.send(src, PAYLOAD, key=str(i).encode())
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await producer.stop()
    _, batches, used = (await asyncio.wait_for(child.stdout.readline(), 120)).split()
    await child.wait()
    return (
        f"{int(batches):,} batches ({n / int(batches):.2f} records each), "
        f"{float(used) / n * 1e6:,.0f} µs CPU per record, {float(used) / int(batches) * 1e6:,.0f} µs per batch"
    )


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
            key = m.key() if m is not None and m.error() is None else None
            if key is not None and key in sent:
                out.append((time.perf_counter() - sent[key]) * 1000)

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


async def main_async(
    messages: int, pings: int, gap: float, stored_steps: list[int], paced_rate: float, paced_seconds: float
) -> None:
    with EmbeddedKafka(compat_port=0, prompt_fetch=True) as kafka:
        bootstrap = kafka.bootstrap
        door = kafka.compat_bootstrap or bootstrap
        run = uuid.uuid4().hex[:6]
        names = {
            k: f"bench-{k}-{run}"
            for k in ("src", *(f"{kind}-{i}" for kind in ("dst", "ping", "paced", "paced-out") for i in range(8)))
        }
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
        # the steady flow: batches of a record or two, at the services' fetch wait (50 ms)
        for i, client in enumerate(("aiokafka", "confluent-kafka")):
            line = await paced_hop(
                client, bootstrap, names[f"paced-{i}"], names[f"paced-out-{i}"], paced_rate, paced_seconds, 50
            )
            print(f"broker     {client:<15} hop at {paced_rate:,.0f} records/s for {paced_seconds:.0f} s: {line}")
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
    parser.add_argument("--paced-rate", type=float, default=200, help="records/s of the paced hop")
    parser.add_argument("--paced-seconds", type=float, default=10, help="length of the paced hop")
    parser.add_argument("--paced-hop-child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.paced_hop_child:
        client, bootstrap, src, dst, n, wait_ms = args.paced_hop_child
        paced_hop_child(client, bootstrap, src, dst, int(n), int(wait_ms))
        return
    asyncio.run(main_async(args.messages, args.pings, args.gap, args.stored, args.paced_rate, args.paced_seconds))


if __name__ == "__main__":
    main()
