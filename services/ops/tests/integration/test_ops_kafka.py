"""The ops service over the real embedded broker: consumers, consumer lag, dead-letter replay."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from leadflow_contracts import LeadSubmitted
from leadflow_contracts import topics as T
from leadflow_ops import testing as F
from leadflow_ops.app import create_app
from leadflow_ops.settings import OpsSettings
from leadflow_ops.views import prepare_replay
from leadflow_platform.testing.fixtures import TopicNamespace, consume, wait_for

pytestmark = pytest.mark.integration


@dataclass
class Live:
    app: Any
    settings: OpsSettings
    producer: AIOKafkaProducer
    bootstrap: str

    async def send(self, topic: str, event: Any) -> None:
        body = event if isinstance(event, bytes) else event.to_json_bytes()
        key = b"raw" if isinstance(event, bytes) else event.kafka_key()
        await self.producer.send_and_wait(self.settings.topic(topic), body, key=key)


@pytest.fixture(scope="module")
async def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create(partitions=2)
    tmp: Path = tmp_path_factory.mktemp("ops-live")
    settings = OpsSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=ns.prefix,
        database_url=f"sqlite+aiosqlite:///{tmp / 'ops.db'}",
        users_file=F.write_users(tmp / "users.yaml"),
        consumer_group=f"leadflow-ops-{ns.prefix.rstrip('.')}",
        lag_interval_seconds=0.5,
        batch_max_records=200,
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    async with app.router.lifespan_context(app):
        yield Live(app, settings, producer, kafka_bootstrap)
    await producer.stop()


async def test_events_on_the_real_broker_reach_the_read_models(live: Live) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    for i in range(20):
        await live.send(T.LEADS_ROUTED, F.routed(f"K{i}", t0, team=("DACH", "Nordics")[i % 2], due_in=600))
    await live.send(T.SLA_EVENTS, F.sla("K0", "breached", t0 + timedelta(seconds=1), due_at=t0))
    await live.send(T.SLA_EVENTS, F.sla("K1", "met", t0 + timedelta(seconds=30), due_at=t0 + timedelta(minutes=10)))
    repo = live.app.state.repo

    async def settled() -> bool:
        snap = await repo.now_snapshot(datetime.now(UTC))
        return bool(snap["open"] == 19 and snap["breached"] == 1)

    await wait_for(settled, timeout=40)


async def test_consumer_lag_is_read_from_committed_offsets(live: Live) -> None:
    monitor = live.app.state.monitor

    async def ops_group_seen() -> bool:
        snap = await monitor.sample()
        rows = [r for r in snap.lag if r.group == live.settings.consumer_group]
        return bool(rows) and all(r.lag == 0 for r in rows) and {r.topic for r in rows} >= {T.LEADS_ROUTED}

    await wait_for(ops_group_seen, timeout=40, interval=0.5)
    snap = monitor.snapshot
    assert snap.error is None
    assert any(r.service == live.settings.consumer_group.removeprefix("leadflow-") for r in snap.lag)


async def test_poison_message_goes_to_the_dead_letter_topic(live: Live) -> None:
    await live.send(T.CRM_SYNCED, b"{broken")
    records = await consume(live.bootstrap, live.settings.topic(T.LEADS_DEADLETTER), 1, timeout=30)
    letter = json.loads(records[0].value)
    assert letter["service"] == "ops" and letter["reason"] == "invalid_event"
    assert letter["topic"] == live.settings.topic(T.CRM_SYNCED)


async def test_replay_republishes_the_fixed_message_to_its_original_topic(live: Live) -> None:
    t0 = datetime.now(UTC)
    rejected = F.rejected("R-replay", t0)
    await live.send(T.LEADS_REJECTED, rejected)
    repo = live.app.state.repo
    row = await wait_for(lambda: repo.dead_letter(rejected.event_id), timeout=30)
    fixed = dict(F.SUBMISSION, person=dict(F.SUBMISSION["person"], email="anna.schmidt@example.com"))
    topic, body = prepare_replay(row, json.dumps(fixed), live.settings)
    assert topic == live.settings.topic(T.LEADS_INBOUND)
    await live.app.state.republish(body, topic, b"R-replay", {"x-leadflow-replay-of": rejected.event_id})
    [record] = await consume(live.bootstrap, topic, 1, timeout=30)
    assert record.key == b"R-replay"
    assert LeadSubmitted.model_validate_json(record.value).person.email == "anna.schmidt@example.com"
    assert ("x-leadflow-replay-of", rejected.event_id.encode()) in list(record.headers)
