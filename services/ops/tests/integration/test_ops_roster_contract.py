"""Route's roster (RosterPublished on crm.roster) lands in ops' rep rows: route's weights and caps, not a second
config (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from leadflow_contracts import RepCapacity, RosterPublished, derive_event_id
from leadflow_ops.adapters.repository import OpsRepository
from leadflow_ops.service import OpsConsumer
from leadflow_platform.db import create_engine

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
async def repo(database_url: str) -> AsyncIterator[OpsRepository]:
    engine = create_engine(database_url)
    r = OpsRepository(engine)
    await r.create_schema()
    yield r
    await engine.dispose()


def roster(at: datetime, *reps: RepCapacity) -> RosterPublished:
    return RosterPublished(
        event_id=derive_event_id(f"roster:{at.isoformat()}", "route.roster"),
        lead_id="roster",
        occurred_at=at,
        reps=reps,
    )


def batch(*events: RosterPublished) -> SimpleNamespace:
    return SimpleNamespace(items=[SimpleNamespace(event=e) for e in events], poison=[], now=T0)


async def test_routes_roster_sets_weights_caps_and_availability(repo: OpsRepository) -> None:
    consumer = OpsConsumer(repo)
    older = roster(T0, RepCapacity(user_id="005A", name="Ann", team="Nordics", role="Seller", weight=1.0, max_open=9))
    newer = roster(
        T0 + timedelta(minutes=1),
        RepCapacity(user_id="005A", name="Ann", team="Nordics", role="Seller", weight=3.5, max_open=25),
        RepCapacity(user_id="005B", name="Bo", team="DACH", role="Seller", weight=0.5, max_open=40, absent=True),
    )
    await consumer(batch(newer, older))  # out of order in one batch: the newest roster counts
    _, reps, _ = await repo.team_load_inputs(T0, 1)
    by_id = {r.user_id: r for r in reps}
    assert (by_id["005A"].weight, by_id["005A"].cap, by_id["005A"].team) == (3.5, 25, "Nordics")
    assert (by_id["005B"].weight, by_id["005B"].cap, by_id["005B"].absent) == (0.5, 40, True)
    assert await repo.available_reps() == 1  # Bo is absent


async def test_in_rotation_from_routes_roster_survives_user_changes_and_an_older_route(repo: OpsRepository) -> None:
    from leadflow_ops import testing as F

    consumer = OpsConsumer(repo)
    lead = RepCapacity(user_id="005L", name="Lea", team="Nordics", role="Team Leader", in_rotation=False)
    seller = RepCapacity(user_id="005S", name="Sam", team="Nordics", role="Seller", in_rotation=True)
    await consumer(batch(roster(T0, lead, seller)))
    # a Salesforce User change (no word on the rotation) and a roster from a route that does not say it
    await repo.apply([F.user_change("005L", T0, name="Lea", team="Nordics", role="Team Leader")], T0)
    unsaid = RepCapacity(user_id="005L", name="Lea", team="Nordics", role="Team Leader")
    await consumer(batch(roster(T0 + timedelta(minutes=1), unsaid)))
    _, reps, _ = await repo.team_load_inputs(T0, 1)
    by_id = {r.user_id: r for r in reps}
    assert (by_id["005L"].in_rotation, by_id["005S"].in_rotation) == (False, True)
