"""Intake throughput over the real embedded broker: ``make bench-intake``.

Starts a fresh embedded (Tansu) broker, runs intake as a subprocess (its own core, as in
production), publishes N leads (≈2 % bad: broken JSON, invalid UTF-8, missing fields, invalid
e-mails, oversized) with raw aiokafka to ``leads.inbound`` and reads ``leads.accepted`` +
``leads.rejected`` until every lead has a verdict. Prints leads/s from the first publish to
the last verdict. Options: ``--leads 50000 --bad-ratio 0.02 --in-process``.
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
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from leadflow_contracts import topics
from leadflow_platform.embedded_kafka import EmbeddedKafka, free_port
from leadflow_platform.testing.bench import end_offsets, wait_http
from leadflow_platform.testing.bench import process_cpu_seconds as cpu_seconds
from leadflow_platform.topics_admin import ensure_topics, load_topics

FIRST = ["anna", "BEN", "Chloé", "dmitri", "Eva", "FRANK", "giulia", "Hans", "ines", "JAN"]
LAST = ["van der berg", "MCDONALD", "o'neil", "Schmidt", "müller-lüdenscheidt", "Rossi", "DUPONT", "Nowak"]
COUNTRIES = ["DE", "Germany", "GB", "United Kingdom", "FR", "NL", "Netherlands", "IT", "AT", "CH"]
# National formats; the last digits vary per lead so no cache could make the numbers look faster.
PHONES = {
    "DE": "030 123{:04d}",
    "GB": "020 7946 {:04d}",
    "FR": "01 42 68 {:04d}",
    "NL": "020 555 {:04d}",
    "IT": "06 1234 {:04d}",
    "AT": "01 512{:04d}",
    "CH": "044 668 {:04d}",
}


def good_lead(i: int, rng: random.Random) -> bytes:
    country = rng.choice(COUNTRIES)
    iso = {"Germany": "DE", "United Kingdom": "GB", "Netherlands": "NL"}.get(country, country)
    lead = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "occurred_at": "2026-11-26T09:30:00Z",
        "source": {"system": "bench", "campaign": {"utm_source": "bench", "utm_campaign": f"c{i % 7}"}},
        "lead_source": rng.choice(["web_form", "callback_request", "webinar", "partner"]),
        "person": {
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST),
            "email": f"person{i}@{rng.choice(['gmail.com', 'acme-industries.de', 'example.co.uk'])}",
            "phone": PHONES.get(iso, "+49 30 123{:04d}").format(rng.randrange(10000)),
            "language": rng.choice(["de", "en_GB", "fr-fr"]),
        },
        "company": {
            "name": f"Company {i % 500}",
            "website": f"https://www.company{i % 500}.example",
            "country": country,
            "employees": rng.randint(1, 5000),
        },
        "consent": {"may_call": rng.random() > 0.1, "may_email": True},
        "engagement": {"page_views": rng.randint(0, 40), "visits": rng.randint(1, 9)},
        "message": "Please call me about pricing.",
    }
    return json.dumps(lead).encode()


def bad_lead(i: int, rng: random.Random) -> bytes:
    # Every bad payload is unique: intake rightly treats identical bytes as a replay of one rejection.
    kind = i % 5
    if kind == 0:
        return b'{"event_id": "broken' + str(i).encode()
    if kind == 1:
        return b'{"event_id": "x\xff\xfe' + str(i).encode() + b'", "source": {"system": "bench"}}'
    if kind == 2:
        return json.dumps({"event_id": f"missing-{i}", "source": {"system": "bench"}}).encode()
    if kind == 3:
        data = json.loads(good_lead(i, rng))
        data["person"]["email"] = "not-an-email"
        data["person"]["phone"] = None
        return json.dumps(data).encode()
    return b'{"pad": "' + str(i).encode() + b"x" * (70 * 1024) + b'"}'


def make_leads(n: int, bad_ratio: float, seed: int = 7) -> tuple[list[bytes], int]:
    rng = random.Random(seed)
    out, bad = [], 0
    for i in range(n):
        if rng.random() < bad_ratio:
            out.append(bad_lead(i, rng))
            bad += 1
        else:
            out.append(good_lead(i, rng))
    return out, bad


async def count_verdicts(
    bootstrap: str, start: dict[TopicPartition, int], want: int, timeout: float, heads: set[bytes] | None = None
) -> tuple[int, int, float]:
    """Read verdicts from ``start`` until ``want`` *distinct* ones (by event id) arrived.
    Returns (records read, distinct verdicts, time of the last new verdict)."""
    heads = set() if heads is None else heads
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        read = 0
        last = time.perf_counter()
        deadline = time.monotonic() + timeout
        while len(heads) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10000)
            before = len(heads)
            for records in batch.values():
                read += len(records)
                heads.update(r.value[:64] for r in records)  # starts with the deterministic event id
            if len(heads) > before:
                last = time.perf_counter()
        return read, len(heads), last
    finally:
        await consumer.stop()


async def run(args: argparse.Namespace) -> int:
    leads, bad = make_leads(args.leads, args.bad_ratio)
    log = Path(tempfile.gettempdir()) / f"leadflow-bench-tansu-{os.getpid()}.log"
    workdir = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    with EmbeddedKafka(log_file=log) as kafka:
        await ensure_topics(kafka.bootstrap, load_topics())
        bootstrap = kafka.bootstrap
        ports = [free_port() for _ in range(args.instances)]
        base_env = {
            **os.environ,
            "INTAKE_KAFKA_BOOTSTRAP": bootstrap,
            "INTAKE_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'intake.db'}",
            "INTAKE_DEFAULT_REGION": "DE",
            "INTAKE_LOG_LEVEL": args.log_level,
            "INTAKE_LOG_JSON": "true",
            "INTAKE_BATCH_MAX_RECORDS": str(args.max_records),
        }
        if args.compression:
            base_env["INTAKE_KAFKA_COMPRESSION"] = args.compression
        procs: list[subprocess.Popen[bytes]] = []
        app_task = None
        if args.in_process:
            app_task = asyncio.create_task(_serve_in_process({**base_env, "INTAKE_HTTP_PORT": str(ports[0])}))
        else:
            for n, port in enumerate(ports):
                env = {**base_env, "INTAKE_HTTP_PORT": str(port), "INTAKE_INSTANCE_ID": f"bench-{n}"}
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "leadflow_intake"],
                        env=env,
                        stdout=open(workdir / f"intake-{n}.log", "wb"),
                        stderr=subprocess.STDOUT,
                    )
                )
        port = ports[0]
        try:
            for p in ports:
                await wait_http(f"http://127.0.0.1:{p}/readyz", 60)
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024, max_request_size=4 * 1024 * 1024
            )
            await producer.start()
            try:
                out_topics = [topics.LEADS_ACCEPTED, topics.LEADS_REJECTED]
                # Warm-up: the consumer group's first assignment (~5 s on Tansu) is not intake's speed.
                warm_start = await end_offsets(bootstrap, out_topics)
                warm_n = 1 if args.instances == 1 else 24
                for w in range(warm_n):
                    await producer.send_and_wait(
                        topics.LEADS_INBOUND, good_lead(-1 - w, random.Random(w)), key=f"warm-{w}".encode()
                    )
                warm_heads: set[bytes] = set()
                _, warm, _ = await count_verdicts(bootstrap, warm_start, warm_n, 90, warm_heads)
                if warm != warm_n:
                    print("intake did not answer the warm-up leads", file=sys.stderr)
                    return 1
                if args.instances > 1:
                    await asyncio.sleep(5)  # let the group settle after the last member joined
                start_offsets = await end_offsets(bootstrap, out_topics)
                cpu_before = sum(cpu_seconds(p.pid) for p in procs)
                # Warm-up verdicts that show up again (a broker's end offsets can lag) are not counted twice.
                counter = asyncio.create_task(
                    count_verdicts(bootstrap, start_offsets, warm + len(leads), args.timeout, set(warm_heads))
                )
                t0 = time.perf_counter()
                futures = [
                    await producer.send(topics.LEADS_INBOUND, raw, key=str(i).encode()) for i, raw in enumerate(leads)
                ]
                await asyncio.gather(*futures)
                t_published = time.perf_counter()
                read, seen, t_last = await counter
                seen -= warm
                cpu_used = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
                per_instance = [scrape_handler_stats(f"http://127.0.0.1:{p}/metrics") for p in ports]
                stats = (sum(s[0] for s in per_instance if s), sum(s[1] for s in per_instance if s))
            finally:
                await producer.stop()
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            if app_task is not None:
                app_task.cancel()
    elapsed = t_last - t0
    print(
        f"leads: {len(leads)} ({bad} bad), intake instances: {args.instances}, "
        f"compression: {args.compression or 'default'}, distinct verdicts: {seen}"
    )
    if read != seen:
        print(f"note: {read - seen} records read twice (warm-up verdicts behind lagging end offsets, redelivery)")
    print(f"publish: {len(leads) / (t_published - t0):,.0f} leads/s ({t_published - t0:.2f} s)")
    print(f"intake end-to-end: {seen / elapsed:,.0f} leads/s ({elapsed:.2f} s, first publish -> last verdict)")
    if procs:
        print(
            f"intake CPU: {cpu_used:.2f} s ({cpu_used / max(seen, 1) * 1e6:.0f} us/lead, i.e. "
            f"{seen / max(cpu_used, 1e-9):,.0f} leads per CPU-second); load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} cores"
        )
    if stats:
        batches, seconds = stats
        print(
            f"intake batches: {batches:.0f}, avg {len(leads) / max(batches, 1):.0f} leads/batch, "
            f"handler time {seconds:.2f} s ({seconds / max(seen, 1) * 1e6:.0f} us/lead)"
        )
    return 0 if seen == len(leads) else 1


def scrape_handler_stats(url: str) -> tuple[float, float] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    count = total = 0.0
    for line in text.splitlines():
        if line.startswith("leadflow_handler_seconds_count") and 'handler="kafka_batch"' in line:
            count = float(line.rsplit(" ", 1)[1])
        if line.startswith("leadflow_handler_seconds_sum") and 'handler="kafka_batch"' in line:
            total = float(line.rsplit(" ", 1)[1])
    return count, total


async def _serve_in_process(env: dict[str, str]) -> None:
    import uvicorn
    from leadflow_intake.app import create_app
    from leadflow_intake.settings import IntakeSettings

    os.environ.update(env)
    settings = IntakeSettings()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    await uvicorn.Server(config).serve()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--bad-ratio", type=float, default=0.02)
    parser.add_argument("--max-records", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--log-level", default="WARNING", help="intake's log level (DEBUG shows each batch)")
    parser.add_argument("--in-process", action="store_true", help="run intake in this process (shares the core)")
    parser.add_argument("--instances", type=int, default=1, help="intake processes in one consumer group")
    parser.add_argument("--compression", default=None, help="override INTAKE_KAFKA_COMPRESSION (gzip, none)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
