"""Ops console at size: 100,000 open leads and 1,000,000 SLA events, then page/API response times.

    .venv/bin/python services/ops/bench/bench_ops.py [--open 100000] [--sla-events 1000000] [--requests 30]

Fills a fresh SQLite file (or ``--database-url``) in bulk — rows as the consumers write them, the
pre-aggregated counters computed with the same domain functions — then times every page and JSON API
in-process (ASGI, no network) with a logged-in session, and finally applies live batches through the
real consumer path to show the write rate at that size. Prints p50/p99 per endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from leadflow_ops import testing as F
from leadflow_ops.adapters import tables as t
from leadflow_ops.app import create_app
from leadflow_ops.domain.stats import bin_index, bucket_start, pack_hist
from leadflow_ops.settings import OpsSettings
from leadflow_platform.clock import FakeClock
from sqlalchemy import func, insert, select

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
TEAMS = ["Inbound DACH", "Inbound Nordics", "Key Accounts", "Benelux", "France", "UK & Ireland"]
RATINGS = ["Hot", "Warm", "Cold"]
SOURCES = ["web_form", "callback_request", "webinar", "list_upload", "ad_platform", "partner"]
POLICIES = ["hot-15m", "warm-2h", "cold-1d", "callback-window"]


def reps() -> list[tuple[str, str, str]]:
    return [(f"005REP{ti:02d}{ri:04d}", team, f"Rep {ti}-{ri}") for ti, team in enumerate(TEAMS) for ri in range(10)]


async def fill(engine: Any, open_leads: int, sla_target: int, rng: random.Random) -> dict[str, int]:
    people = reps()
    queues = [(f"00GQUEUE{ti:08d}", team, f"{team} queue") for ti, team in enumerate(TEAMS)]
    leads: list[dict[str, Any]] = []
    sla: list[dict[str, Any]] = []
    breaches: list[dict[str, Any]] = []
    team_c: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    owner_c: dict[str, list[Any]] = {}
    bins: dict[tuple[Any, ...], dict[int, int]] = defaultdict(dict)
    outs: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    arrivals: dict[datetime, int] = defaultdict(int)
    assigned: dict[tuple[Any, ...], int] = defaultdict(int)

    def ev(
        lead: str, kind: str, at: datetime, due: datetime, owner: str, team: str, policy: str, step: int = 0
    ) -> None:
        sla.append(
            {
                "event_id": str(uuid.uuid4()),
                "lead_id": lead,
                "kind": kind,
                "clock": "first_touch",
                "policy": policy,
                "occurred_at": at,
                "due_at": due,
                "owner_id": owner,
                "team": team,
                "escalation_step": step,
                "escalation_action": "notify_team_leader" if step else None,
                "met_how": "task:Call" if kind == "met" else None,
            }
        )

    i = -1
    while (i := i + 1) < open_leads or len(sla) < sla_target:  # open leads first, then history up to the target
        is_open = i < open_leads
        lead_id = f"lead-{i:07d}"
        queued = is_open and rng.random() < 0.05
        owner, team, name = rng.choice(queues) if queued else rng.choice(people)
        rating, source, policy = rng.choice(RATINGS), rng.choice(SOURCES), rng.choice(POLICIES)
        if is_open:
            routed = NOW - timedelta(seconds=rng.uniform(60, 6 * 3600))
            due = NOW + timedelta(seconds=rng.uniform(-2 * 3600, 4 * 3600))
        else:
            routed = NOW - timedelta(seconds=rng.uniform(3600, 30 * 86400))
            due = routed + timedelta(minutes=rng.choice((15, 120, 1440)))
        submitted = routed - timedelta(seconds=rng.uniform(5, 120))
        owner_at = routed + timedelta(seconds=rng.uniform(1, 30))
        breached = due < NOW and rng.random() < (0.08 if is_open else 0.2)
        touched = None if is_open else owner_at + timedelta(seconds=rng.expovariate(1 / 900))
        if touched is not None and breached:
            touched = max(touched, due + timedelta(seconds=rng.uniform(1, 3600)))
        outcome = None
        if touched is not None or breached:
            outcome = "missed" if breached or (touched and touched > due) else "on_time"
        leads.append(
            {
                "lead_id": lead_id,
                "team": team,
                "rating": rating,
                "source": source,
                "owner_id": owner,
                "owner_type": "queue" if queued else "user",
                "owner_name": name,
                "policy": policy,
                "submitted_at": submitted,
                "routed_at": routed,
                "owner_at": owner_at,
                "salesforce_id": f"00Q{i:015d}",
                "due_at": due,
                "touched_at": touched,
                "closed": not is_open,
                "breached_at": due + timedelta(seconds=1) if breached else None,
                "escalation_step": 1 if breached else 0,
                "outcome": outcome,
                "reassignments": 0,
            }
        )
        arrivals[bucket_start(routed, "h")] += 1
        assigned[(bucket_start(routed, "d"), team, owner)] += 1
        ev(lead_id, "started", owner_at, due, owner, team, policy)
        if rng.random() < 0.3:
            ev(lead_id, "warning", due - timedelta(minutes=5), due, owner, team, policy)
        if breached:
            ev(lead_id, "breached", due + timedelta(seconds=1), due, owner, team, policy)
            ev(lead_id, "escalated", due + timedelta(seconds=2), due, owner, team, policy, step=1)
            breaches.append(
                {
                    "event_id": sla[-2]["event_id"],
                    "lead_id": lead_id,
                    "clock": "first_touch",
                    "policy": policy,
                    "team": team,
                    "owner_id": owner,
                    "rating": rating,
                    "due_at": due,
                    "breached_at": due + timedelta(seconds=1),
                    "escalation_step": 1,
                    "escalation_action": "notify_team_leader",
                    "met_at": touched,
                }
            )
        if is_open:
            c = team_c[(team, rating)]
            c[0] += 1
            c[1] += int(breached)
            c[2] += int(queued)
            oc = owner_c.setdefault(owner, ["queue" if queued else "user", team, name, 0, 0])
            oc[3] += 1
            oc[4] += int(breached)
        else:
            ev(lead_id, "met", touched, due, owner, team, policy)
            keys = {"all": "all", "team": team, "rep": owner, "source": source, "rating": rating}
            sample = {
                "total": (touched - submitted).total_seconds(),
                "system": (owner_at - submitted).total_seconds(),
                "human": (touched - owner_at).total_seconds(),
            }
            for grain in (
                ("h", "d", "w") if touched > NOW - timedelta(hours=48) else ("d", "w")
            ):  # hourly rows are pruned
                bucket = bucket_start(touched, grain)
                for dim, key in keys.items():
                    outs[(grain, dim, bucket, key)][0 if outcome == "on_time" else 1] += 1
                    for measure, value in sample.items():
                        h = bins[(grain, dim, bucket, key, measure)]
                        b = bin_index(value)
                        h[b] = h.get(b, 0) + 1
    async with engine.begin() as conn:
        for table, rows in ((t.leads, leads), (t.sla_events, sla), (t.breaches, breaches)):
            for start in range(0, len(rows), 20000):
                await conn.execute(insert(table), rows[start : start + 20000])
        await conn.execute(
            insert(t.team_counters),
            [{"team": k[0], "rating": k[1], "open": v[0], "breached": v[1], "queued": v[2]} for k, v in team_c.items()],
        )
        await conn.execute(
            insert(t.owner_counters),
            [
                {"owner_id": k, "owner_type": v[0], "team": v[1], "owner_name": v[2], "open": v[3], "breached": v[4]}
                for k, v in owner_c.items()
            ],
        )
        rows = [
            {"grain": k[0], "dim": k[1], "bucket": k[2], "key": k[3], "measure": k[4], "hist": pack_hist(h)}
            for k, h in bins.items()
        ]
        for start in range(0, len(rows), 20000):
            await conn.execute(insert(t.speed_hist), rows[start : start + 20000])
        await conn.execute(
            insert(t.outcomes),
            [
                {"grain": k[0], "dim": k[1], "bucket": k[2], "key": k[3], "on_time": v[0], "missed": v[1]}
                for k, v in outs.items()
            ],
        )
        await conn.execute(insert(t.arrivals), [{"bucket": k, "n": n} for k, n in arrivals.items()])
        await conn.execute(
            insert(t.assignments),
            [{"bucket": k[0], "team": k[1], "owner_id": k[2], "n": n} for k, n in assigned.items()],
        )
        await conn.execute(
            insert(t.reps),
            [
                {
                    "user_id": uid,
                    "name": name,
                    "team": team,
                    "role": "Seller",
                    "weight": 1.0,
                    "active": True,
                    "absent": rng.random() < 0.1,
                    "updated_at": NOW,
                }
                for uid, team, name in people
            ],
        )
        counts = {}
        for name, table in (
            ("leads", t.leads),
            ("open leads", t.leads),
            ("sla_events", t.sla_events),
            ("breaches", t.breaches),
            ("speed_hist rows", t.speed_hist),
        ):
            stmt = select(func.count()).select_from(table)
            if name == "open leads":
                stmt = stmt.where(t.leads.c.closed.is_(False))
            counts[name] = int((await conn.execute(stmt)).scalar_one())
    return counts


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--sla-events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--no-fill", action="store_true", help="reuse the data already in --database-url")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ops-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'ops.db'}"
    settings = OpsSettings(
        database_url=url, users_file=F.write_users(tmp / "users.yaml"), kafka_bootstrap="127.0.0.1:1"
    )
    clock = FakeClock(NOW)
    app = create_app(settings, clock=clock, lag_monitor=False, create_topics=False)
    repo = app.state.repo
    await repo.create_schema()
    if not args.no_fill:
        started = time.perf_counter()
        counts = await fill(repo.engine, args.open, args.sla_events, random.Random(42))
        print(f"filled in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        print(f"database: {url}")

    lead = "lead-0000042"
    breach_team = TEAMS[1]
    endpoints: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/now", None),
        ("GET", "/api/now", None),
        ("GET", "/speed?window=24h&by=team", None),
        ("GET", "/speed?window=30d&by=rep", None),
        ("GET", "/api/speed?window=7d&by=source", None),
        ("GET", "/breaches", None),
        ("GET", f"/breaches?team={breach_team}&open=true", None),
        ("POST", "/breaches/search", {"q": "Rep 3-7"}),
        ("POST", "/breaches/search", {"q": "no-such-thing"}),
        ("GET", f"/leads/{lead}", None),
        ("GET", "/team", None),
        ("GET", "/api/team", None),
        ("GET", "/pipeline", None),
        ("GET", "/staffing", None),
    ]
    print(f"\n{'endpoint':<44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    if True:  # no lifespan: the bench needs no broker, only the database and the web app
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops.bench") as c:
            page = await c.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]
            await c.post(
                "/login", data={"username": "olivia", "password": F.TEST_PASSWORDS["olivia"], "csrf_token": token}
            )
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', (await c.get("/now")).text)[1]  # type: ignore[index]
            for method, path, form in endpoints:
                times = []
                for _ in range(args.requests):
                    repo.version += 1  # defeat the live-board cache: every request recomputes
                    t0 = time.perf_counter()
                    if method == "GET":
                        r = await c.get(path)
                    else:
                        r = await c.post(path, data={**(form or {}), "csrf_token": csrf})
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        print(f"{path}: HTTP {r.status_code} {r.text[:200]}", file=sys.stderr)
                        return 1
                label = f"{method} {path}" + (f" q={form['q']!r}" if form else "")
                print(f"{label:<44} {statistics.median(times):8.1f} {pct(times, 99):8.1f} {max(times):8.1f}")

        # live writes at this size, through the consumer path (claim event ids, load states, counters)
        batch = []
        for i in range(5000):
            lid = f"live-{i:05d}"
            batch.append(F.routed(lid, NOW, team=TEAMS[i % 6], owner_id=reps()[i % 60][0], due_in=900))
        for i in range(0, 5000, 2):
            batch.append(
                F.sla(
                    f"live-{i:05d}",
                    "met",
                    NOW + timedelta(minutes=3),
                    due_at=NOW + timedelta(minutes=15),
                    owner_id=reps()[i % 60][0],
                    team=TEAMS[i % 6],
                )
            )
        t0 = time.perf_counter()
        for start in range(0, len(batch), 500):
            await repo.apply(batch[start : start + 500], NOW)
        elapsed = time.perf_counter() - t0
        rate = len(batch) / elapsed
        print(
            f"\nconsumer path at this size: {len(batch):,} events in {elapsed:.1f} s = {rate:,.0f} events/s"
            " (batches of 500)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
