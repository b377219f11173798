"""Two sla-monitor processes (apps) on one database and the real broker: every timer fires once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from leadflow_contracts import topics
from leadflow_contracts.sla import SlaEvent
from leadflow_platform.clock import FakeClock
from leadflow_platform.testing.fixtures import consume, wait_for
from leadflow_sla_monitor.app import create_app
from leadflow_sla_monitor.settings import SlaSettings
from leadflow_sla_monitor.testing import MONDAY_9, make_routed, test_calendars, test_policies

pytestmark = pytest.mark.integration
LEADS = 200


async def test_two_instances_fire_each_timer_once(
    kafka_bootstrap: str, topic_namespace: Any, database_url: str
) -> None:
    clock = FakeClock(MONDAY_9)

    def app(n: int) -> Any:
        settings = SlaSettings(
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=topic_namespace.prefix,
            database_url=database_url,
            instance_id=f"sla-{n}",
            kafka_client_id=f"sla-two-{n}",
            # What is shared here is the timer table; the inputs are seeded directly. Separate consumer
            # groups spare the embedded broker a two-member rebalance, which can stall for minutes.
            consumer_group=f"leadflow-sla-monitor-two-{n}",
            scheduler_batch_size=20,
            scheduler_poll_seconds=0.02,
        )
        return create_app(
            settings, clock=clock, calendars=test_calendars(), policies=test_policies(), create_topics=False
        )

    one, two = app(1), app(2)
    sla_topic = topic_namespace(topics.SLA_EVENTS)
    async with one.router.lifespan_context(one), two.router.lifespan_context(two):
        # The leads were routed (clocks started) before the deadline passes for all of them at once.
        routed = [make_routed(f"two-{i}", MONDAY_9, policy="default") for i in range(LEADS)]
        await one.state.sla.monitor.handle_routed(routed)
        clock.advance(timedelta(days=1))
        one.state.sla.scheduler.wake()
        two.state.sla.scheduler.wake()

        async def fired() -> int:
            return int(one.state.sla.scheduler.fired + two.state.sla.scheduler.fired)

        await wait_for(lambda: _at_least(fired(), LEADS), timeout=60)
        by_instance = (one.state.sla.scheduler.fired, two.state.sla.scheduler.fired)

    records = await consume(kafka_bootstrap, sla_topic, 10 * LEADS, timeout=5)
    events = [SlaEvent.model_validate_json(r.value) for r in records]
    breached = Counter(e.lead_id for e in events if e.kind.value == "breached")
    assert len(breached) == LEADS and set(breached.values()) == {1}
    assert len({e.event_id for e in events}) == len(events)
    assert sum(by_instance) == LEADS and min(by_instance) > 0, by_instance


async def _at_least(value: Any, n: int) -> bool:
    return (await value) >= n
