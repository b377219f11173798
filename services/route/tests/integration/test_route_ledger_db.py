"""The ledger on a real database (SQLite and PostgreSQL): durable, idempotent, correct under concurrency."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from leadflow_businesstime import load_calendar_file, load_sla_policies
from leadflow_contracts import LeadRouted
from leadflow_platform.clock import FakeClock
from leadflow_route.adapters.roster_source import StaticRosterSource
from leadflow_route.adapters.store import RouteStore, make_engine
from leadflow_route.domain.routing import Router
from leadflow_route.domain.sla import SlaPlanner
from leadflow_route.service import RosterManager, RouteService
from leadflow_route.testing import MONDAY_10_UTC, repo_root, sample_config, sample_queues, sample_reps, scored_event

pytestmark = pytest.mark.integration

POLICIES = repo_root() / "deploy" / "policies"
PLANNER = SlaPlanner(load_sla_policies(POLICIES / "sla-policies.yaml"), load_calendar_file(POLICIES / "calendars.yaml"))


def config():  # type: ignore[no-untyped-def]
    return sample_config(
        teams={
            "Nordics": {"countries": ["NO"], "queue": "Queue_Nordics", "leader": "NLEAD"},
            "DACH": {"countries": ["DE"], "queue": "Queue_DACH", "caps": {"per_hour": 5, "per_day": 50}},
        }
    )


class Instance:
    def __init__(self, url: str, source: StaticRosterSource | None = None) -> None:
        self.engine = make_engine(url)
        self.store = RouteStore(self.engine)
        self.clock = FakeClock(MONDAY_10_UTC)
        self.source = source or StaticRosterSource(sample_reps(), sample_queues())
        self.roster = RosterManager(self.store, self.source, self.clock)
        self.service = RouteService(self.store, Router(config()), PLANNER, self.roster, self.clock)

    async def start(self) -> Instance:
        await self.store.create_schema(config().teams)
        await self.roster.start()
        return self


@pytest.fixture
async def instances(database_url: str) -> AsyncIterator[list[Instance]]:
    made: list[Instance] = []

    async def make(source: StaticRosterSource | None = None) -> Instance:
        inst = await Instance(database_url, source).start()
        made.append(inst)
        return inst

    yield make  # type: ignore[misc]
    for inst in made:
        await inst.engine.dispose()


def owners(published: list[tuple[str, bytes]]) -> list[str]:
    return [LeadRouted.model_validate_json(p).assignment.owner_id for _, p in published]


async def test_ledger_survives_a_restart_and_replays_do_not_advance_it(instances) -> None:  # type: ignore[no-untyped-def]
    first = await instances()
    batch1 = [scored_event(f"a{i}", country="NO", language=None) for i in range(30)]
    out1 = await first.service.route(batch1)
    assert Counter(owners(out1.published)) == {"N1": 5, "N2": 10, "N3": 15}

    restarted = await instances()
    replay = await restarted.service.route(batch1)
    assert replay.published == out1.published and replay.replays == 30 and replay.routed == []
    batch2 = [scored_event(f"b{i}", country="NO", language=None) for i in range(30)]
    out2 = await restarted.service.route(batch2)
    assert Counter(owners(out2.published)) == {"N1": 5, "N2": 10, "N3": 15}
    ledger = await restarted.store.ledger_snapshot()
    assert [ledger.get(r).assigned_total for r in ("N1", "N2", "N3")] == [10, 20, 30]
    assert [ledger.get(r).open_leads for r in ("N1", "N2", "N3")] == [10, 20, 30]


async def test_two_instances_routing_concurrently_keep_weights_and_caps(instances) -> None:  # type: ignore[no-untyped-def]
    a, b = await instances(), await instances()
    batches = [
        [scored_event(f"{k}-{i}", country="NO" if i % 2 else "DE", language=None) for i in range(12)] for k in range(20)
    ]
    results = await asyncio.gather(*((a if k % 2 else b).service.route(batch) for k, batch in enumerate(batches)))
    got = Counter(o for r in results for o in owners(r.published))
    # 120 Nordics leads over weights 1:2:3; 120 DACH leads, but each DACH rep takes at most 5 an hour
    assert (got["N1"], got["N2"], got["N3"]) == (20, 40, 60)
    assert (got["D1"], got["D2"], got["Q_DACH"]) == (5, 5, 110)
    ledger = await a.store.ledger_snapshot()
    assert max(ledger.get(r).hour_count for r in ("D1", "D2")) == 5
    assert sum(load.assigned_total for load in ledger.loads.values()) == 130


async def test_roster_is_cached_so_a_restart_works_without_salesforce(instances) -> None:  # type: ignore[no-untyped-def]
    online = await instances()
    assert online.roster.loaded_from == "source" and len(online.roster.current.reps) == len(sample_reps())
    offline = await instances(StaticRosterSource(fail=True))
    assert offline.roster.loaded_from == "cache" and offline.roster.last_error is not None
    assert offline.roster.current.rep("N3").weight == 3.0
    out = await offline.service.route([scored_event("c1", country="NO")])
    assert owners(out.published)[0] in {"N1", "N2", "N3"}


async def test_reassignment_history_is_kept_per_lead(instances) -> None:  # type: ignore[no-untyped-def]
    from leadflow_route.testing import reassign_event

    inst = await instances()
    out = await inst.service.route([scored_event("r1", country="NO")])
    routed = out.routed[0]
    again = await inst.service.route([reassign_event(routed)])
    history = await inst.store.owner_history("r1")
    assert [h.owner_id for h in history] == [routed.assignment.owner_id, again.routed[0].assignment.owner_id]
    assert [h.open for h in history] == [False, True]


async def test_a_unit_of_work_waits_for_the_other_instances_lock(instances) -> None:  # type: ignore[no-untyped-def]
    a, b = await instances(), await instances()
    order: list[str] = []
    a_holds = asyncio.Event()

    async def first() -> None:
        async with a.store.unit_of_work():
            order.append("a-in")
            a_holds.set()
            await asyncio.sleep(0.5)
            order.append("a-out")

    async def second() -> None:
        await a_holds.wait()
        async with b.store.unit_of_work():
            order.append("b-in")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=30)
    assert order == ["a-in", "a-out", "b-in"]


async def test_old_decisions_are_pruned_and_the_owner_history_kept(instances) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    inst = await instances()
    old = scored_event("p1", country="NO")
    await inst.service.route([old])
    inst.clock.advance(timedelta(days=9))
    new = scored_event("p2", country="NO")
    await inst.service.route([new])
    removed = await inst.store.prune_decisions(inst.clock.now() - timedelta(days=8))
    assert removed == 1
    async with inst.store.unit_of_work() as uow:
        stored = await uow.stored_decisions([old.event_id, new.event_id])
    assert set(stored) == {new.event_id}
    assert [h.owner_id for h in await inst.store.owner_history("p1")]  # the no-ping-pong memory stays
