"""Seen-event state lives in the database: a restarted intake (new engine, new service) still
recognises replays. Runs on SQLite and PostgreSQL."""

import pytest
from leadflow_intake.adapters.repository import SeenEventsRepository
from leadflow_intake.service import IntakePolicy, IntakeService, Submission
from leadflow_intake.testing import lead_bytes
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine

pytestmark = pytest.mark.integration


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent = []

    async def publish_all(self, messages):
        self.sent.extend(messages)


async def start(url: str) -> tuple[IntakeService, RecordingPublisher]:
    repository = SeenEventsRepository(create_engine(url))
    await repository.create_tables()
    publisher = RecordingPublisher()
    service = IntakeService(policy=IntakePolicy(), repository=repository, publisher=publisher, clock=FakeClock())
    return service, publisher


async def test_dedupe_survives_a_restart(database_url):
    first, first_out = await start(database_url)
    batch = [Submission(lead_bytes(1)), Submission(lead_bytes(2)), Submission(b"garbage")]
    assert [o.status for o in await first.process(batch)] == ["accepted", "accepted", "rejected"]
    await first.repository.engine.dispose()

    second, second_out = await start(database_url)
    replay = [Submission(lead_bytes(2)), Submission(b"garbage"), Submission(lead_bytes(1)), Submission(lead_bytes(3))]
    outcomes = await second.process(replay)
    assert [o.status for o in outcomes] == ["duplicate", "duplicate", "duplicate", "accepted"]
    assert len(first_out.sent) == 3 and len(second_out.sent) == 1
    assert outcomes[2].lead_id == (await first.process([Submission(lead_bytes(1))]))[0].lead_id
    await second.repository.engine.dispose()
    await first.repository.engine.dispose()


async def test_concurrent_claims_of_one_event_have_exactly_one_winner(database_url):
    """Two replicas may hold the same event during a rebalance: the database decides, once."""
    import asyncio
    from datetime import UTC, datetime

    repositories = [SeenEventsRepository(create_engine(database_url)) for _ in range(2)]
    await repositories[0].create_tables()
    now = datetime(2026, 11, 26, tzinfo=UTC)
    first_inside, release = asyncio.Event(), asyncio.Event()

    async def first():
        async with repositories[0].claim(["evt-x", "evt-y"], [], now) as (fresh, _):
            first_inside.set()
            await release.wait()  # still publishing: the claim is not committed yet
            return fresh

    async def second():
        await first_inside.wait()
        async with repositories[1].claim(["evt-x", "evt-z"], [], now) as (fresh, _):
            return fresh

    first_task = asyncio.create_task(first())
    second_task = asyncio.create_task(second())
    await first_inside.wait()
    await asyncio.sleep(0.3)
    assert not second_task.done()  # it waits for the first transaction instead of guessing
    release.set()
    assert await first_task == {"evt-x", "evt-y"}
    assert await second_task == {"evt-z"}
    for repository in repositories:
        await repository.engine.dispose()
