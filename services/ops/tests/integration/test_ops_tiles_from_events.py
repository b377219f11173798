"""Every Now-board tile equals the same figure computed independently from the raw events.

Random event histories (routings and reassignments, syncs, crm-sync dead letters with and without an
explicit "not in Salesforce", SLA events of every clock, follow-ups on existing Contacts, duplicates merged
into leadflow's lead in flight or into an org Lead, redeliveries, any interleaving across topics and any
batch sizes) go through the real read models (SQLite; PostgreSQL too in the fixed sweep), and
each tile is compared with a plain, order-free reading of the events written here in the test.
"""

from __future__ import annotations

import asyncio
import base64
import random
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_contracts import CrmSynced, DeadLetter, DuplicateOf, Enrichment, LeadRouted, SlaEvent
from leadflow_contracts.crm import SyncOperation
from leadflow_ops import testing as F
from leadflow_ops.adapters.repository import OpsRepository
from leadflow_platform.db import create_engine

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CLOCKS = ("first_touch", "qualify", "callback")
TEAMS = ("Inbound DACH", "Nordics", None)


@dataclass
class History:
    """Events per topic in the order each lead's partition holds them."""

    routed: list[LeadRouted] = field(default_factory=list)
    synced: list[CrmSynced] = field(default_factory=list)
    sla: list[SlaEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def _dead_letter(lead_id: str, rng: random.Random, now: datetime = NOW) -> DeadLetter:
    style = rng.choice(["current", "explicit", "task", "explicit_in_sf", "flag_true", "flag_false"])
    flag: dict[str, bool] = {}
    if style.startswith("flag_"):  # DeadLetter.not_in_salesforce, as crm-sync now says it
        flag["not_in_salesforce"] = style == "flag_true"
    detail = {"statusCode": "INVALID_EMAIL_ADDRESS", "fields": "Email", "operation": "upsert Lead"}
    reason = "salesforce:INVALID_EMAIL_ADDRESS"
    if style == "explicit":
        detail["in_salesforce"] = "false"
        reason = rng.choice([reason, "not_in_salesforce"])
    elif style == "task":
        detail["operation"] = "upsert Task (callback)"
    elif style == "explicit_in_sf":
        detail["in_salesforce"] = "true"
    return DeadLetter(
        event_id=f"dl-{lead_id}-{rng.randrange(10**6)}",
        lead_id=lead_id,
        occurred_at=now - timedelta(minutes=rng.randrange(1, 60)),
        service="crm-sync",
        topic="leads.routed",
        reason=reason,
        message="Email: invalid email address: a•••@e•••",
        original_base64=base64.b64encode(b"{}").decode(),
        detail=detail,
        **flag,
    )


def _duplicate(rng: random.Random, lead_id: str, earlier: Sequence[str]) -> DuplicateOf | None:
    """What enrich matched: nothing (most leads), an existing Contact (crm-sync writes only a follow-up Task),
    leadflow's own lead still in flight (merged onto its external id) or an org Lead (merged by Id)."""
    kind = rng.choices(["own", "contact", "in_flight", "org_lead"], weights=[70, 15, 10, 5])[0]
    if kind == "contact":
        return DuplicateOf(object="Contact", record_id=f"003{lead_id:0>15}", matched_on="email")
    if kind == "in_flight" and earlier:
        root = rng.choice(earlier)
        return DuplicateOf(object="Lead", record_id=root, matched_on="phone", leadflow_id=root)
    if kind == "org_lead":
        return DuplicateOf(object="Lead", record_id=f"00Q{lead_id:0>15}", matched_on="email")
    return None


def _synced(lead_id: str, at: datetime, owner: str, dup: DuplicateOf | None) -> CrmSynced:
    event = F.synced(lead_id, at, owner_id=owner)
    if dup is not None and dup.object == "Contact":  # crm-sync wrote a follow-up Task on the Contact
        return event.model_copy(
            update={
                "object": "Contact",
                "salesforce_id": dup.record_id,
                "contact_id": dup.record_id,
                "operation": SyncOperation.UPDATED,
                "task_id": "00T" + dup.record_id[3:],
            }
        )
    return event


def make_history(rng: random.Random, leads: int, now: datetime = NOW, prefix: str = "L") -> History:
    """Due times fall 30 s off whole minutes from ``now``, so a test that reads the board a few seconds
    later still sees the same due-in-15/60 counts."""
    h = History()
    for i in range(leads):
        lead_id = f"{prefix}{i:03d}"
        dup = _duplicate(rng, lead_id, [f"{prefix}{j:03d}" for j in range(i)])
        enrichment = Enrichment(duplicate_of=dup)
        team = rng.choice(TEAMS)
        routed_at = now - timedelta(minutes=rng.randrange(1, 240)) + timedelta(seconds=30)
        due = routed_at + timedelta(minutes=rng.choice([5, 15, 30, 60, 90, 300]))
        queue = rng.random() < 0.2
        owner = ("00G" if queue else "005") + f"{rng.randrange(5):03d}"
        routed = rng.random() < 0.9
        if routed:
            h.routed.append(
                F.routed(
                    lead_id,
                    routed_at,
                    team=team or "",
                    owner_id=owner,
                    owner_type="queue" if queue else "user",
                    due_in=(due - routed_at).total_seconds(),
                    event_id=f"r0-{lead_id}",
                ).model_copy(update={"enrichment": enrichment})
            )
            if rng.random() < 0.2:
                moved = routed_at + timedelta(minutes=rng.randrange(1, 30))
                due = moved + timedelta(minutes=rng.choice([10, 45, 120]))
                h.routed.append(
                    F.routed(
                        lead_id,
                        moved,
                        team=team or "",
                        owner_id=f"005{rng.randrange(5, 9):03d}",
                        due_in=(due - moved).total_seconds(),
                        reassignment=1,
                        event_id=f"r1-{lead_id}",
                    ).model_copy(update={"enrichment": enrichment})
                )
        fate = rng.random()
        if fate < 0.25:
            h.dead.append(_dead_letter(lead_id, rng, now))
            if rng.random() < 0.3:  # replayed and written after all
                h.synced.append(_synced(lead_id, routed_at + timedelta(minutes=5), owner, dup))
        elif fate < 0.9:
            h.synced.append(_synced(lead_id, routed_at + timedelta(seconds=5), owner, dup))
        for n in range(rng.randrange(0, 5)):
            clock = rng.choice(CLOCKS)
            kind = rng.choice(["started", "breached", "breached", "met", "cancelled", "escalated", "warning"])
            h.sla.append(
                F.sla(
                    lead_id,
                    kind,
                    routed_at + timedelta(minutes=n + 1),
                    due_at=due,
                    clock=clock,
                    team=team,
                    event_id=f"s{n}-{lead_id}",
                )
            )
    return h


def delivery(h: History, rng: random.Random) -> list[list[Any]]:
    """Interleave the topics at random (each topic keeps its order), redeliver some, cut into batches."""
    queues = [list(h.routed), list(h.synced), list(h.sla), list(h.dead)]
    stream: list[Any] = []
    while any(queues):
        q = rng.choice([q for q in queues if q])
        stream.append(q.pop(0))
        if rng.random() < 0.05:
            stream.append(stream[rng.randrange(len(stream))])  # an at-least-once redelivery
    batches = []
    while stream:
        size = rng.randint(1, 40)
        batches.append(stream[:size])
        stream = stream[size:]
    return batches


# --- the independent reading of the raw events ---------------------------------------------------


def expected_tiles(h: History, now: datetime) -> dict[str, Any]:
    def first_seen(events: Sequence[Any]) -> list[Any]:
        seen: set[str] = set()
        out = []
        for e in events:
            if e.event_id not in seen:
                seen.add(e.event_id)
                out.append(e)
        return out

    routings: dict[str, list[LeadRouted]] = defaultdict(list)
    for r in first_seen(h.routed):
        routings[r.lead_id].append(r)
    synced = {s.lead_id for s in h.synced}
    on_contact = {s.lead_id for s in h.synced if s.object == "Contact"}
    merged: set[str] = set()
    for r in h.routed:
        dup = r.enrichment.duplicate_of
        if dup is not None and dup.object == "Contact":
            on_contact.add(r.lead_id)
        elif dup is not None and dup.object == "Lead":
            merged.add(r.lead_id)
    stops: set[str] = set()
    for d in first_seen(h.dead):
        explicit = d.detail.get("in_salesforce")
        if "not_in_salesforce" in d.model_fields_set:  # the producer said so (the record carries the field)
            if d.not_in_salesforce:
                stops.add(d.lead_id)
        elif explicit == "false" or d.reason == "not_in_salesforce":
            stops.add(d.lead_id)
        elif explicit is None and "Task" not in d.detail.get("operation", ""):
            stops.add(d.lead_id)
    sla_by_lead: dict[str, list[SlaEvent]] = defaultdict(list)
    for e in first_seen(h.sla):
        sla_by_lead[e.lead_id].append(e)

    leads = set(routings) | set(sla_by_lead) | stops | synced
    tiles: dict[str, Any] = {
        "open": 0,
        "breached": 0,
        "unassigned": 0,
        "due_15": 0,
        "due_60": 0,
        "not_in_salesforce": 0,
        "follow_ups": 0,
        "follow_ups_breached": 0,
        "merged": 0,
        **{f"breached_{c}": 0 for c in CLOCKS},
    }
    teams: dict[str, dict[str, int]] = defaultdict(
        lambda: {"open": 0, "breached": 0, "not_in_salesforce": 0, "follow_ups": 0}
    )
    for lead in leads:
        rs = routings.get(lead, [])
        events = sla_by_lead.get(lead, [])
        ft = [e for e in events if e.clock == "first_touch"]
        not_in_sf = lead in stops and lead not in synced
        latest = max(rs, key=lambda r: r.reassignment) if rs else None
        team = (latest.assignment.team if latest else None) or next((e.team for e in events if e.team), None)
        # a queue routed to without a team is filed under the queue itself (never "(none)")
        queue = next((r.assignment for r in rs if r.assignment.owner_type == "queue" and not r.assignment.team), None)
        team = team or (f"{queue.owner_name or queue.owner_id} (queue)" if queue else "(none)")
        if latest is not None:
            due = latest.sla.first_touch_due
        else:
            due = next((e.due_at for e in ft if e.kind.value in ("started", "breached", "met")), None)
        has_due = latest is not None or due is not None
        concluded = any(e.kind.value in ("met", "cancelled") for e in ft)
        waiting = has_due and not concluded and not not_in_sf
        # one open lead per Salesforce Lead: a Contact follow-up has no Lead, a merged duplicate is its target's
        is_open = waiting and lead not in on_contact and lead not in merged
        if waiting and lead in on_contact:
            tiles["follow_ups"] += 1
            teams[team]["follow_ups"] += 1
        if lead in merged and lead not in on_contact:
            tiles["merged"] += 1
        broken = []
        for clock in CLOCKS:
            last = [
                e.kind.value
                for e in events
                if e.clock == clock and e.kind.value in ("breached", "met", "cancelled", "started")
            ]  # a breach stands until met, cancelled or a new cycle starts (a reassignment restarts the clock)
            if last and last[-1] == "breached":
                broken.append(clock)
        if is_open:
            tiles["open"] += 1
            teams[team]["open"] += 1
            if latest is not None and latest.assignment.owner_type == "queue":
                tiles["unassigned"] += 1
            if due is not None and now <= due < now + timedelta(minutes=15):
                tiles["due_15"] += 1
            if due is not None and now <= due < now + timedelta(minutes=60):
                tiles["due_60"] += 1
        if broken and not not_in_sf and lead in on_contact:
            tiles["follow_ups_breached"] += 1
        if broken and not not_in_sf and lead not in on_contact and lead not in merged:
            tiles["breached"] += 1
            teams[team]["breached"] += 1
            for clock in broken:
                tiles[f"breached_{clock}"] += 1
        if not_in_sf and has_due:
            tiles["not_in_salesforce"] += 1
            teams[team]["not_in_salesforce"] += 1
    tiles["teams"] = {k: v for k, v in teams.items() if any(v.values())}
    return tiles


def board_tiles(snap: dict[str, Any]) -> dict[str, Any]:
    keys = ["open", "breached", "unassigned", "due_15", "due_60", "not_in_salesforce", "follow_ups", "merged"]
    keys.append("follow_ups_breached")
    out: dict[str, Any] = {k: snap[k] for k in keys}
    out.update({f"breached_{c}": snap[f"breached_{c}"] for c in CLOCKS})
    out["teams"] = {
        t["team"]: {
            "open": t["open"],
            "breached": t["breached"],
            "not_in_salesforce": t["not_in_salesforce"],
            "follow_ups": t["follow_ups"],
        }
        for t in snap["teams"]
        if t["open"] or t["breached"] or t["not_in_salesforce"] or t["follow_ups"]
    }
    return out


async def run(database_url: str, h: History, rng: random.Random) -> dict[str, Any]:
    engine = create_engine(database_url)
    repo = OpsRepository(engine)
    try:
        await repo.create_schema()
        for batch in delivery(h, rng):
            await repo.apply(batch, NOW)
        return await repo.now_snapshot(NOW)
    finally:
        await engine.dispose()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), leads=st.integers(min_value=1, max_value=15))
def test_every_tile_equals_the_figure_computed_from_the_raw_events(rng: random.Random, leads: int) -> None:
    h = make_history(rng, leads)
    with tempfile.TemporaryDirectory() as tmp:
        snap = asyncio.run(run(f"sqlite+aiosqlite:///{Path(tmp) / 'ops.db'}", h, rng))
    assert board_tiles(snap) == expected_tiles(h, NOW)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_large_history_adds_up_on_every_database(database_url: str, seed: int) -> None:
    rng = random.Random(seed)
    h = make_history(rng, 400)
    snap = await run(database_url, h, rng)
    expected = expected_tiles(h, NOW)
    assert board_tiles(snap) == expected
    assert expected["breached_callback"] and expected["not_in_salesforce"] and expected["open"]  # the sweep covers them
    assert expected["follow_ups"] and expected["follow_ups_breached"] and expected["merged"]


async def test_a_callback_breach_counts_as_breached_as_salesforce_does(sqlite_url: str) -> None:
    """The issue's example: crm-sync sets SLA_Status__c = Breached for a callback breach; so does the board."""
    routed = F.routed("CB1", NOW - timedelta(minutes=20), due_in=3600)
    h = History(
        routed=[routed],
        synced=[F.synced("CB1", NOW - timedelta(minutes=19))],
        sla=[F.sla("CB1", "breached", NOW - timedelta(minutes=1), due_at=NOW - timedelta(minutes=2), clock="callback")],
    )
    snap = await run(sqlite_url, h, random.Random(0))
    assert (snap["open"], snap["breached"], snap["breached_callback"], snap["breached_first_touch"]) == (1, 1, 1, 0)


async def test_a_lead_crm_sync_could_not_write_is_not_open_until_a_replay_syncs_it(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    repo = OpsRepository(engine)
    await repo.create_schema()
    rng = random.Random(5)
    dl = _dead_letter("NS1", rng).model_copy(update={"detail": {"operation": "upsert Lead"}})
    await repo.apply([dl], NOW)  # the dead letter may arrive before the routing
    await repo.apply([F.routed("NS1", NOW - timedelta(minutes=3))], NOW)
    snap = await repo.now_snapshot(NOW)
    assert (snap["open"], snap["not_in_salesforce"]) == (0, 1)
    lead = await repo.lead("NS1")
    assert lead is not None and lead["not_in_salesforce"] and lead["failure_event_id"] == dl.event_id
    await repo.apply([F.synced("NS1", NOW)], NOW)  # replayed, and crm-sync wrote it
    snap = await repo.now_snapshot(NOW)
    assert (snap["open"], snap["not_in_salesforce"]) == (1, 0)
    await engine.dispose()


async def test_a_lead_routed_without_a_team_is_under_its_owners_salesforce_team(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    repo = OpsRepository(engine)
    await repo.create_schema()
    head = F.user_change("005HEAD", NOW, name="Hanne Head", team="", role="Head of Sales")
    await repo.apply([head], NOW)
    await repo.apply([F.routed("HS1", NOW - timedelta(minutes=1), team="", owner_id="005HEAD")], NOW)
    snap = await repo.now_snapshot(NOW)
    assert [t["team"] for t in snap["teams"]] == ["Head of Sales"]
    await engine.dispose()


async def test_follow_ups_and_merged_duplicates_are_not_open_leads_and_say_where_they_went(sqlite_url: str) -> None:
    """The measured run's gap: a lead enrich matched to a Contact has no Lead (crm-sync writes a Task on the
    Contact), and a duplicate merged onto another lead is that lead: neither is a second open lead."""
    engine = create_engine(sqlite_url)
    repo = OpsRepository(engine)
    await repo.create_schema()
    at = NOW - timedelta(minutes=5)
    contact = DuplicateOf(object="Contact", record_id="003000000000042AAA", matched_on="email")
    in_flight = DuplicateOf(object="Lead", record_id="M1", matched_on="phone", leadflow_id="M1")
    org_lead = DuplicateOf(object="Lead", record_id="00Q000000000077AAA", matched_on="email")

    def routed(lead_id: str, dup: DuplicateOf | None) -> LeadRouted:
        return F.routed(lead_id, at, due_in=600).model_copy(update={"enrichment": Enrichment(duplicate_of=dup)})

    # the Contact's sync may come first, and a late dead letter of its Task must not make it "not in Salesforce"
    await repo.apply([_synced("C1", at + timedelta(seconds=5), "005REP0000000001", contact)], NOW)
    dl = _dead_letter("C1", random.Random(1)).model_copy(update={"detail": {"operation": "upsert Lead"}})
    await repo.apply([routed("C1", contact), dl], NOW)
    await repo.apply([routed("M1", None), routed("M2", in_flight), routed("O1", org_lead)], NOW)
    await repo.apply([F.synced("M1", at), F.synced("M2", at), F.synced("O1", at, sf_id=org_lead.record_id)], NOW)
    snap = await repo.now_snapshot(NOW)
    assert (snap["open"], snap["follow_ups"], snap["merged"], snap["not_in_salesforce"]) == (1, 1, 2, 0)
    assert (snap["due_15"], snap["unassigned"]) == (1, 0)
    lead = await repo.lead("C1")
    assert lead is not None and lead["follow_up"] and lead["salesforce_id"] == contact.record_id
    assert (await repo.lead("M2") or {})["merged_into"] == "M1"
    assert (await repo.lead("O1") or {})["merged_into"] == org_lead.record_id
    # both clocks breached: the follow-up is counted apart, the merged duplicate is not a second breached lead
    breached = [
        F.sla(lid, "breached", NOW - timedelta(seconds=30), due_at=at + timedelta(minutes=4), event_id=f"b-{lid}")
        for lid in ("C1", "M1", "M2")
    ]
    await repo.apply(breached, NOW)
    snap = await repo.now_snapshot(NOW)
    assert (snap["breached"], snap["follow_ups_breached"]) == (1, 1)
    open_rows = await repo.breaches(open_only=True)
    assert sorted(r["lead_id"] for r in open_rows) == ["M1"]
    # the follow-up touched: it leaves the follow-ups tile as an open lead leaves "open"
    await repo.apply([F.sla("C1", "met", NOW, due_at=at + timedelta(minutes=4), event_id="m-C1")], NOW)
    snap = await repo.now_snapshot(NOW)
    assert (snap["open"], snap["follow_ups"], snap["follow_ups_breached"]) == (1, 0, 0)
    await engine.dispose()
