"""The read-model repository on SQLite and PostgreSQL: one code path, same answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from leadflow_ops import testing as F
from leadflow_ops.adapters.repository import OpsRepository
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def repo(database_url: str) -> AsyncIterator[OpsRepository]:
    engine = create_engine(database_url)
    r = OpsRepository(engine)
    await r.create_schema()
    yield r
    await engine.dispose()


async def test_batch_apply_and_queries(repo: OpsRepository) -> None:
    t0 = FakeClock().now()
    events = [
        F.routed("L1", t0, due_in=300, owner_name="Greta Lind"),
        F.routed("L2", t0, team="Nordics", rating="Cold", owner_id="R9", due_in=1800),
        F.routed("L3", t0, owner_id="QUEUE1", owner_type="queue", owner_name="DACH queue"),
        F.synced("L1", t0 + timedelta(seconds=5), sf_id="00Q000000000009AAA"),
        F.sla(
            "L1", "breached", t0 + timedelta(seconds=301), due_at=t0 + timedelta(seconds=300), step=1, action="notify"
        ),
        F.sla(
            "L2", "met", t0 + timedelta(seconds=100), due_at=t0 + timedelta(seconds=1800), owner_id="R9", team="Nordics"
        ),
        F.user_change("R9", t0, name="Ravi Nine", team="Nordics", weight=1.5),
        F.rejected("L5", t0),
    ]
    result = await repo.apply(events, t0)
    assert result.applied == len(events) and result.duplicates == 0
    again = await repo.apply(events, t0)
    assert again.applied == 0 and again.duplicates == len(events)

    snap = await repo.now_snapshot(t0 + timedelta(seconds=400))
    assert snap["open"] == 2 and snap["breached"] == 1 and snap["unassigned"] == 1
    assert {t["team"] for t in snap["teams"]} == {"Inbound DACH"}

    rows = await repo.breaches(search="GRETA")  # case-insensitive on both databases
    assert [r["lead_id"] for r in rows] == ["L1"]
    assert rows[0]["salesforce_id"] == "00Q000000000009AAA" and rows[0]["escalation_action"] == "notify"
    assert await repo.breaches(search="nobody") == []
    assert [r["lead_id"] for r in await repo.breaches(team="Inbound DACH", open_only=True)] == ["L1"]

    bins, outcomes = await repo.speed("24h", "team", t0 + timedelta(minutes=10))
    assert outcomes == {"Inbound DACH": (0, 1), "Nordics": (1, 0)}
    assert sum(bins[("Nordics", "human")].values()) == 1

    lead = await repo.lead("L1")
    assert lead is not None and [e["kind"] for e in lead["events"]] == ["breached"]
    owners, reps, assigned = await repo.team_load_inputs(t0, 7)
    assert {o.owner_id for o in owners} == {"005REP0000000001", "R9"}
    assert [r.name for r in reps] == ["Ravi Nine"] and assigned[("R9", "Nordics")] == (1, 0, 0.0, 0.0)
    assert await repo.available_reps() == 1
    assert (await repo.dead_letter_counts())[0]["reason"] == "invalid_email"
    assert await repo.arrivals_per_hour(t0 + timedelta(hours=1, minutes=1)) == pytest.approx(3 / 24)


async def test_round_robin_deals_are_counted_apart_from_every_assignment(repo: OpsRepository) -> None:
    """ops_assignments keeps every LeadRouted (n) and, apart, route's round-robin deals; across batches and
    days in the window, summed per (owner, team); a replayed event counts once."""
    t0 = FakeClock().now()
    deals = [F.routed(f"RR{i}", t0 - timedelta(days=i % 2), owner_id="R1", round_robin=True) for i in range(5)]
    repeats = [F.routed(f"RP{i}", t0, owner_id="R1", policy="duplicate") for i in range(3)]
    await repo.apply([*deals[:3], repeats[0]], t0)
    await repo.apply([*deals[3:], *repeats[1:], deals[0]], t0)
    _, _, assigned = await repo.team_load_inputs(t0, 7)
    assert assigned[("R1", "Inbound DACH")][:2] == (8, 5)
    assert assigned[("R1", "Inbound DACH")].round_robin == 5


async def test_expected_deals_and_variance_are_summed_over_each_pool_member(repo: OpsRepository) -> None:
    """Every member of a round-robin deal's pool gets p = weight ÷ pool weight in expected and p(1 − p) in
    variance, winner or not, per (day, team, owner); summed over the window; a replayed event counts once;
    a deal that is not round-robin adds nothing."""
    t0 = FakeClock().now()
    three = [("R1", 2.0), ("R2", 1.0), ("R3", 1.0)]
    deals = [
        F.routed("P1", t0, owner_id="R1", round_robin=True, pool=three),
        F.routed("P2", t0 - timedelta(days=1), owner_id="R2", round_robin=True, pool=three),
        F.routed("P3", t0, owner_id="R3", round_robin=True, pool=[("R3", 1.0)]),  # the only one who could
        F.routed("P4", t0, owner_id="R2", policy="duplicate", pool=three),  # not round-robin: ignored
    ]
    await repo.apply(deals[:2], t0)
    await repo.apply([*deals[2:], deals[0]], t0)
    _, _, assigned = await repo.team_load_inputs(t0, 7)
    r1, r2, r3 = (assigned[(u, "Inbound DACH")] for u in ("R1", "R2", "R3"))
    assert (r1.total, r1.round_robin) == (1, 1) and r1.expected == pytest.approx(1.0)
    assert r1.variance == pytest.approx(2 * 0.5 * 0.5)
    assert (r2.total, r2.round_robin) == (2, 1) and r2.expected == pytest.approx(0.5)
    assert r2.variance == pytest.approx(2 * 0.25 * 0.75)
    assert (r3.total, r3.round_robin) == (1, 1) and r3.expected == pytest.approx(1.5)
    assert r3.variance == pytest.approx(2 * 0.25 * 0.75)


async def test_counters_survive_many_small_batches(repo: OpsRepository) -> None:
    t0 = FakeClock().now()
    for i in range(40):
        await repo.apply([F.routed(f"M{i}", t0, rating=("Hot", "Warm")[i % 2])], t0)
    for i in range(0, 40, 4):
        await repo.apply([F.sla(f"M{i}", "met", t0 + timedelta(minutes=1), due_at=t0 + timedelta(minutes=15))], t0)
    snap = await repo.now_snapshot(t0)
    assert snap["open"] == 30
    assert snap["teams"][0]["by_rating"] == {"Hot": 10, "Warm": 20}


async def test_prune_drops_old_hourly_rows_and_keeps_days(repo: OpsRepository) -> None:
    t0 = FakeClock().now()
    await repo.apply([F.routed("P1", t0 - timedelta(days=5))], t0)
    await repo.apply([F.sla("P1", "met", t0 - timedelta(days=5) + timedelta(minutes=2), due_at=t0)], t0)
    before = await repo.speed("7d", "all", t0)
    assert await repo.prune(t0) > 0
    assert await repo.speed("7d", "all", t0) == before  # daily rows untouched
    assert await repo.speed("24h", "all", t0) == ({}, {})
