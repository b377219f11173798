"""route publishes its roster (RosterPublished on crm.roster) when it starts and after every User change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from leadflow_route.testing import sample_config, sample_queues, sample_reps

pytestmark = pytest.mark.component
AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


async def test_route_publishes_its_roster_on_start_and_after_a_user_change(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from faststream.kafka import TestKafkaBroker
    from leadflow_contracts import ChangeType, CrmChange, RosterPublished
    from leadflow_platform.broker import make_broker
    from leadflow_platform.clock import FakeClock
    from leadflow_route.adapters.roster_source import StaticRosterSource
    from leadflow_route.app import create_app
    from leadflow_route.settings import RouteSettings

    settings = RouteSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'route.db'}", kafka_bootstrap="127.0.0.1:1")
    broker = make_broker(settings)
    got: list[RosterPublished] = []

    @broker.subscriber("crm.roster")
    async def sink(body: dict) -> None:  # type: ignore[type-arg]
        got.append(RosterPublished.model_validate(body))

    app = create_app(
        settings,
        clock=FakeClock(AT),
        broker=broker,
        routing_config=sample_config(),
        roster_source=StaticRosterSource(sample_reps(), sample_queues()),
        create_topics=False,
        refresh_roster=False,
    )
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        change = CrmChange(
            event_id="c-1",
            lead_id="N2",
            occurred_at=AT,
            object="User",
            record_id="N2",
            change_type=ChangeType.UPDATED,
            changed_at=AT,
            system_modstamp=AT,
            record={"Is_Absent__c": True},
        )
        await br.publish(change.to_json_bytes(), "crm.changes", key=b"N2")
        for _ in range(100):
            if len(got) >= 2:
                break
            await asyncio.sleep(0.02)
    assert len(got) == 2 and len(got[0].reps) == len(sample_reps())
    assert {r.user_id: r.absent for r in got[1].reps}["N2"] is True
    assert got[0].event_id != got[1].event_id
