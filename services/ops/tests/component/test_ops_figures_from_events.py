"""The figures of Speed to lead, Team load, Staffing and Pipeline health, as the console's JSON APIs give
them, equal the same figures computed here directly from the raw events sent (TestKafkaBroker, real
SQLite read models). The Now board's tiles are checked the same way in
``tests/integration/test_ops_tiles_from_events.py`` and in the browser."""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import RepCapacity, RosterPublished, derive_event_id
from leadflow_contracts import topics as T
from leadflow_ops import testing as F
from leadflow_ops.app import create_app
from leadflow_ops.settings import OpsSettings
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import FakeClock

pytestmark = pytest.mark.component

TEAMS = {"Inbound DACH": ["005A01", "005A02", "005A03"], "Nordics": ["005N01", "005N02"]}
WEIGHTS = {"005A01": 1.0, "005A02": 2.0, "005A03": 1.0, "005N01": 0.5, "005N02": 1.5}
LEADER = "005A0L"
"""Inbound DACH's team leader: a rep by role, out of route's round-robin rotation (its roster says so), holding
escalations and repeats of the people it owns."""


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Any, Any, FakeClock]]:
    settings = OpsSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}",
        users_file=F.write_users(tmp_path / "users.yaml"),
        topic_prefix="f.",
        kafka_bootstrap="127.0.0.1:1",
        crm_sync_metrics_url=None,
        reconcile_result_file=None,
    )
    clock = FakeClock()
    broker = make_broker(settings)
    app = create_app(settings, clock=clock, broker=broker, lag_monitor=False, create_topics=False)
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):

        async def send(topic: str, event: Any) -> None:
            await br.publish(event.to_json_bytes(), settings.topic(topic), key=event.kafka_key())

        yield app, send, clock


async def _client(app: Any) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops.test")
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    await client.post(
        "/login", data={"username": "victor", "password": F.TEST_PASSWORDS["victor"], "csrf_token": token[1]}
    )
    return client


def exact_median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = (len(ordered) - 1) / 2
    return (ordered[math.floor(mid)] + ordered[math.ceil(mid)]) / 2


async def test_speed_team_staffing_and_pipeline_figures_equal_the_raw_events(
    console: tuple[Any, Any, FakeClock],
) -> None:
    app, send, clock = console
    now = clock.now()
    rng = random.Random(1515)
    sent: dict[str, list[Any]] = defaultdict(list)

    async def emit(topic: str, event: Any) -> None:
        sent[topic].append(event)
        await send(topic, event)

    for user, weight in WEIGHTS.items():
        team = next(t for t, users in TEAMS.items() if user in users)
        await emit(
            T.CRM_CHANGES, F.user_change(user, now - timedelta(hours=5), name=f"Rep {user}", team=team, weight=weight)
        )
    leader = F.user_change(LEADER, now - timedelta(hours=5), name="Lea Leader", team="Inbound DACH", role="Team Leader")
    await emit(T.CRM_CHANGES, leader)
    # route's roster: who is in its round-robin rotation (the leader does not sell)
    in_rotation = {**dict.fromkeys(WEIGHTS, True), LEADER: False}
    await emit(
        T.CRM_ROSTER,
        RosterPublished(
            event_id=derive_event_id("roster:figures", "route.roster"),
            lead_id="roster",
            occurred_at=now - timedelta(hours=5),
            reps=tuple(
                RepCapacity(
                    user_id=u,
                    name=f"Rep {u}",
                    team="Inbound DACH" if u == LEADER else next(t for t, us in TEAMS.items() if u in us),
                    role="Team Leader" if u == LEADER else "Seller",
                    weight=WEIGHTS.get(u, 1.0),
                    in_rotation=inside,
                )
                for u, inside in in_rotation.items()
            ),
        ),
    )
    for i in range(160):
        team = rng.choice(list(TEAMS))
        # most leads are round-robin deals; the rest (a person's repeat to its owner, a key account, an
        # escalation) go to a rep, or the leader, without the round-robin
        round_robin = rng.random() < 0.6
        members = TEAMS[team] + ([LEADER] if team == "Inbound DACH" and not round_robin else [])
        owner = rng.choice(members)
        pool: list[tuple[str, float]] = []
        if round_robin and rng.random() < 0.8:  # the rest come from an older route: no pool
            # who could win this lead (on shift, under the caps, speaking its language): route's pool, by weight
            pool = [(u, WEIGHTS[u]) for u in TEAMS[team] if rng.random() < 0.7] or [(TEAMS[team][0], 1.0)]
            owner = rng.choices([u for u, _ in pool], [w for _, w in pool])[0]
        routed_at = now - timedelta(minutes=rng.randrange(5, 300))
        submitted_delay = rng.uniform(5, 120)
        due_in = rng.choice([300, 900, 3600])
        ev = F.routed(
            f"S{i:03d}",
            routed_at,
            team=team,
            owner_id=owner,
            due_in=due_in,
            submitted_delay=submitted_delay,
            round_robin=round_robin,
            pool=pool,
        )
        await emit(T.LEADS_ROUTED, ev)
        synced_at = routed_at + timedelta(seconds=rng.uniform(1, 20))
        await emit(T.CRM_SYNCED, F.synced(ev.lead_id, synced_at, owner_id=owner))
        fate = rng.random()
        due = ev.sla.first_touch_due
        if fate < 0.25:
            await emit(T.SLA_EVENTS, F.sla(ev.lead_id, "breached", due, due_at=due, team=team, owner_id=owner))
        if fate < 0.75:
            touch = synced_at + timedelta(seconds=rng.uniform(10, 5000))
            if touch < now:
                await emit(
                    T.SLA_EVENTS,
                    F.sla(ev.lead_id, "met", touch, due_at=due, started_at=synced_at, team=team, owner_id=owner),
                )
    for i in range(17):
        service, reason = rng.choice(
            [("enrich", "schema_violation"), ("route", "invalid_json"), ("crm-sync", "salesforce:STRING_TOO_LONG")]
        )
        await emit(T.LEADS_DEADLETTER, F.dead_letter(f"D{i}", now, b"{}", service=service, reason=reason))
    for i in range(4):
        await emit(T.LEADS_REJECTED, F.rejected(f"R{i}", now))

    client = await _client(app)
    speed = (await client.get("/api/speed", params={"window": "24h", "by": "team"})).json()["rows"]
    team_rows = (await client.get("/api/team")).json()["rows"]
    staffing = (await client.get("/api/staffing")).json()["inputs"]
    pipeline = (await client.get("/api/pipeline")).json()["dead_letters"]
    health = (await client.get("/api/org-health")).json()
    await client.aclose()

    # --- Speed to lead: touches, on time / missed, attainment, medians (±10 % histogram bins) ---
    routed = {e.lead_id: e for e in sent[T.LEADS_ROUTED]}
    synced = {e.lead_id: e for e in sent[T.CRM_SYNCED]}
    touches: dict[str, list[Any]] = defaultdict(list)
    outcome: dict[str, str] = {}
    for e in sent[T.SLA_EVENTS]:
        if e.lead_id in outcome:
            if e.kind.value == "met":
                touches[e.team].append(e)
            continue
        outcome[e.lead_id] = "missed" if e.kind.value == "breached" or e.occurred_at > e.due_at else "on_time"
        if e.kind.value == "met":
            touches[e.team].append(e)
    by_team = {r["key"]: r for r in speed}
    for team in TEAMS:
        met = touches[team]
        row = by_team[team]
        assert row["touches"] == len(met)
        concluded = [lid for lid, o in outcome.items() if routed[lid].assignment.team == team]
        on_time = sum(outcome[lid] == "on_time" for lid in concluded)
        assert (row["on_time"], row["missed"]) == (on_time, len(concluded) - on_time)
        assert row["attainment"] == pytest.approx(100 * on_time / len(concluded))
        totals = [(e.occurred_at - routed[e.lead_id].lead.submitted_at).total_seconds() for e in met]
        human = [(e.occurred_at - synced[e.lead_id].occurred_at).total_seconds() for e in met]
        assert row["total_p50"] == pytest.approx(exact_median(totals), rel=0.1)
        assert row["human_p50"] == pytest.approx(exact_median(human), rel=0.1)

    # --- Team load: open, assigned (all), round-robin deals, share and weight share within the rotation ---
    concluded_first_touch = {e.lead_id for e in sent[T.SLA_EVENTS] if e.kind.value == "met"}
    open_by_owner = Counter(e.assignment.owner_id for e in routed.values() if e.lead_id not in concluded_first_touch)
    assigned = Counter(e.assignment.owner_id for e in routed.values())
    dealt = Counter(e.assignment.owner_id for e in routed.values() if e.assignment.round_robin)
    # expected deals: Σ weight ÷ pool weight over the pools a rep was in; the team's deals without a pool
    # (older events) by weight share; variance Σ p(1 − p) likewise
    expected: dict[str, float] = defaultdict(float)
    variance: dict[str, float] = defaultdict(float)
    pooled: Counter[str] = Counter()
    for e in routed.values():
        if e.assignment.round_robin and e.assignment.pool:
            pooled[e.assignment.team] += 1
            total = sum(m.weight for m in e.assignment.pool)
            for m in e.assignment.pool:
                expected[m.user_id] += m.weight / total
                variance[m.user_id] += m.weight / total * (1 - m.weight / total)
    rows = {r["owner_id"]: r for r in team_rows}
    for team, users in TEAMS.items():
        rotation = [u for u in users if in_rotation[u]]
        team_dealt = sum(dealt[u] for u in rotation)
        team_weight = sum(WEIGHTS[u] for u in rotation)
        unpooled = team_dealt - pooled[team]
        assert 0 < unpooled < team_dealt  # both kinds were dealt
        for u in users:
            ws = WEIGHTS[u] / team_weight
            exp = expected[u] + unpooled * ws
            var = variance[u] + unpooled * ws * (1 - ws)
            assert rows[u]["expected"] == pytest.approx(exp)
            assert rows[u]["deviation"] == pytest.approx(dealt[u] - exp)
            assert rows[u]["deviation_z"] == pytest.approx((dealt[u] - exp) / math.sqrt(var))
            assert ("unfair_share" in rows[u]["attention"]) == (abs(dealt[u] - exp) / math.sqrt(var) > 3)
            assert rows[u]["team"] == team and rows[u]["in_rotation"]
            assert rows[u]["open_leads"] == open_by_owner[u]
            assert rows[u]["assigned"] == assigned[u] and rows[u]["round_robin"] == dealt[u]
            assert rows[u]["share"] == pytest.approx(dealt[u] / team_dealt)
            assert rows[u]["weight_share"] == pytest.approx(WEIGHTS[u] / team_weight)
    assert sum(assigned.values()) > sum(dealt.values())  # repeats and escalations were routed, not counted
    lead = rows[LEADER]
    assert lead["team"] == "Inbound DACH" and not lead["in_rotation"] and lead["assigned"] == assigned[LEADER] > 0
    assert (lead["share"], lead["weight_share"], lead["expected"], lead["deviation"]) == (None, None, None, None)
    assert "unfair_share" not in lead["attention"]

    # --- Staffing: arrivals over the hours the data covers ---
    first = min(e.occurred_at for e in routed.values()).replace(second=0, microsecond=0)
    hours = (now - first).total_seconds() / 3600
    assert staffing["measured_hours"] == pytest.approx(hours)
    assert staffing["measured_arrivals"] == pytest.approx(len(routed) / hours)
    assert staffing["available_reps"] == len(WEIGHTS) + 1  # the leader sells by role (Staffing's rule)

    # --- Pipeline health: dead letters by service and reason, and waiting ---
    expected = Counter((d.service, d.reason) for d in sent[T.LEADS_DEADLETTER])
    expected.update(("intake", r.reason.value) for r in sent[T.LEADS_REJECTED])
    assert {(c["service"], c["reason"]): c["count"] for c in pipeline} == dict(expected)
    assert health["dead_letters_waiting"] == sum(expected.values())
