"""Score throughput: the pure domain (rules + blend + event) and the service over the real embedded broker.
``make bench-score`` (options: ``--leads 20000 --domain-only --model``).

The service runs as a subprocess (its own core, as in production); the bench publishes LeadEnriched
records with raw aiokafka and counts ``leads.scored`` records. Leads/s = leads / (first publish -> last
scored record), after a warm-up lead (the consumer group's first assignment takes ~5 s on Tansu). The
service's own CPU time is read from /proc, which stays meaningful when other processes load the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from leadflow_contracts import CallbackWindow, ClientType, Firmographics, LeadEnriched, LeadSourceKind, topics
from leadflow_platform.embedded_kafka import EmbeddedKafka, free_port
from leadflow_platform.testing.bench import count_from, end_offsets, process_cpu_seconds, wait_http
from leadflow_platform.topics_admin import ensure_topics, load_topics
from leadflow_score.adapters.ruleset_file import load_ruleset
from leadflow_score.domain.engine import blend, score_rules, scored_event
from leadflow_score.testing import T0, FakeModel, enriched

TITLES = [
    "CEO",
    "Managing Director",
    "Head of Logistics",
    "VP Sales",
    "Purchasing Manager",
    "Engineer",
    "Procurement Specialist",
    "Student",
    "Team Lead Operations",
    "Daglig leder",
    "Geschäftsführer",
    None,
]
INDUSTRIES = ["Manufacturing", "Retail", "Technology", "Energy", "Shipping", "Healthcare", "Finance", None]
COUNTRIES = ["NO", "SE", "DK", "DE", "NL", "GB", "FR", "US", "PL", None]


def make_leads(n: int, seed: int = 3) -> list[LeadEnriched]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        source = rng.choice(list(LeadSourceKind))
        ago = timedelta(days=rng.choice([0, 0, 1, 3, 10, 30, 90]))
        out.append(
            enriched(
                f"bench-{i}",
                job_title=rng.choice(TITLES),
                country=rng.choice(COUNTRIES),
                lead_source=source,
                email_is_free=rng.random() < 0.2,
                submitted_at=T0 - ago,
                callback=CallbackWindow(start=T0 + timedelta(hours=3))
                if source is LeadSourceKind.CALLBACK_REQUEST
                else None,
                engagement={
                    "visits": rng.randint(0, 12),
                    "page_views": rng.randint(0, 40),
                    "time_on_site_seconds": rng.uniform(0, 1500),
                    "content_downloads": rng.randint(0, 4),
                    "last_activity_at": T0 - ago,
                },
                client_type=rng.choice(list(ClientType)),
                firmographics=Firmographics(
                    industry=rng.choice(INDUSTRIES), employees=rng.choice([5, 30, 120, 600, 4000])
                ),
            )
        )
    return out


def domain_rate(leads: list[LeadEnriched], with_model: bool) -> None:
    rs = load_ruleset()
    model = FakeModel({e.lead_id: (i % 100) / 100 for i, e in enumerate(leads)}) if with_model else None
    models = model.score_batch(leads) if model else [None] * len(leads)
    w, c = time.perf_counter(), time.process_time()
    for ev in leads:
        score_rules(ev, rs)
    rules_wall, rules_cpu = time.perf_counter() - w, time.process_time() - c
    w, c = time.perf_counter(), time.process_time()
    grades: dict[str, int] = {}
    for ev, ms in zip(leads, models, strict=True):
        rules = score_rules(ev, rs)
        s = blend(rules, ms, 0.3, rs)
        scored_event(ev, s, rules, T0)
        grades[f"{s.grade.value}/{s.rating.value}"] = grades.get(f"{s.grade.value}/{s.rating.value}", 0) + 1
    full_wall, full_cpu = time.perf_counter() - w, time.process_time() - c
    n = len(leads)
    print(f"grade/rating mix: {dict(sorted(grades.items()))}")
    print(
        f"domain rules: {n / rules_cpu:,.0f} leads/s per core by CPU time ({rules_cpu / n * 1e6:.0f} us/lead); "
        f"wall {n / rules_wall:,.0f} leads/s"
    )
    print(
        f"domain score (rules + {'model blend + ' if with_model else ''}event): {n / full_cpu:,.0f} leads/s per "
        f"core by CPU time ({full_cpu / n * 1e6:.0f} us/lead); wall {n / full_wall:,.0f} leads/s"
    )


async def service_rate(leads: list[LeadEnriched], args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="leadflow-bench-score-"))
    payloads = [ev.to_json_bytes() for ev in leads]
    with EmbeddedKafka(log_file=workdir / "tansu.log") as kafka:
        bootstrap = kafka.bootstrap
        await ensure_topics(bootstrap, load_topics())
        port = free_port()
        env = {
            **os.environ,
            "SCORE_KAFKA_BOOTSTRAP": bootstrap,
            "SCORE_HTTP_PORT": str(port),
            "SCORE_LOG_LEVEL": "WARNING",
            "SCORE_LOG_JSON": "true",
            "SCORE_BATCH_MAX_RECORDS": str(args.max_records),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadflow_score"],
            env=env,
            stdout=open(workdir / "score.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            await wait_http(f"http://127.0.0.1:{port}/readyz", 120)
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024, max_request_size=4 * 1024 * 1024
            )
            await producer.start()
            try:
                warm_start = await end_offsets(bootstrap, [topics.LEADS_SCORED])
                await producer.send_and_wait(topics.LEADS_ENRICHED, payloads[0], key=b"warm")
                warm, _ = await count_from(bootstrap, warm_start, 1, 60)
                if warm != 1:
                    print("score did not answer the warm-up lead; see", workdir / "score.log", file=sys.stderr)
                    return 1
                start = await end_offsets(bootstrap, [topics.LEADS_SCORED])
                cpu0 = process_cpu_seconds(proc.pid)
                counter = asyncio.create_task(count_from(bootstrap, start, len(leads), args.timeout))
                t0 = time.perf_counter()
                futures = [
                    await producer.send(topics.LEADS_ENRICHED, raw, key=ev.kafka_key())
                    for ev, raw in zip(leads, payloads, strict=True)
                ]
                await asyncio.gather(*futures)
                t_pub = time.perf_counter()
                seen, t_last = await counter
                cpu = process_cpu_seconds(proc.pid) - cpu0
            finally:
                await producer.stop()
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"publish: {len(leads) / (t_pub - t0):,.0f} leads/s ({t_pub - t0:.2f} s)")
    print(
        f"score service over the embedded broker: {seen / (t_last - t0):,.0f} leads/s "
        f"({seen} scored in {t_last - t0:.2f} s, first publish -> last scored)"
    )
    print(
        f"score process CPU: {cpu:.2f} s -> {seen / max(cpu, 1e-9):,.0f} leads/s per core of service CPU "
        f"({cpu / max(seen, 1) * 1e6:.0f} us/lead: parse, score, serialise, publish)"
    )
    return 0 if seen == len(leads) else 1


async def run(args: argparse.Namespace) -> int:
    leads = make_leads(args.leads)
    domain_rate(leads, args.model)
    if args.domain_only:
        return 0
    return await service_rate(leads, args)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leads", type=int, default=20000)
    p.add_argument("--max-records", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=180)
    p.add_argument("--model", action="store_true", help="include a (fake) model blend in the domain figure")
    p.add_argument("--domain-only", action="store_true")
    sys.exit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()
