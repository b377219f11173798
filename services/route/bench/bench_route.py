"""Route benchmarks: ``python services/route/bench/bench_route.py [--leads 20000] [--decisions 50000]``.

1. Domain: routing decisions/s (policies + weighted round-robin + caps on the demo org roster),
   and decisions + SLA due times/s (business-hours arithmetic with holiday calendars).
2. Service: leads/s through route (its own process, clock fixed on a Monday 10:00 UTC, demo-org roster)
   over a fresh embedded (Tansu) broker with a SQLite ledger: publish N ``LeadScored`` with raw aiokafka,
   time from the first publish to the last ``LeadRouted`` read; and a raw aiokafka consume → produce hop
   over the same records as the baseline. ``--in-process`` runs route inside the benchmark instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from leadflow_businesstime import load_calendar_file, load_sla_policies
from leadflow_contracts import ClientType, LeadRouted, LeadSourceKind, Rating, topics
from leadflow_platform.clock import FakeClock
from leadflow_platform.embedded_kafka import EmbeddedKafka, free_port
from leadflow_platform.logging import configure_logging
from leadflow_platform.metrics import render
from leadflow_platform.topics_admin import TopicSpec, ensure_topics
from leadflow_route.adapters.roster_source import FixtureRosterSource
from leadflow_route.app import create_app
from leadflow_route.domain.config import load_routing_config
from leadflow_route.domain.events import routing_request, sla_input
from leadflow_route.domain.ledger import Ledger
from leadflow_route.domain.routing import Router
from leadflow_route.domain.sla import SlaPlanner
from leadflow_route.settings import RouteSettings
from leadflow_route.testing import repo_root, scored_event

ROOT = repo_root()
CONFIG = ROOT / "services/route/config/routing.yaml"
POLICIES = ROOT / "deploy/policies"
FIXTURE = ROOT / "services/salesforce-emulator/fixtures/demo_org.json"
COUNTRIES = ["NO", "SE", "DK", "FI", "DE", "AT", "CH", "NL", "BE", "GB", "IE", "FR", "US"]
LANGUAGES = ["no", "sv", "da", "fi", "de", "nl", "fr", "en", None]


def leads(n: int, seed: int = 11) -> list:  # type: ignore[type-arg]
    rng = random.Random(seed)
    roster_owners = ["005FX0000000002YAA", "005FX0000000003YAA", "005FX000000000IYAQ", "005FX000000000VYAQ"]
    out = []
    for i in range(n):
        kind = rng.random()
        client, key, owner = ClientType.NEW, False, None
        if kind < 0.05:
            client, key, owner = ClientType.KEY_ACCOUNT, True, rng.choice(roster_owners[:2])
        elif kind < 0.20:
            client, owner = ClientType.EXISTING_CUSTOMER, rng.choice(roster_owners)
        elif kind < 0.23:
            client, owner = ClientType.CREDIT_HOLD, rng.choice(roster_owners)
        out.append(
            scored_event(
                f"bench-{seed}-{i}",
                country=rng.choice(COUNTRIES),
                language=rng.choice(LANGUAGES),
                client_type=client,
                key_account=key,
                owner_id=owner,
                rating=rng.choice(list(Rating)),
                lead_source=rng.choice([LeadSourceKind.WEB_FORM, LeadSourceKind.WEBINAR, LeadSourceKind.LIST_UPLOAD]),
            )
        )
    return out


async def bench_domain(n: int) -> None:
    roster = await FixtureRosterSource(FIXTURE).fetch()
    config = load_routing_config(CONFIG)
    # generous caps so the benchmark measures round-robin, not queue fallbacks
    teams = {
        name: t.model_copy(
            update={"caps": t.caps.model_copy(update={"per_hour": 10**6, "per_day": 10**6, "max_open": 10**6})}
        )
        for name, t in config.teams.items()
    }
    router = Router(config.model_copy(update={"teams": teams}))
    policies = load_sla_policies(POLICIES / "sla-policies.yaml")
    planner = SlaPlanner(policies, load_calendar_file(POLICIES / "calendars.yaml"))
    events = leads(n)
    requests = [routing_request(e, []) for e in events]
    now = events[0].occurred_at.replace(hour=10)
    ledger = Ledger()
    t0 = time.perf_counter()
    decisions = [router.route(r, roster, ledger, now) for r in requests]
    t1 = time.perf_counter()
    for e, d in zip(events, decisions, strict=True):
        planner.plan(sla_input(e, d.team), now)
    t2 = time.perf_counter()
    policies = Counter(d.policy for d in decisions)
    print(f"domain: {n} routing decisions in {t1 - t0:.3f}s = {n / (t1 - t0):,.0f} decisions/s")
    print(
        f"domain: {n} SLA plans in {t2 - t1:.3f}s = {n / (t2 - t1):,.0f} plans/s; "
        f"decision + SLA = {n / (t2 - t0):,.0f} leads/s"
    )
    print(f"domain: policies {dict(policies)}")


async def bench_service(n: int, max_records: int, in_process: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedKafka(log_file=Path(tmp) / "tansu.log") as kafka:
        await ensure_topics(kafka.bootstrap)
        await ensure_topics(kafka.bootstrap, {"bench.raw": TopicSpec(partitions=6)})
        events = leads(n, seed=23)
        at = events[0].occurred_at.replace(hour=10)
        payloads = [(e.lead_id.encode(), e.to_json_bytes()) for e in events]
        del events
        env = {
            "ROUTE_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "ROUTE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/route.db",
            "ROUTE_ROUTING_CONFIG": str(CONFIG),
            "ROUTE_SLA_POLICIES": str(POLICIES / "sla-policies.yaml"),
            "ROUTE_CALENDARS": str(POLICIES / "calendars.yaml"),
            "ROUTE_ROSTER_FIXTURE": str(FIXTURE),
            "ROUTE_BATCH_MAX_RECORDS": str(max_records),
            "ROUTE_LOG_LEVEL": "WARNING",
            "ROUTE_HTTP_PORT": str(free_port()),
        }
        async with _route_service(env, at, in_process):
            consumer = AIOKafkaConsumer(
                topics.LEADS_ROUTED,
                bootstrap_servers=kafka.bootstrap,
                group_id="bench-reader",
                auto_offset_reset="earliest",
                max_poll_records=2000,
            )
            await consumer.start()
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, linger_ms=5, max_batch_size=1 << 20)
            await producer.start()
            # warm-up: one lead through, so the consumer-group joins are not timed
            warm = leads(1, seed=99)[0]
            await producer.send_and_wait(topics.LEADS_SCORED, warm.to_json_bytes(), key=warm.lead_id.encode())
            await consumer.getone()
            t0 = time.perf_counter()
            for key, value in payloads:
                await producer.send(topics.LEADS_SCORED, value, key=key)
            await producer.flush()
            t_pub = time.perf_counter() - t0
            seen: set[str] = set()
            owners: Counter[str] = Counter()
            deadline = time.monotonic() + 300
            while len(seen) < n and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        routed = LeadRouted.model_validate_json(r.value)
                        seen.add(routed.lead_id)
                        owners[routed.assignment.owner_type] += 1
            elapsed = time.perf_counter() - t0
            batches, busy = _handler_stats(None if in_process else env["ROUTE_HTTP_PORT"])
            await consumer.stop()
            raw = await raw_hop(kafka.bootstrap, producer, n)
            await producer.stop()
        where = "in-process" if in_process else "route as its own process"
        print(
            f"baseline: raw aiokafka consume -> produce hop over the same {n} leads.scored records in "
            f"{raw:.2f}s = {n / raw:,.0f} msg/s"
        )
        print(
            f"service: {len(seen)}/{n} leads routed over the real broker in {elapsed:.2f}s = "
            f"{len(seen) / elapsed:,.0f} leads/s = {raw / elapsed:.0%} of the raw hop ({where}; publish took "
            f"{t_pub:.2f}s; batch max_records={max_records}; SQLite ledger; owners {dict(owners)})"
        )
        print(
            f"service: {batches} batches (avg {n / max(batches, 1):.0f} records), handler busy {busy:.2f}s "
            f"of {elapsed:.2f}s"
        )


def _handler_stats(port: str | None) -> tuple[int, float]:
    """Batches handled and seconds spent in the handler, from route's /metrics (or this process's registry)."""
    if port is None:
        text = render()[0].decode()
    else:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    count = total = 0.0
    for line in text.splitlines():
        if line.startswith("leadflow_handler_seconds_count{") and 'service="route"' in line:
            count = float(line.rsplit(" ", 1)[1])
        if line.startswith("leadflow_handler_seconds_sum{") and 'service="route"' in line:
            total = float(line.rsplit(" ", 1)[1])
    return int(count), total


@contextlib.asynccontextmanager
async def _route_service(env: dict[str, str], at: datetime, in_process: bool) -> AsyncIterator[None]:
    if in_process:
        os.environ.update(env)
        app = create_app(RouteSettings(), clock=FakeClock(at), create_topics=False, refresh_roster=False)
        async with app.router.lifespan_context(app):
            yield
        return
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("route_at.py")), "--at", at.isoformat()],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{env['ROUTE_HTTP_PORT']}/readyz"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "route did not become ready: " + (proc.stderr.read().decode()[-2000:] if proc.stderr else "")
                )
            await asyncio.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def raw_hop(bootstrap: str, producer: AIOKafkaProducer, n: int) -> float:
    """The floor under any service on this broker and machine: consume, copy, produce, no parsing."""
    consumer = AIOKafkaConsumer(
        topics.LEADS_SCORED,
        bootstrap_servers=bootstrap,
        group_id="bench-raw-hop",
        auto_offset_reset="earliest",
        max_poll_records=2000,
    )
    await consumer.start()
    try:
        first = await consumer.getone()  # pay the group join before timing
        t0 = time.perf_counter()
        pending = [await producer.send("bench.raw", first.value, key=first.key)]
        count = 1
        while count < n + 1:  # + the warm-up lead
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batch.values():
                for r in records:
                    pending.append(await producer.send("bench.raw", r.value, key=r.key))
                    count += 1
            await asyncio.gather(*pending)
            pending.clear()
        return time.perf_counter() - t0
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=50_000)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--max-records", type=int, default=500)
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="run route inside the benchmark process")
    args = parser.parse_args()
    configure_logging("route-bench", level="WARNING")
    asyncio.run(bench_domain(args.decisions))
    if not args.skip_service:
        asyncio.run(bench_service(args.leads, args.max_records, args.in_process))


if __name__ == "__main__":
    main()
