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
    replay = [Submission(lead_bytes(2)), Submission(b"garbage"), Submission(lead_bytes(1)),
              Submission(lead_bytes(3))]
    outcomes = await second.process(replay)
    assert [o.status for o in outcomes] == ["duplicate", "duplicate", "duplicate", "accepted"]
    assert len(first_out.sent) == 3 and len(second_out.sent) == 1
    assert outcomes[2].lead_id == (await first.process([Submission(lead_bytes(1))]))[0].lead_id
    await second.repository.engine.dispose()
    await first.repository.engine.dispose()
