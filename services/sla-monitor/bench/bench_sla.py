"""Breach-detection lag with a million open timers.

Inserts N open timers (bulk insert; SQLite file by default, PostgreSQL via pgserver with
``--postgres``), of which a few thousand come due over a ~30 s window, then runs the real
scheduler (SystemClock, default settings) publishing to the embedded Kafka broker (``--no-kafka``
publishes to memory instead). Prints the lag from each deadline to its ``breached`` event being
acknowledged by the broker (p50/p95/p99/max), the timer count, the fire rate and memory (RSS).

    python services/sla-monitor/bench/bench_sla.py [--timers 1000000] [--due 3000] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leadflow_businesstime import load_calendar_file, load_sla_policies
from leadflow_contracts.sla import SlaEvent
from leadflow_platform.clock import SystemClock
from leadflow_platform.db import create_engine
from leadflow_sla_monitor.adapters.publisher import KafkaEventPublisher, Outgoing, RecordingPublisher
from leadflow_sla_monitor.adapters.store import TimerStore, timers
from leadflow_sla_monitor.scheduler import Scheduler
from leadflow_sla_monitor.service import Calendars, SlaMonitor
from leadflow_sla_monitor.settings import SlaSettings, find_file
from sqlalchemy import bindparam, func, select

CHUNK = 20_000


def rss_mib() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class TimingPublisher:
    """Publishes through ``inner`` and notes when each breach was acknowledged."""

    def __init__(self, inner: KafkaEventPublisher | RecordingPublisher) -> None:
        self.inner = inner
        self.lags: list[float] = []
        self.events = 0

    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        await self.inner.publish_all(messages)
        acked = datetime.now(UTC)
        self.events += len(messages)
        for m in messages:
            if isinstance(m.event, SlaEvent) and m.event.kind.value == "breached":
                self.lags.append((acked - m.event.due_at).total_seconds())
        if isinstance(self.inner, RecordingPublisher):
            self.inner.published.clear()


def row(i: int, now: datetime, due: datetime, state: str, calendar: str, tz: str) -> dict[str, object]:
    return {
        "lead_id": f"bench-{i:07d}",
        "clock": "first_touch",
        "cycle": 0,
        "policy": "default",
        "calendar": calendar,
        "timezone": tz,
        "started_at": now - timedelta(hours=1),
        "due_at": due,
        "warn_at": None if state == "warned" else due - timedelta(minutes=30),
        "next_fire_at": due if state == "warned" else due - timedelta(minutes=30),
        "state": state,
        "escalation_step": 0,
        "owner_id": f"005REP{i % 500:04d}",
        "team": "Nordics",
        "rating": "Cold",
        "lead_source": "web_form",
        "client_type": "new",
        "version": 0,
        "updated_at": now,
    }


def _sqlite_text(value: object) -> object:
    """SQLAlchemy's SQLite DATETIME text form (naive UTC, always with microseconds)."""
    if isinstance(value, datetime):
        utc = value.astimezone(UTC).replace(tzinfo=None)
        return f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond:06d}"
    return value


async def bulk_insert(store: TimerStore, rows: list[dict[str, object]], sqlite_path: Path | None) -> None:
    """SQLite: the stdlib driver's ``executemany`` on the file (no per-value Python type processing);
    PostgreSQL: SQLAlchemy ``executemany`` through asyncpg."""
    if sqlite_path is not None:
        columns = list(rows[0])
        sql = f"INSERT INTO sla_timers ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        with sqlite3.connect(sqlite_path, timeout=30) as db:
            db.executemany(sql, ([_sqlite_text(r[c]) for c in columns] for r in rows))
        return
    async with store.engine.begin() as conn:
        await conn.execute(timers.insert(), rows)


async def insert_timers(
    store: TimerStore, total: int, due: int, window: float, lead_in: float, sqlite_path: Path | None
) -> datetime:
    """Insert ``total`` timers; ``due`` of them come due between ``lead_in`` and ``lead_in + window``
    seconds after the insert finishes (the rest hours to weeks ahead). Returns the window start."""
    rnd = random.Random(7)
    calendar, tz = "nordics", "Europe/Oslo"
    now = datetime.now(UTC)
    due_ids = set(rnd.sample(range(total), due))
    started = time.perf_counter()
    batch: list[dict[str, object]] = []
    for i in range(total):
        if i in due_ids:  # parked a year ahead; their deadlines are set once the insert is done
            batch.append(row(i, now, now + timedelta(days=365), "warned", calendar, tz))
        else:
            batch.append(row(i, now, now + timedelta(hours=rnd.uniform(2, 24 * 21)), "open", calendar, tz))
        if len(batch) >= CHUNK:
            await bulk_insert(store, batch, sqlite_path)
            batch.clear()
    if batch:
        await bulk_insert(store, batch, sqlite_path)
    print(f"inserted {total:,} timers in {time.perf_counter() - started:.1f} s", flush=True)
    window_start = datetime.now(UTC) + timedelta(seconds=lead_in)
    stmt = (
        timers.update()
        .where(timers.c.lead_id == bindparam("b_lead"), timers.c.clock == "first_touch")
        .values(
            due_at=bindparam("b_at", type_=timers.c.due_at.type),
            next_fire_at=bindparam("b_next", type_=timers.c.due_at.type),
        )
    )
    params = []
    for i in sorted(due_ids):
        at = window_start + timedelta(seconds=rnd.uniform(0, window))
        params.append({"b_lead": f"bench-{i:07d}", "b_at": at, "b_next": at})
    async with store.engine.begin() as conn:
        await conn.execute(stmt, params)  # one executemany
    spare = (window_start - datetime.now(UTC)).total_seconds()
    print(f"{due:,} deadlines set; {spare:.1f} s to spare before the first can come due", flush=True)
    if spare < 0:
        raise SystemExit("setup was slower than the lead-in: lags would be inflated; raise --lead-in")
    return window_start


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-sla-"))
    pg = None
    if args.postgres:
        import pgserver  # type: ignore[import-untyped]

        pg = pgserver.get_server(str(workdir / "pg"), cleanup_mode="delete")
        head, _, query = pg.get_uri().partition("?")
        url = f"postgresql+asyncpg://{head.split('://', 1)[1]}?{query}"
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'sla-bench.db'}"
    sqlite_path = None if args.postgres else workdir / "sla-bench.db"
    kafka = None
    broker = None
    settings = SlaSettings()
    calendars_file = load_calendar_file(find_file(settings.calendars_file))
    policies = load_sla_policies(find_file(settings.policies_file), calendars_file.calendars)
    if args.no_kafka:
        inner: KafkaEventPublisher | RecordingPublisher = RecordingPublisher()
    else:
        from leadflow_platform.broker import make_broker
        from leadflow_platform.embedded_kafka import EmbeddedKafka
        from leadflow_platform.topics_admin import ensure_topics

        kafka = EmbeddedKafka(log_file=workdir / "tansu.log").start()
        await ensure_topics(kafka.bootstrap)
        broker = make_broker(settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap}))
        await broker.start()
        inner = KafkaEventPublisher(broker)
        # Steady state: a running service has long since fetched the topics' metadata and connected
        # to their leaders; the first publish to a topic would otherwise add seconds to the first breaches.
        for topic in (settings.topic("sla.events"), settings.topic("leads.reassign")):
            await broker.publish(b"{}", topic, key=b"bench-warm-up")
    engine = create_engine(url)
    store = TimerStore(engine)
    try:
        await store.create_tables()
        window_start = await insert_timers(store, args.timers, args.due, args.window, args.lead_in, sqlite_path)
        publisher = TimingPublisher(inner)
        clock = SystemClock()
        monitor = SlaMonitor(store, publisher, policies, Calendars(calendars_file), clock)
        scheduler = Scheduler(
            monitor,
            clock,
            instance_id="bench",
            batch_size=settings.scheduler_batch_size,
            lease=timedelta(seconds=settings.scheduler_lease_seconds),
            poll_seconds=settings.scheduler_poll_seconds,
        )
        task = asyncio.create_task(scheduler.run())
        end = window_start + timedelta(seconds=args.window + 3)
        while datetime.now(UTC) < end or len(publisher.lags) < args.due:
            await asyncio.sleep(0.5)
            if datetime.now(UTC) > end + timedelta(seconds=30):
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(timers))).scalar_one()
            open_count = (
                await conn.execute(select(func.count()).select_from(timers).where(timers.c.state == "open"))
            ).scalar_one()
        lags = sorted(publisher.lags)
        if not lags:
            print("no breach was published", file=sys.stderr)
            raise SystemExit(1)

        def pct(p: float) -> float:
            return lags[min(len(lags) - 1, round(p / 100 * (len(lags) - 1)))]

        rss, peak = rss_mib()
        backend = "postgresql" if args.postgres else "sqlite"
        sink = "memory" if args.no_kafka else "embedded kafka"
        print(
            f"sla bench ({backend}, {sink}): timers={count:,} open={open_count:,} breached={len(lags):,}/{args.due:,} "
            f"over {args.window:.0f}s"
        )
        print(
            f"breach lag: p50={pct(50) * 1000:.0f} ms p95={pct(95) * 1000:.0f} ms p99={pct(99) * 1000:.0f} ms "
            f"max={lags[-1] * 1000:.0f} ms mean={statistics.fmean(lags) * 1000:.0f} ms"
        )
        print(
            f"fire rate: {len(lags) / args.window:.0f} breaches/s (scheduler rounds={scheduler.rounds:,}, "
            f"events published={publisher.events:,}); memory: rss={rss:.0f} MiB peak={peak:.0f} MiB"
        )
    finally:
        await engine.dispose()
        if broker is not None:
            await broker.stop()
        if kafka is not None:
            kafka.stop()
        if pg is not None:
            pg.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=3000, help="timers that come due during the window")
    parser.add_argument("--window", type=float, default=30.0, help="seconds over which they come due")
    parser.add_argument("--lead-in", type=float, default=5.0, help="seconds between setup and the first deadline")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL via pgserver instead of SQLite")
    parser.add_argument("--no-kafka", action="store_true", help="publish to memory instead of the embedded broker")
    args = parser.parse_args()
    if args.due > args.timers:
        parser.error("--due must not exceed --timers")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
