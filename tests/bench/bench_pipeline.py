"""End-to-end pipeline benchmark: leads.inbound → intake → enrich → score → route → crm-sync → Salesforce
(emulator over HTTPS) → crm.synced, every service built by its own create_app, all in ONE process on the
embedded broker (so the figures are pessimistic: one Python process does the work of six).

    .venv/bin/python tests/bench/bench_pipeline.py [--burst 3000] [--rate 200] [--seconds 30]

Prints: the raw aiokafka consume→produce hop measured in the same run, burst throughput to CrmSynced and
its ratio to the raw hop, Salesforce API calls per 1,000 leads in the burst, and publish → CrmSynced
latency percentiles at a steady rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from leadflow_contracts import topics
from leadflow_platform.embedded_kafka import EmbeddedKafka
from leadflow_platform.testing.fixtures import TopicNamespace, running_apps
from leadflow_salesforce.testing import running_emulator

COUNTRIES = [("DE", "+49 30 {n}"), ("NO", "+47 22 {n}"), ("GB", "+44 20 7{n}"), ("NL", "+31 20 {n}")]


def lead(i: int, run: str) -> tuple[bytes, bytes]:
    country, phone = COUNTRIES[i % len(COUNTRIES)]
    lead_id = f"bench-{run}-{i}"
    body = {
        "event_id": str(uuid.uuid4()),
        "lead_id": lead_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": {"system": "bench"},
        "lead_source": "web_form" if i % 5 else "webinar",
        "person": {
            "first_name": "Anna",
            "last_name": f"Test{i}",
            "email": f"anna{i}.{run}@firma{i % 300}.example",
            "phone": phone.format(n=1000000 + i),
            "job_title": "Head of Operations",
        },
        "company": {"name": f"Firma {i % 300} GmbH", "country": country, "employees": 50 + i % 500},
        "engagement": {"visits": i % 7, "page_views": i % 30, "time_on_site_seconds": i % 900},
    }
    return json.dumps(body).encode(), lead_id.encode()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def raw_hop(bootstrap: str, n: int = 20000) -> float:
    """One consume → produce hop with plain aiokafka (the ceiling for any FastStream service)."""
    src, dst = f"raw-src-{uuid.uuid4().hex[:6]}", f"raw-dst-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    payload = lead(1, "raw")[0]
    for i in range(n):
        await producer.send(src, payload, key=str(i).encode())
    await producer.flush()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(src, p) for p in (consumer.partitions_for_topic(src) or {0})]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    done, started = 0, time.perf_counter()
    while done < n:
        batch = await consumer.getmany(timeout_ms=200, max_records=2000)
        futures = []
        for records in batch.values():
            for r in records:
                futures.append(await producer.send(dst, json.dumps(json.loads(r.value)).encode(), key=r.key))
        await asyncio.gather(*futures)
        done += len(futures)
    rate = n / (time.perf_counter() - started)
    await consumer.stop()
    await producer.stop()
    return rate


async def send_steady(
    producer: AIOKafkaProducer, topic: str, run: str, rate: float, seconds: float
) -> dict[str, float]:
    """Publish ``rate × seconds`` leads of ``run`` at a steady rate; returns each lead id's send time
    (``time.time``, also the record's timestamp), the start of its publish → downstream latency."""
    sent_at: dict[str, float] = {}
    next_at = time.perf_counter()
    for i in range(int(rate * seconds)):
        value, key = lead(i, run)
        now = sent_at[key.decode()] = time.time()
        await producer.send(topic, value, key=key, timestamp_ms=round(now * 1000))
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return sent_at


class TopicWatcher:
    """First time each lead id (the record key) is seen on each watched topic (``seen``, ``time.time``) and
    the timestamp of that first record (``published``: when its producer sent it, ms resolution).

    ``published`` does not depend on how soon the watcher fetches, so a watcher with a long fetch wait
    measures the pipeline without loading the broker: a fetch costs the embedded broker CPU whatever its
    wait (more the more batches the partitions hold), and a 10 ms wait is 100 fetches a second."""

    def __init__(self, bootstrap: str, names: list[str], fetch_max_wait_ms: int = 10) -> None:
        self.bootstrap, self.names, self.fetch_max_wait_ms = bootstrap, names, fetch_max_wait_ms
        self.seen: dict[str, dict[str, float]] = {n: {} for n in names}
        self.published: dict[str, dict[str, float]] = {n: {} for n in names}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=self.fetch_max_wait_ms
        )
        await consumer.start()
        tps = []
        for name in self.names:
            parts = consumer.partitions_for_topic(name)
            while not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(name)
            tps += [TopicPartition(name, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        self._consumer = consumer

        async def run() -> None:
            try:
                while True:
                    batch = await consumer.getmany(timeout_ms=20)
                    now = time.time()
                    for tp, records in batch.items():
                        seen, published = self.seen[tp.topic], self.published[tp.topic]
                        for r in records:
                            key = r.key.decode() if r.key else ""
                            if key not in seen:
                                seen[key], published[key] = now, r.timestamp / 1000
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(run())

    def focus(self, names: list[str] | None) -> None:
        """Fetch only ``names`` (None: every watched topic again). The others keep their positions and are
        read when resumed: ``published`` comes from record timestamps, so reading a hop later changes no
        figure, and the broker does not serve a watcher's fetch of every hop while the pipeline runs."""
        consumer = self._consumer
        assigned = consumer.assignment()
        keep = set(names) if names is not None else {tp.topic for tp in assigned}
        consumer.pause(*[tp for tp in assigned if tp.topic not in keep])
        consumer.resume(*[tp for tp in assigned if tp.topic in keep])

    def count(self, topic: str, prefix: str) -> int:
        return sum(1 for k in self.seen[topic] if k.startswith(prefix))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def main(burst: int, rate: float, seconds: float) -> None:
    from leadflow_crm_sync.app import create_app as crm_sync_app
    from leadflow_crm_sync.settings import CrmSyncSettings
    from leadflow_enrich.app import create_app as enrich_app
    from leadflow_enrich.settings import EnrichSettings
    from leadflow_intake.app import create_app as intake_app
    from leadflow_intake.settings import IntakeSettings
    from leadflow_platform.logging import configure_logging
    from leadflow_route.app import create_app as route_app
    from leadflow_route.settings import RouteSettings
    from leadflow_score.app import create_app as score_app
    from leadflow_score.settings import ScoreSettings

    configure_logging("bench", level="WARNING", json=True, stream=open("/dev/null", "w"))
    tmp = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    with EmbeddedKafka() as kafka, running_emulator() as emu:
        emu.seed("demo")
        emu.configure(dailyApiLimit=10_000_000, apiUsage=0)
        ns = TopicNamespace(kafka.bootstrap)
        await ns.create(partitions=6)
        hop = await raw_hop(kafka.bootstrap)
        print(f"raw aiokafka consume→produce hop: {hop:,.0f} msg/s")
        sf = emu.salesforce_settings(timeout=30.0)

        def common(name: str) -> dict[str, Any]:
            return {
                "kafka_bootstrap": kafka.bootstrap,
                "topic_prefix": ns.prefix,
                "database_url": f"sqlite+aiosqlite:///{tmp / name}.db",
                "log_level": "WARNING",
            }

        apps = [
            intake_app(IntakeSettings(**common("intake"))),
            enrich_app(EnrichSettings(**common("enrich"), salesforce=sf)),
            score_app(ScoreSettings(**common("score"))),
            route_app(RouteSettings(**common("route"), salesforce=sf)),
            crm_sync_app(CrmSyncSettings(**common("crm-sync"), salesforce=sf)),
        ]
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=5)
        await producer.start()
        synced = ns(topics.CRM_SYNCED)
        watcher = TopicWatcher(kafka.bootstrap, [synced])
        async with running_apps(apps):
            await watcher.start()
            # warm-up: consumer groups join (~5 s each on Tansu) before anything is timed
            warm = [lead(i, "warm") for i in range(20)]
            for value, key in warm:
                await producer.send(ns(topics.LEADS_INBOUND), value, key=key)
            while watcher.count(synced, "bench-warm-") < 20:
                await asyncio.sleep(0.2)

            # 1) burst
            emu.control("DELETE", "requests")
            run = uuid.uuid4().hex[:6]
            msgs = [lead(i, run) for i in range(burst)]
            started = time.perf_counter()
            for value, key in msgs:
                await producer.send(ns(topics.LEADS_INBOUND), value, key=key)
            await producer.flush()
            prefix = f"bench-{run}-"
            while watcher.count(synced, prefix) < burst:
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
            calls = len([r for r in emu.requests_log(limit=100_000) if "/services/" in r.get("path", "")])
            print(
                f"burst: {burst:,} leads inbound → CrmSynced in {elapsed:.1f} s = {burst / elapsed:,.0f} leads/s "
                f"(ratio to the raw hop: {burst / elapsed / hop:.3f})"
            )
            print(f"Salesforce API requests during the burst: {calls} = {calls / burst * 1000:.2f} per 1,000 leads")

            # 2) steady rate latency
            run = uuid.uuid4().hex[:6]
            prefix = f"bench-{run}-"
            sent_at = await send_steady(producer, ns(topics.LEADS_INBOUND), run, rate, seconds)
            n = len(sent_at)
            deadline = time.perf_counter() + 120
            while watcher.count(synced, prefix) < n and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            seen = watcher.seen[synced]
            lat = [(seen[k] - t) * 1000 for k, t in sent_at.items() if k in seen]
            print(
                f"steady {rate:.0f} leads/s for {seconds:.0f} s: {len(lat)}/{n} synced; publish → CrmSynced "
                f"p50 {pct(lat, 50):.0f} ms, p90 {pct(lat, 90):.0f} ms, p99 {pct(lat, 99):.0f} ms, "
                f"max {max(lat):.0f} ms"
            )
            await watcher.stop()
        await producer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.burst, args.rate, args.seconds))
