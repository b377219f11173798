"""crm-sync throughput into the Salesforce emulator, and Salesforce API calls per 1,000 leads in a burst.

    .venv/bin/python services/crm-sync/bench/bench_crm_sync.py [--leads 10000] [--callbacks 0.0]
    .venv/bin/python services/crm-sync/bench/bench_crm_sync.py --backlog --leads 100000 --callbacks 0.2

Starts an embedded Kafka broker and the emulator (HTTPS, demo org), runs crm-sync's app (real
simple-salesforce gateway), warms the consumer group up with one lead, then publishes a burst of
``leads.routed`` events and waits until every lead has its ``crm.synced``. Prints leads/s (first
publish → last crm.synced), the emulator's request log (calls by endpoint) and API calls per 1,000 leads,
then replays the whole burst and prints what the replay cost (expected: 0 writes).

``--backlog``: the leads are in Kafka *before* crm-sync starts (a backlog, e.g. after an outage or a list
import); crm-sync runs with large batches and Bulk API 2.0 above ``CRMSYNC_BULK_THRESHOLD``. Prints the time
from crm-sync's start to the last ``crm.synced``, checks in the emulator (SOQL) that every lead has its owner
and SLA due time and every callback its Task, and prints API calls per 1,000 leads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from leadflow_contracts import topics
from leadflow_crm_sync.app import create_app
from leadflow_crm_sync.settings import CrmSyncSettings
from leadflow_crm_sync.testing import routed
from leadflow_platform.embedded_kafka import EmbeddedKafka
from leadflow_platform.logging import configure_logging
from leadflow_platform.topics_admin import TopicSpec, ensure_topics, load_topics
from leadflow_salesforce import connect
from leadflow_salesforce.testing import running_emulator

SELLERS = ["005FX0000000008YAA", "005FX0000000009YAA", "005FX000000000AYAQ", "005FX000000000BYAQ"]


async def _consume_until(bootstrap: str, topic: str, want: set[str], timeout: float) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = None
        for _ in range(50):
            parts = consumer.partitions_for_topic(topic)
            if parts:
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in sorted(parts or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen: set[str] = set()
        deadline = time.perf_counter() + timeout
        while not want <= seen:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{len(want - seen)} leads not synced within {timeout}s")
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batch.values():
                for r in records:
                    seen.add(json.loads(r.value)["lead_id"])
        return time.perf_counter()
    finally:
        await consumer.stop()


def _writes(log: list[dict]) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in log:
        if r["path"].startswith("/services/"):
            out[f"{r['method']} {r['path'].split('/v59.0', 1)[-1] if '/v59.0' in r['path'] else r['path']}"] += 1
    return out


async def run(args: argparse.Namespace) -> None:
    configure_logging("crm-sync-bench", level=args.log_level, json=False)
    tmp = Path(tempfile.mkdtemp(prefix="crmsync-bench-"))
    with EmbeddedKafka(log_file=tmp / "tansu.log") as kafka, running_emulator(data=str(tmp / "org.db")) as emu:
        emu.seed("demo")
        emu.configure(dailyApiLimit=10_000_000, apiUsage=0)
        prefix = "bench."
        specs = {prefix + name: TopicSpec(partitions=6) for name in load_topics()}
        await ensure_topics(kafka.bootstrap, specs)
        settings = CrmSyncSettings(
            kafka_bootstrap=kafka.bootstrap,
            topic_prefix=prefix,
            database_url=f"sqlite+aiosqlite:///{tmp / 'crm-sync.db'}",
            salesforce=emu.salesforce_settings(),
            consumers=args.consumers,
            salesforce_concurrency=args.concurrency,
        )
        app = create_app(settings)
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap, linger_ms=5, max_batch_size=1 << 20, compression_type="gzip"
        )
        await producer.start()
        rnd = random.Random(7)
        now = datetime.now(UTC).replace(microsecond=0)
        async with app.router.lifespan_context(app):
            warm = routed("warm-up", owner_id=SELLERS[0], occurred_at=now)
            await producer.send_and_wait(prefix + topics.LEADS_ROUTED, warm.to_json_bytes(), key=b"warm-up")
            await _consume_until(kafka.bootstrap, prefix + topics.CRM_SYNCED, {"warm-up"}, 60)

            bodies = []
            for i in range(args.leads):
                cb = now + timedelta(hours=2) if rnd.random() < args.callbacks else None
                ev = routed(
                    f"bench-{i}",
                    owner_id=rnd.choice(SELLERS),
                    occurred_at=now,
                    callback_at=cb,
                    score=float(rnd.randint(20, 95)),
                )
                bodies.append((ev.lead_id, ev.to_json_bytes()))
            control = emu._http
            control.delete(f"{emu.url}/__emulator__/requests", timeout=30).raise_for_status()
            usage_before = emu.stats()["apiUsage"]

            start = time.perf_counter()
            for lid, body in bodies:
                await producer.send(prefix + topics.LEADS_ROUTED, body, key=lid.encode())
            await producer.flush()
            published = time.perf_counter()
            done = await _consume_until(
                kafka.bootstrap, prefix + topics.CRM_SYNCED, {lid for lid, _ in bodies}, timeout=600
            )
            log = emu.requests_log(100_000)
            usage = emu.stats()["apiUsage"] - usage_before
            calls = _writes(log)
            rest_calls = sum(n for k, n in calls.items() if "/data/" in k or "composite" in k or "query" in k)
            elapsed = done - start
            print(
                f"leads: {args.leads} (callbacks {args.callbacks:.0%}), partitions: 6, consumers: {args.consumers}, "
                f"concurrent Salesforce calls: {args.concurrency}"
            )
            print(f"publish: {published - start:.2f}s; first publish -> last crm.synced: {elapsed:.2f}s")
            print(f"throughput: {args.leads / elapsed:,.0f} leads/s upserted into the emulator through crm-sync")
            print(
                f"Salesforce calls in the burst: {sum(calls.values())} (REST {rest_calls}, API usage charged "
                f"{usage}) = {sum(calls.values()) * 1000 / args.leads:.2f} per 1,000 leads"
            )
            for k, n in sorted(calls.items()):
                print(f"  {n:6d}  {k}")
            stats = app.state.writer.stats
            print(
                f"writer: calls={stats.calls} records={stats.records} retried={stats.retried_records} "
                f"failed_calls={stats.failed_calls}"
            )
            print(
                f"Salesforce: call time {stats.call_seconds:.2f}s summed over calls; wall time with a call in "
                f"flight {stats.busy_seconds:.2f}s of {elapsed:.2f}s"
            )

            # Replay the burst (same events): nothing should reach Salesforce.
            control.delete(f"{emu.url}/__emulator__/requests", timeout=30).raise_for_status()
            for lid, body in bodies:
                await producer.send(prefix + topics.LEADS_ROUTED, body, key=lid.encode())
            await producer.flush()
            marker = routed("replay-marker", owner_id=SELLERS[0], occurred_at=now)
            await asyncio.sleep(2.0)
            await producer.send_and_wait(prefix + topics.LEADS_ROUTED, marker.to_json_bytes(), key=b"replay-marker")
            await _consume_until(kafka.bootstrap, prefix + topics.CRM_SYNCED, {"replay-marker"}, 120)
            await asyncio.sleep(2.0)
            replay = _writes(emu.requests_log(100_000))
            print(
                f"replay of {args.leads} events: Salesforce calls {sum(replay.values())} "
                f"(1 expected: the marker lead) {dict(replay)}"
            )
        await producer.stop()


async def run_backlog(args: argparse.Namespace) -> None:
    configure_logging("crm-sync-bench", level=args.log_level, json=False)
    tmp = Path(tempfile.mkdtemp(prefix="crmsync-backlog-"))
    with EmbeddedKafka(log_file=tmp / "tansu.log") as kafka, running_emulator(data=str(tmp / "org.db")) as emu:
        emu.seed("demo")
        emu.configure(dailyApiLimit=10_000_000, apiUsage=0)
        prefix = "backlog."
        await ensure_topics(kafka.bootstrap, {prefix + name: TopicSpec(partitions=6) for name in load_topics()})
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=20, max_batch_size=1 << 20)
        await producer.start()
        rnd = random.Random(7)
        now = datetime.now(UTC).replace(microsecond=0)
        ids, callbacks = [], 0
        for i in range(args.leads):
            cb = now + timedelta(hours=2) if rnd.random() < args.callbacks else None
            callbacks += cb is not None
            ev = routed(
                f"bl-{i}",
                owner_id=rnd.choice(SELLERS),
                occurred_at=now,
                callback_at=cb,
                score=float(rnd.randint(20, 95)),
            )
            await producer.send(prefix + topics.LEADS_ROUTED, ev.to_json_bytes(), key=ev.lead_id.encode())
            ids.append(ev.lead_id)
        await producer.flush()
        await producer.stop()
        print(f"backlog: {args.leads} leads.routed in Kafka ({callbacks} with a callback)")
        settings = CrmSyncSettings(
            kafka_bootstrap=kafka.bootstrap,
            topic_prefix=prefix,
            database_url=f"sqlite+aiosqlite:///{tmp / 'crm-sync.db'}",
            salesforce=emu.salesforce_settings(timeout=300.0),
            consumers=args.consumers,
            salesforce_concurrency=args.concurrency,
            batch_max_records=args.batch,
            batch_timeout_ms=200,
            bulk_threshold=args.bulk_threshold,
            bulk_min_records=min(1000, args.bulk_threshold),
            hold_seconds=300.0,
        )
        emu.control("DELETE", "requests")
        start = time.perf_counter()
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            done = await _consume_until(kafka.bootstrap, prefix + topics.CRM_SYNCED, set(ids), timeout=1800)
        elapsed = done - start
        log = emu.requests_log(1_000_000)
        calls = _writes(log)
        api = sum(calls.values())
        sf = connect(emu.salesforce_settings())
        landed = sf.query(
            "SELECT COUNT() FROM Lead WHERE Leadflow_Id__c LIKE 'bl-%' AND OwnerId != null AND SLA_Due__c != null"
        )["totalSize"]
        tasks = sf.query("SELECT COUNT() FROM Task WHERE Subject = 'Call back'")["totalSize"]
        stats = app.state.writer.stats
        print(
            f"crm-sync start -> last crm.synced: {elapsed:.1f}s ({args.leads / elapsed:,.0f} leads/s); "
            f"batches of up to {args.batch}, consumers {args.consumers}, Bulk threshold {args.bulk_threshold}"
        )
        print(
            f"in the emulator: {landed} Leads with owner and SLA due, {tasks} callback Tasks (expected "
            f"{args.leads} and {callbacks})"
        )
        print(
            f"Salesforce API calls: {api} = {api * 1000 / args.leads:.2f} per 1,000 leads "
            f"(Bulk jobs {stats.bulk_jobs} for {stats.bulk_records} records; Collections calls {stats.calls})"
        )
        for k, n in sorted(calls.items(), key=lambda kv: -kv[1])[:12]:
            print(f"  {n:6d}  {k}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--leads", type=int, default=10_000)
    p.add_argument("--callbacks", type=float, default=0.0, help="share of leads with a callback Task")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--consumers", type=int, default=1, help="CRMSYNC_CONSUMERS")
    p.add_argument("--concurrency", type=int, default=2, help="CRMSYNC_SALESFORCE_CONCURRENCY")
    p.add_argument("--backlog", action="store_true", help="the leads wait in Kafka before crm-sync starts")
    p.add_argument("--batch", type=int, default=10_000, help="backlog: CRMSYNC_BATCH_MAX_RECORDS")
    p.add_argument("--bulk-threshold", type=int, default=2000, help="backlog: CRMSYNC_BULK_THRESHOLD")
    args = p.parse_args()
    asyncio.run(run_backlog(args) if args.backlog else run(args))


if __name__ == "__main__":
    main()
