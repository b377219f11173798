"""The route service through its subscriber with TestKafkaBroker (in-memory broker, real SQLite ledger)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import ChangeType, CrmChange, DeadLetter, LeadRouted, topics
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import FakeClock
from leadflow_route.adapters.roster_source import StaticRosterSource
from leadflow_route.app import create_app
from leadflow_route.settings import RouteSettings
from leadflow_route.testing import (
    MONDAY_10_UTC,
    reassign_event,
    sample_config,
    sample_queues,
    sample_reps,
    scored_event,
)

pytestmark = pytest.mark.component


class Harness:
    def __init__(
        self, app: Any, settings: RouteSettings, routed: list[tuple[bytes | None, bytes]], dead: list[bytes]
    ) -> None:
        self.app, self.settings, self.routed, self.dead = app, settings, routed, dead
        self.broker = app.state.broker

    async def publish(self, topic: str, payload: bytes, key: str) -> None:
        await self.broker.publish(
            payload, self.settings.topic(topic), key=key.encode(), headers={"content-type": "application/json"}
        )

    def routed_events(self) -> list[LeadRouted]:
        return [LeadRouted.model_validate_json(v) for _, v in self.routed]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = RouteSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'route.db'}", topic_prefix="c.", kafka_bootstrap="127.0.0.1:1"
    )
    broker = make_broker(settings)
    routed: list[tuple[bytes | None, bytes]] = []
    dead: list[bytes] = []

    app = create_app(
        settings,
        clock=FakeClock(MONDAY_10_UTC),
        broker=broker,
        roster_source=StaticRosterSource(sample_reps(), sample_queues()),
        routing_config=sample_config(),
        create_topics=False,
        refresh_roster=False,
    )
    async with TestKafkaBroker(broker) as br:
        async with app.router.lifespan_context(app):
            original = br.publish

            async def recording_publish(message: Any, topic: str = "", **kw: Any) -> Any:
                if topic == settings.topic(topics.LEADS_ROUTED):
                    routed.append((kw.get("key"), message))
                elif topic == settings.topic(topics.LEADS_DEADLETTER):
                    dead.append(message)
                return await original(message, topic, **kw)

            br.publish = recording_publish  # type: ignore[method-assign]
            yield Harness(app, settings, routed, dead)


async def test_scored_lead_is_routed_with_owner_sla_and_trace(harness: Harness) -> None:
    ev = scored_event("lead-1", country="DE", language="de")
    await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    assert len(harness.routed) == 1
    key, _ = harness.routed[0]
    routed = harness.routed_events()[0]
    assert key == b"lead-1" and routed.lead_id == "lead-1"
    assert routed.assignment.owner_id in {"D1", "D2"} and routed.assignment.team == "DACH"
    assert routed.assignment.policy == "new_lead" and "weighted round-robin" in routed.assignment.reason
    assert routed.sla.policy == "hot" and routed.sla.calendar == "dach"
    assert routed.trace[-1].service == "route" and routed.trace[-1].data["owner_id"] == routed.assignment.owner_id
    assert routed.reassignment == 0


async def test_replay_republishes_the_same_decision_without_advancing_the_ledger(harness: Harness) -> None:
    ev = scored_event("lead-2")
    for _ in range(3):
        await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    payloads = [v for _, v in harness.routed]
    assert len(payloads) == 3 and len(set(payloads)) == 1
    ledger = await harness.app.state.store.ledger_snapshot()
    assert sum(load.assigned_total for load in ledger.loads.values()) == 1


async def test_reassignment_goes_to_someone_new_and_releases_the_old_owner(harness: Harness) -> None:
    ev = scored_event("lead-3", country="NO")
    await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    first = harness.routed_events()[-1]
    owners = [first.assignment.owner_id]
    current = first
    for step in range(2):
        req = reassign_event(current)
        await harness.publish(topics.LEADS_REASSIGN, req.to_json_bytes(), req.lead_id)
        current = harness.routed_events()[-1]
        assert current.assignment.owner_id not in owners
        assert current.assignment.previous_owner_ids == tuple(owners)
        assert current.reassignment == step + 1
        owners.append(current.assignment.owner_id)
    ledger = await harness.app.state.store.ledger_snapshot()
    assert [ledger.get(o).open_leads for o in owners] == [0, 0, 1]
    # everyone in the team has had it now: the fourth owner is the team queue
    req = reassign_event(current)
    await harness.publish(topics.LEADS_REASSIGN, req.to_json_bytes(), req.lead_id)
    assert harness.routed_events()[-1].assignment.owner_id == "Q_NORD"


async def test_bad_bytes_and_bad_events_are_dead_lettered_with_the_original(harness: Harness) -> None:
    await harness.publish(topics.LEADS_SCORED, b"{not json", "lead-x")
    await harness.publish(topics.LEADS_REASSIGN, json.dumps({"lead_id": "lead-y"}).encode(), "lead-y")
    assert harness.routed == []
    letters = [DeadLetter.model_validate_json(d) for d in harness.dead]
    assert [(d.lead_id, d.reason, d.service) for d in letters] == [
        ("lead-x", "invalid_event", "route"),
        ("lead-y", "invalid_event", "route"),
    ]
    assert base64.b64decode(letters[0].original_base64) == b"{not json"
    assert letters[0].topic == "c.leads.scored" and "occurred_at: Field required" in letters[1].message


async def test_user_change_from_crm_keeps_the_roster_current(harness: Harness) -> None:
    change = CrmChange(
        event_id="chg-N3-absent",
        lead_id="user-N3",
        occurred_at=MONDAY_10_UTC,
        object="User",
        record_id="N3",
        change_type=ChangeType.UPDATED,
        record={"Is_Absent__c": True},
        changed_at=MONDAY_10_UTC,
        system_modstamp=MONDAY_10_UTC,
    )
    await harness.publish(topics.CRM_CHANGES, change.to_json_bytes(), change.lead_id)
    assert harness.app.state.roster.current.rep("N3").absent is True
    cached = await harness.app.state.store.load_roster()
    assert cached.rep("N3").absent is True and cached.rep("N3").weight == 3.0
    for i in range(12):
        ev = scored_event(f"lead-u{i}", country="NO")
        await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    assert "N3" not in {r.assignment.owner_id for r in harness.routed_events()}


async def test_lead_closed_in_salesforce_frees_the_reps_capacity(harness: Harness) -> None:
    ev = scored_event("lead-4", country="DE", language="de")
    await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    owner = harness.routed_events()[-1].assignment.owner_id
    assert (await harness.app.state.store.ledger_snapshot()).get(owner).open_leads == 1
    at = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    change = CrmChange(
        event_id="chg-lead-4-closed",
        lead_id="lead-4",
        occurred_at=at,
        object="Lead",
        record_id="00QX",
        change_type=ChangeType.UPDATED,
        record={"Status": "Closed - Not Converted", "OwnerId": owner},
        changed_at=at,
        system_modstamp=at,
    )
    for _ in range(2):  # a replayed change is applied once
        await harness.publish(topics.CRM_CHANGES, change.to_json_bytes(), change.lead_id)
    assert (await harness.app.state.store.ledger_snapshot()).get(owner).open_leads == 0
    history = await harness.app.state.store.owner_history("lead-4")
    assert [h.open for h in history] == [False]


async def test_lead_taken_over_in_salesforce_moves_the_load(harness: Harness) -> None:
    ev = scored_event("lead-5", country="DE", language="de")
    await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    owner = harness.routed_events()[-1].assignment.owner_id
    other = "005OTHERUSER00000A"
    change = CrmChange(
        event_id="chg-lead-5-owner",
        lead_id="lead-5",
        occurred_at=MONDAY_10_UTC,
        object="Lead",
        record_id="00QY",
        change_type=ChangeType.UPDATED,
        record={"OwnerId": other, "Status": "Working - Contacted"},
        changed_at=MONDAY_10_UTC,
        system_modstamp=MONDAY_10_UTC,
    )
    await harness.publish(topics.CRM_CHANGES, change.to_json_bytes(), change.lead_id)
    ledger = await harness.app.state.store.ledger_snapshot()
    assert (ledger.get(owner).open_leads, ledger.get(other).open_leads) == (0, 1)
    # a later reassignment also avoids the rep who took it over in Salesforce
    req = reassign_event(harness.routed_events()[-1])
    await harness.publish(topics.LEADS_REASSIGN, req.to_json_bytes(), req.lead_id)
    assert harness.routed_events()[-1].assignment.previous_owner_ids == (owner, other)


async def test_lead_no_one_can_take_is_dead_lettered_not_dropped(harness: Harness) -> None:
    harness.app.state.roster.current = type(harness.app.state.roster.current)()
    ev = scored_event("lead-6", client_type=__import__("leadflow_contracts").ClientType.CREDIT_HOLD)
    await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    assert harness.routed == []
    letter = DeadLetter.model_validate_json(harness.dead[-1])
    assert letter.reason == "no_owner" and "head of sales" in letter.message
    assert base64.b64decode(letter.original_base64) == ev.to_json_bytes()


async def test_a_database_outage_is_backed_off_and_rewound_not_skipped(harness: Harness) -> None:
    """The handler raises after the back-off (the in-memory broker surfaces it; on Kafka the nack rewinds
    the batch); the redelivered record is routed once."""
    service = harness.app.state.service
    original, failures = service.route, []

    async def flaky(events):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(1)
            raise ConnectionError("database unavailable")
        return await original(events)

    service.route = flaky
    ev = scored_event("lead-7")
    with pytest.raises(ConnectionError):
        await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    assert harness.routed_events() == [] and harness.app.state.handlers.runtime.consecutive_failures == 1
    await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)  # the rewound record again
    assert [r.lead_id for r in harness.routed_events()] == ["lead-7"]


async def test_roster_refresh_retries_quickly_until_salesforce_answers(tmp_path: Path) -> None:
    import asyncio

    from leadflow_route.adapters.store import RouteStore, make_engine
    from leadflow_route.service import RosterManager

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    store = RouteStore(engine)
    await store.create_schema(["Nordics"])
    source = StaticRosterSource(sample_reps(), sample_queues(), fail=True)
    manager = RosterManager(store, source, FakeClock(MONDAY_10_UTC))
    await manager.start()
    assert not manager.current.reps and source.fetches == 1
    task = asyncio.create_task(manager.run_periodic(3600, retry_empty=0.01))
    try:
        while source.fetches < 3:
            await asyncio.sleep(0.01)
        source.fail = False
        while not manager.current.reps:
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await engine.dispose()
    assert len(manager.current.reps) == len(sample_reps()) and manager.loaded_from == "source"


async def test_a_failed_publish_is_retried_so_the_decision_is_not_lost(harness: Harness) -> None:
    handlers = harness.app.state.handlers
    original, failures = handlers.runtime.publisher.publish_all, []

    async def flaky(messages):  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(messages[0].topic)
            raise ConnectionError("broker unavailable")
        return await original(messages)

    handlers.runtime.publisher.publish_all = flaky
    ev = scored_event("lead-8")
    with pytest.raises(ConnectionError):
        await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)  # redelivered after the rewind
    assert failures == ["c.leads.routed"]
    routed = harness.routed_events()
    assert [r.lead_id for r in routed] == ["lead-8"]


# ---- one person, one owner: repeats in flight (issue 12) -------------------------------------------------
def _repeat(lead_id: str, root: str, country: str = "DE") -> Any:
    from leadflow_contracts import DuplicateOf, Enrichment

    ev = scored_event(lead_id, country=country, language="de")
    dup = DuplicateOf(object="Lead", record_id=root, matched_on="email", leadflow_id=root)
    return ev.model_copy(update={"enrichment": Enrichment(duplicate_of=dup)})


@pytest.mark.parametrize("order", list(__import__("itertools").permutations(["r", "d1", "d2"])))
async def test_a_person_has_one_owner_whatever_order_their_leads_reach_route(
    harness: Harness, order: tuple[str, ...]
) -> None:
    """The first lead (Nordics) and two repeats (DACH by country) in every arrival order, one batch each:
    all three get the owner of whichever reached route first, so crm-sync's one Lead agrees with all three."""
    tag = "-".join(order)
    root = f"r-{tag}"
    events = {"r": scored_event(root, country="NO"), "d1": _repeat(f"d1-{tag}", root), "d2": _repeat(f"d2-{tag}", root)}
    for name in order:
        ev = events[name]
        await harness.publish(topics.LEADS_SCORED, ev.to_json_bytes(), ev.lead_id)
    routed = {r.lead_id: r.assignment for r in harness.routed_events()}
    first = routed[events[order[0]].lead_id]
    assert first.policy == "new_lead"
    assert {routed[e.lead_id].owner_id for e in events.values()} == {first.owner_id}
    assert all(routed[events[n].lead_id].policy == "duplicate" for n in order[1:])
    assert "same person" in routed[events["d2"].lead_id].reason or order[0] == "d2"


@pytest.mark.parametrize("order", list(__import__("itertools").permutations(["r", "d1", "d2"])))
async def test_a_person_has_one_owner_when_their_leads_share_a_batch(harness: Harness, order: tuple[str, ...]) -> None:
    tag = "b-" + "-".join(order)
    root = f"r-{tag}"
    events = {"r": scored_event(root, country="NO"), "d1": _repeat(f"d1-{tag}", root), "d2": _repeat(f"d2-{tag}", root)}
    result = await harness.app.state.service.route([events[n] for n in order])
    owners = {r.lead_id: r.assignment.owner_id for r in result.routed}
    assert len(owners) == 3 and len(set(owners.values())) == 1
    # a redelivery of the whole batch republishes the same decisions
    again = await harness.app.state.service.route([events[n] for n in order])
    assert again.replays == 3 and sorted(again.published) == sorted(result.published)


async def test_a_repeat_follows_its_first_lead_after_that_lead_was_reassigned(harness: Harness) -> None:
    root = scored_event("r-moved", country="NO")
    await harness.publish(topics.LEADS_SCORED, root.to_json_bytes(), root.lead_id)
    first = harness.routed_events()[-1]
    req = reassign_event(first)
    await harness.publish(topics.LEADS_REASSIGN, req.to_json_bytes(), req.lead_id)
    moved = harness.routed_events()[-1].assignment.owner_id
    assert moved != first.assignment.owner_id
    dup = _repeat("d-moved", "r-moved")
    await harness.publish(topics.LEADS_SCORED, dup.to_json_bytes(), dup.lead_id)
    assert harness.routed_events()[-1].assignment.owner_id == moved
    # and its own escalation cannot move the record: it stays with the record's owner
    dup_req = reassign_event(harness.routed_events()[-1], target="team_queue")
    await harness.publish(topics.LEADS_REASSIGN, dup_req.to_json_bytes(), dup_req.lead_id)
    assert (harness.routed_events()[-1].assignment.owner_id, harness.routed_events()[-1].reassignment) == (moved, 1)


async def test_a_repeat_follows_an_owner_taken_over_in_salesforce(harness: Harness) -> None:
    root = scored_event("r-taken", country="NO")
    await harness.publish(topics.LEADS_SCORED, root.to_json_bytes(), root.lead_id)
    change = CrmChange(
        event_id="chg-r-taken",
        lead_id="r-taken",
        occurred_at=MONDAY_10_UTC,
        object="Lead",
        record_id="00QT",
        change_type=ChangeType.UPDATED,
        record={"OwnerId": "N3", "Status": "Working - Contacted"},
        changed_at=MONDAY_10_UTC,
        system_modstamp=MONDAY_10_UTC,
    )
    await harness.publish(topics.CRM_CHANGES, change.to_json_bytes(), change.lead_id)
    dup = _repeat("d-taken", "r-taken")
    await harness.publish(topics.LEADS_SCORED, dup.to_json_bytes(), dup.lead_id)
    assert harness.routed_events()[-1].assignment.owner_id == "N3"
