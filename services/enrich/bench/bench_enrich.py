"""Enrich throughput: the pure domain (matching alone, and the whole enrichment) and the service over the
real embedded broker. ``make bench-enrich`` (options: ``--leads 20000 --scale 30 --domain-only``).

The mirror is the emulator's demo org (services/salesforce-emulator/fixtures/demo_org.json), its accounts
and contacts replicated ``--scale`` times under new ids and names (≈10k accounts at 30), so the index
has a realistic size. Leads mix: contact e-mail domains, company websites, exact and misspelt company
names, free-mail addresses with unknown companies, duplicates of open leads, phone-only leads.

The service runs as a subprocess (its own core, as in production) on a SQLite mirror prepared by this
script; the bench publishes with raw aiokafka and counts ``leads.enriched`` records. Leads/s = leads /
(first publish -> last enriched record), after a warm-up lead (the consumer group's first assignment
takes ~5 s on Tansu and is not enrich's speed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from leadflow_contracts import LeadAccepted, topics
from leadflow_enrich.adapters.enricher import ReferenceFileEnricher
from leadflow_enrich.adapters.mirror_repository import MirrorRepository
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.domain.enrich import enrich
from leadflow_enrich.domain.firmographics import reference_domains
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.matching import match_account
from leadflow_enrich.domain.records import from_salesforce
from leadflow_enrich.mirror import Mirror
from leadflow_enrich.testing import accepted
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine
from leadflow_platform.embedded_kafka import EmbeddedKafka, free_port
from leadflow_platform.testing.bench import count_from, end_offsets, process_cpu_seconds, wait_http
from leadflow_platform.topics_admin import ensure_topics, load_topics

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "services/salesforce-emulator/fixtures/demo_org.json"
NOW = datetime(2025, 6, 2, 9, tzinfo=UTC)


SYLLABLES = [
    "ka",
    "lo",
    "ven",
    "tra",
    "mi",
    "sol",
    "ber",
    "an",
    "dor",
    "el",
    "fi",
    "gar",
    "hel",
    "in",
    "jo",
    "kor",
    "lun",
    "mar",
    "nor",
    "ost",
    "pel",
    "qui",
    "ros",
    "sten",
    "tor",
    "ul",
    "vik",
    "wen",
    "xa",
    "yr",
]


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def scaled_org(scale: int) -> dict[str, list[dict[str, Any]]]:
    """The demo org plus ``scale - 1`` copies of its accounts/contacts under new ids, names and domains."""
    rng = random.Random(5)
    recs = json.loads(FIXTURE.read_text())["records"]
    org: dict[str, list[dict[str, Any]]] = {
        "User": recs["User"],
        "Lead": recs["Lead"],
        "Queue": [g for g in recs["Group"] if g.get("Type") == "Queue"],
        "Account": [],
        "Contact": [],
    }
    renamed: dict[str, str] = {}
    for k in range(scale):
        for acc in recs["Account"]:
            a = dict(acc)
            if k:
                words = [pseudo_word(rng), rng.choice(acc["Name"].split()[1:2] or ["Group"])]
                a["Id"] = f"{acc['Id']}-{k}"
                a["Name"] = " ".join(words) + " " + acc["Name"].split()[-1]
                renamed[a["Id"]] = "".join(words).lower()
                if a.get("Website"):
                    a["Website"] = f"https://www.{'-'.join(words).lower()}-{k}.example"
            org["Account"].append(a)
        for con in recs["Contact"]:
            c = dict(con)
            if k:
                c["Id"] = f"{con['Id']}-{k}"
                c["AccountId"] = f"{con['AccountId']}-{k}"
                if c.get("Email"):
                    c["Email"] = f"{c['Email'].split('@')[0]}@{renamed[c['AccountId']]}{k}.example"
                if c.get("Phone"):
                    c["Phone"] = f"+47 {rng.randint(20000000, 99999999)}"
            org["Contact"].append(c)
    return org


class FixtureReader:
    def __init__(self, org: dict[str, list[dict[str, Any]]]) -> None:
        self.org = org

    async def full(self, obj: str) -> list[dict[str, Any]]:
        return self.org.get(obj, [])

    async def changed_since(self, obj: str, since: datetime) -> list[dict[str, Any]]:
        return []


def make_leads(org: dict[str, list[dict[str, Any]]], n: int, seed: int = 11) -> list[LeadAccepted]:
    rng = random.Random(seed)
    accounts = [a for a in org["Account"] if a.get("Website")]
    contacts = [c for c in org["Contact"] if c.get("Email")]
    phones = [c["Phone"] for c in org["Contact"] if c.get("Phone")]
    open_leads = [ld for ld in org["Lead"] if not ld.get("IsConverted") and ld.get("Email")]
    out = []
    for i in range(n):
        kind = rng.random()
        no = rng.random() < 0.5
        phone = f"+47{rng.randint(20000000, 99999999)}" if no else f"+4930{rng.randint(1000000, 9999999)}"
        fields: dict[str, Any] = {
            "phone_e164": phone,
            "country": "NO" if phone.startswith("+47") else "DE",
            "job_title": "Head of Operations",
        }
        if kind < 0.30:
            c = rng.choice(contacts)
            fields["email"] = f"new.{i}@{c['Email'].split('@', 1)[1]}"
        elif kind < 0.40:
            a = rng.choice(accounts)
            fields.update(email=f"p{i}@gmail.com", email_is_free=True, company_domain=a["Website"])
        elif kind < 0.55:
            a = rng.choice(accounts)
            fields.update(email=f"p{i}@hotmail.com", email_is_free=True, company_name=a["Name"].upper()[:-3])
        elif kind < 0.65:
            name = rng.choice(accounts)["Name"]
            pos = rng.randint(1, len(name) - 2)
            fields.update(email=f"p{i}@yahoo.com", email_is_free=True, company_name=name[:pos] + name[pos + 1 :])
        elif kind < 0.85:
            fields.update(email=f"p{i}@gmail.com", email_is_free=True, company_name=f"Unknown Venture {i} GmbH")
        elif kind < 0.95:
            fields["email"] = rng.choice(open_leads)["Email"]
        else:
            fields["phone_e164"] = rng.choice(phones).replace(" ", "")
        out.append(accepted(f"bench-{i}", **fields))
    return out


async def build_index(org: dict[str, list[dict[str, Any]]]) -> MirrorIndex:
    policy = load_policy()
    index = MirrorIndex(policy.free_mail_domains, policy.duplicates)
    for obj, rows in org.items():
        for row in rows:
            index.apply(from_salesforce(obj, row))  # type: ignore[arg-type]
    return index


async def domain_rate(org: dict[str, list[dict[str, Any]]], leads: list[LeadAccepted]) -> None:
    policy = load_policy()
    t = time.perf_counter()
    index = await build_index(org)
    print(f"index: {index.counts()} built in {time.perf_counter() - t:.2f} s")
    enricher = ReferenceFileEnricher()
    domains = {d for ev in leads for d in reference_domains(ev.lead, index.free_mail)}
    reference = await enricher.lookup(domains)
    for ev in leads[:200]:  # warm the caches the way a running service has them
        match_account(ev.lead, index, policy.matching)
    methods: dict[str, int] = {}
    w, c = time.perf_counter(), time.process_time()
    for ev in leads:
        m = match_account(ev.lead, index, policy.matching).match.method.value
        methods[m] = methods.get(m, 0) + 1
    match_wall, match_cpu = time.perf_counter() - w, time.process_time() - c
    w, c = time.perf_counter(), time.process_time()
    for ev in leads:
        enrich(ev, index, policy, reference, NOW)
    enrich_wall, enrich_cpu = time.perf_counter() - w, time.process_time() - c
    n = len(leads)
    print(f"match methods: {dict(sorted(methods.items()))}")
    print(
        f"domain matching: {n / match_cpu:,.0f} leads/s per core by CPU time ({match_cpu / n * 1e6:.0f} us/lead); "
        f"wall {n / match_wall:,.0f} leads/s"
    )
    print(
        f"domain enrich (match + duplicates + client type + firmographics + time zone + event): "
        f"{n / enrich_cpu:,.0f} leads/s per core by CPU time ({enrich_cpu / n * 1e6:.0f} us/lead); "
        f"wall {n / enrich_wall:,.0f} leads/s"
    )


async def prepare_db(url: str, org: dict[str, list[dict[str, Any]]]) -> None:
    engine = create_engine(url)
    repo = MirrorRepository(engine)
    await repo.create_tables()
    policy = load_policy()
    mirror = Mirror(repo, MirrorIndex(policy.free_mail_domains, policy.duplicates), FakeClock(NOW), FixtureReader(org))  # type: ignore[arg-type]
    await mirror.start()
    await engine.dispose()


async def service_rate(
    org: dict[str, list[dict[str, Any]]], leads: list[LeadAccepted], args: argparse.Namespace
) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="leadflow-bench-enrich-"))
    db_url = f"sqlite+aiosqlite:///{workdir / 'enrich.db'}"
    await prepare_db(db_url, org)
    payloads = [ev.to_json_bytes() for ev in leads]
    with EmbeddedKafka(log_file=workdir / "tansu.log") as kafka:
        bootstrap = kafka.bootstrap
        await ensure_topics(bootstrap, load_topics())
        port = free_port()
        env = {
            **os.environ,
            "ENRICH_KAFKA_BOOTSTRAP": bootstrap,
            "ENRICH_HTTP_PORT": str(port),
            "ENRICH_DATABASE_URL": db_url,
            "ENRICH_LOG_LEVEL": "WARNING",
            "ENRICH_LOG_JSON": "true",
            "ENRICH_BATCH_MAX_RECORDS": str(args.max_records),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadflow_enrich"],
            env=env,
            stdout=open(workdir / "enrich.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            await wait_http(f"http://127.0.0.1:{port}/readyz", 120)
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024, max_request_size=4 * 1024 * 1024
            )
            await producer.start()
            try:
                warm_start = await end_offsets(bootstrap, [topics.LEADS_ENRICHED])
                await producer.send_and_wait(topics.LEADS_ACCEPTED, payloads[0], key=b"warm")
                warm, _ = await count_from(bootstrap, warm_start, 1, 60)
                if warm != 1:
                    print("enrich did not answer the warm-up lead; see", workdir / "enrich.log", file=sys.stderr)
                    return 1
                start = await end_offsets(bootstrap, [topics.LEADS_ENRICHED])
                cpu0 = process_cpu_seconds(proc.pid)
                counter = asyncio.create_task(count_from(bootstrap, start, len(leads), args.timeout))
                t0 = time.perf_counter()
                futures = [
                    await producer.send(topics.LEADS_ACCEPTED, raw, key=ev.kafka_key())
                    for ev, raw in zip(leads, payloads, strict=True)
                ]
                await asyncio.gather(*futures)
                t_pub = time.perf_counter()
                seen, t_last = await counter
                cpu = process_cpu_seconds(proc.pid) - cpu0
                stats = handler_stats(f"http://127.0.0.1:{port}/metrics", "accepted_batch")
            finally:
                await producer.stop()
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"publish: {len(leads) / (t_pub - t0):,.0f} leads/s ({t_pub - t0:.2f} s)")
    print(
        f"enrich service over the embedded broker: {seen / (t_last - t0):,.0f} leads/s "
        f"({seen} enriched in {t_last - t0:.2f} s, first publish -> last enriched)"
    )
    print(
        f"enrich process CPU: {cpu:.2f} s -> {seen / max(cpu, 1e-9):,.0f} leads/s per core of service CPU "
        f"({cpu / max(seen, 1) * 1e6:.0f} us/lead: parse, enrich, serialise, publish)"
    )
    if stats:
        batches, seconds = stats
        print(
            f"enrich batches: {batches:.0f} (avg {len(leads) / max(batches, 1):.0f} leads), handler time "
            f"{seconds:.2f} s ({seconds / max(seen, 1) * 1e6:.0f} us/lead incl. publish waits)"
        )
    return 0 if seen == len(leads) else 1


def handler_stats(url: str, handler: str) -> tuple[float, float] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    count = total = None
    for line in text.splitlines():
        if f'handler="{handler}"' in line and 'service="enrich"' in line:
            if line.startswith("leadflow_handler_seconds_count"):
                count = float(line.rsplit(" ", 1)[1])
            elif line.startswith("leadflow_handler_seconds_sum"):
                total = float(line.rsplit(" ", 1)[1])
    return (count, total) if count is not None and total is not None else None


async def run(args: argparse.Namespace) -> int:
    org = scaled_org(args.scale)
    leads = make_leads(org, args.leads)
    await domain_rate(org, leads)
    if args.domain_only:
        return 0
    return await service_rate(org, leads, args)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leads", type=int, default=20000)
    p.add_argument("--scale", type=int, default=30, help="replicate the demo org's accounts this many times")
    p.add_argument("--max-records", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=180)
    p.add_argument("--domain-only", action="store_true")
    sys.exit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()
