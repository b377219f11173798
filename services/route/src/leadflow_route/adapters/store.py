"""The route database: ledger (locked per team), lead owner history, produced decisions, roster cache.

One code path for both databases: every unit of work starts by locking the team rows with
``SELECT … FOR UPDATE`` (PostgreSQL row locks). SQLite has no row locks and ignores FOR UPDATE,
so route's SQLite engine opens every transaction with ``BEGIN IMMEDIATE`` (one writer at a time,
others wait on ``busy_timeout``) — the same code, serialised by the database either way.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadflow_platform.db import claim_new_events, create_engine, insert_ignore, is_sqlite, upsert
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_route.adapters.tables import (
    decisions,
    lead_owners,
    person_owners,
    rep_ledger,
    roster_cache,
    team_locks,
)
from leadflow_route.domain.ledger import Ledger, RepLoad
from leadflow_route.domain.roster import Queue, Rep, Roster

CONSUMER = "route"
ANY_TEAM = "*"
"""Lock row for reps outside every configured team (key account managers, head of sales, finance)."""


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """The platform engine; on SQLite every transaction begins with ``BEGIN IMMEDIATE``."""
    engine = create_engine(url, **kwargs)
    if is_sqlite(engine):

        @event.listens_for(engine.sync_engine, "connect")
        def _no_implicit_transactions(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass
class OwnerRecord:
    lead_id: str
    seq: int
    owner_id: str
    owner_type: str
    team: str | None
    policy: str
    event_id: str
    routed_at: datetime
    open: bool


class UnitOfWork:
    """One transaction with the team locks held."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(self, event_ids: Iterable[str], now: datetime, consumer: str = CONSUMER) -> set[str]:
        return await claim_new_events(self.conn, consumer, event_ids, now)

    async def stored_decisions(self, event_ids: Sequence[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for start in range(0, len(event_ids), 500):
            chunk = list(event_ids[start : start + 500])
            rows = await self.conn.execute(
                select(decisions.c.event_id, decisions.c.payload).where(decisions.c.event_id.in_(chunk))
            )
            out.update({r.event_id: r.payload.encode() for r in rows})
        return out

    async def load_ledger(self) -> Ledger:
        rows = await self.conn.execute(select(rep_ledger))
        return Ledger.of(RepLoad(**row._asdict()) for row in rows)

    async def histories(self, lead_ids: Iterable[str]) -> dict[str, list[OwnerRecord]]:
        ids = list(dict.fromkeys(lead_ids))
        out: dict[str, list[OwnerRecord]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            rows = await self.conn.execute(
                select(lead_owners)
                .where(lead_owners.c.lead_id.in_(ids[start : start + 500]))
                .order_by(lead_owners.c.lead_id, lead_owners.c.seq)
            )
            for row in rows:
                out[row.lead_id].append(OwnerRecord(**row._asdict()))
        return out

    async def person_owners(self, root_ids: Iterable[str]) -> dict[str, str]:
        """root lead id → the owner a repeat of that person was routed to before the root reached route."""
        ids = sorted(set(root_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            rows = await self.conn.execute(
                select(person_owners.c.root_lead_id, person_owners.c.owner_id).where(
                    person_owners.c.root_lead_id.in_(ids[start : start + 500])
                )
            )
            out.update({r.root_lead_id: r.owner_id for r in rows})
        return out

    async def save(
        self,
        ledger: Ledger,
        *,
        new_owners: Sequence[OwnerRecord] = (),
        closed: Sequence[OwnerRecord] = (),
        produced: Sequence[tuple[str, str, bytes]] = (),
        persons: Sequence[tuple[str, str, str]] = (),
        now: datetime,
    ) -> None:
        """``persons``: (root lead id, owner id, the repeat's lead id) first decided in this unit of work."""
        if persons:
            await self.conn.execute(
                insert_ignore(self.conn, person_owners),
                [{"root_lead_id": r, "owner_id": o, "lead_id": lead, "decided_at": now} for r, o, lead in persons],
            )
        if ledger.dirty:
            rows = [vars(ledger.get(rep_id)) for rep_id in sorted(ledger.dirty)]
            cols = [c.name for c in rep_ledger.columns if c.name != "rep_id"]
            await self.conn.execute(upsert(self.conn, rep_ledger, ["rep_id"], cols), rows)
        if closed:
            await self.conn.execute(
                update(lead_owners)
                .where(lead_owners.c.lead_id == bindparam("k_lead"), lead_owners.c.seq == bindparam("k_seq"))
                .values(open=False),
                [{"k_lead": r.lead_id, "k_seq": r.seq} for r in closed],
            )
        if new_owners:
            await self.conn.execute(lead_owners.insert(), [vars(r) for r in new_owners])
        if produced:
            await self.conn.execute(
                insert_ignore(self.conn, decisions),
                [{"event_id": e, "lead_id": lead, "payload": p.decode(), "created_at": now} for e, lead, p in produced],
            )


class RouteStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self, teams: Iterable[str]) -> None:
        from leadflow_route.migrations import MIGRATIONS  # the revisions import this module's tables

        await MIGRATIONS.upgrade(self.engine)
        async with self.engine.begin() as conn:
            rows = [{"team": t, "version": 0} for t in sorted({*teams, ANY_TEAM})]
            await conn.execute(insert_ignore(conn, team_locks), rows)

    @asynccontextmanager
    async def unit_of_work(self, teams: Iterable[str] | None = None) -> AsyncIterator[UnitOfWork]:
        """A transaction holding the locks of ``teams`` (all teams if None), always taken in name order."""
        async with self.engine.begin() as conn:
            stmt = select(team_locks.c.team).order_by(team_locks.c.team).with_for_update()
            if teams is not None:
                stmt = stmt.where(team_locks.c.team.in_(sorted({*teams, ANY_TEAM})))
            await conn.execute(stmt)
            yield UnitOfWork(conn)

    async def prune_decisions(self, older_than: datetime) -> int:
        """Forget produced decisions older than the input topics' retention: no replay can ask for them."""
        async with self.engine.begin() as conn:
            result = await conn.execute(decisions.delete().where(decisions.c.created_at < older_than))
            return int(result.rowcount or 0)

    # ---- roster cache ----------------------------------------------------------------------------
    async def save_roster(self, roster: Roster, now: datetime) -> None:
        rows = [
            {"kind": "user", "record_id": r.id, "payload": r.model_dump_json(), "updated_at": now}
            for r in roster.reps.values()
        ]
        rows += [
            {"kind": "queue", "record_id": q.id, "payload": q.model_dump_json(), "updated_at": now}
            for q in roster.queues.values()
        ]
        async with self.engine.begin() as conn:
            await conn.execute(roster_cache.delete())
            if rows:
                await conn.execute(roster_cache.insert(), rows)

    async def save_rep(self, rep: Rep, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                upsert(conn, roster_cache, ["kind", "record_id"], ["payload", "updated_at"]),
                [{"kind": "user", "record_id": rep.id, "payload": rep.model_dump_json(), "updated_at": now}],
            )

    async def load_roster(self) -> Roster | None:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(roster_cache.c.kind, roster_cache.c.payload))).all()
        if not rows:
            return None
        reps = [Rep.model_validate(json.loads(r.payload)) for r in rows if r.kind == "user"]
        queues = [Queue.model_validate(json.loads(r.payload)) for r in rows if r.kind == "queue"]
        return Roster(reps, queues)

    async def ledger_snapshot(self) -> Ledger:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(rep_ledger))
            return Ledger.of(RepLoad(**row._asdict()) for row in rows)

    async def owner_history(self, lead_id: str) -> list[OwnerRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(lead_owners).where(lead_owners.c.lead_id == lead_id).order_by(lead_owners.c.seq)
            )
            return [OwnerRecord(**row._asdict()) for row in rows]
