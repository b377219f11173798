"""Durable timers: SQLAlchemy 2 async Core, one code path for SQLite and PostgreSQL.

Claiming due timers (the only place the dialects differ, and only a little):

- PostgreSQL: ``UPDATE … WHERE id IN (SELECT id … ORDER BY next_fire_at LIMIT n FOR UPDATE SKIP LOCKED)
  RETURNING *`` — concurrent instances skip each other's rows.
- SQLite: the same ``UPDATE … RETURNING`` inside ``BEGIN IMMEDIATE`` (the write lock is taken
  before the read, so two processes cannot claim the same row).

Either way a claim sets a lease (``claimed_by``, ``claim_expires``); a crashed instance's timers
become claimable again when the lease expires. Every state change is an ``UPDATE … WHERE
version = :expected`` that bumps the version, so a stale writer changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow_platform.db import insert_ignore, is_sqlite, upsert
from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_sla_monitor.domain.timers import ACTIVE_STATES, Timer, TimerState


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the timer store")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

timers = Table(
    "sla_timers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lead_id", String(128), nullable=False),
    Column("clock", String(16), nullable=False),
    Column("cycle", Integer, nullable=False, default=0),
    Column("policy", String(64), nullable=False),
    Column("calendar", String(160), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("warn_at", UtcDateTime),
    Column("next_fire_at", UtcDateTime),
    Column("state", String(16), nullable=False),
    Column("escalation_step", Integer, nullable=False, default=0),
    Column("owner_id", String(64)),
    Column("team", String(64)),
    Column("rating", String(16)),
    Column("lead_source", String(32)),
    Column("client_type", String(32)),
    Column("met_by", String(64)),
    Column("met_how", String(128)),
    Column("met_at", UtcDateTime),
    Column("breached_at", UtcDateTime),
    Column("version", Integer, nullable=False, default=0),
    Column("claimed_by", String(64)),
    Column("claim_expires", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("lead_id", "clock", name="uq_sla_timers_lead_clock"),
    Index("ix_sla_timers_due", "state", "next_fire_at"),
)

leads = Table(
    "sla_leads",
    metadata,
    Column("lead_id", String(128), primary_key=True),
    Column("salesforce_id", String(18), index=True),
    Column("owner_id", String(64)),
    Column("reassignment", Integer, nullable=False, default=0),
    Column("previous_owners", Text, nullable=False, default="[]"),
    Column("routed_json", Text, nullable=False),
    Column("prospect_timezone", String(64)),
    Column("updated_at", UtcDateTime, nullable=False),
)

merged_records = Table(
    "sla_merged_records",
    metadata,
    Column("record_key", String(160), primary_key=True),
    Column("lead_id", String(128), primary_key=True),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""A merged lead (``lead_id``) and a key of the record it was merged into (see ``domain.merged``)."""

owner_streaks = Table(
    "sla_owner_streaks",
    metadata,
    Column("owner_id", String(64), primary_key=True),
    Column("consecutive_breaches", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
)

_TIMER_FIELDS = tuple(f.name for f in fields(Timer))


def timer_from_row(row: Any) -> Timer:
    data = {name: row._mapping[name] for name in _TIMER_FIELDS}
    data["state"] = TimerState(data["state"])
    return Timer(**data)


def timer_values(timer: Timer) -> dict[str, Any]:
    values = {name: getattr(timer, name) for name in _TIMER_FIELDS}
    values["state"] = timer.state.value
    return values


@dataclass(frozen=True, slots=True)
class LeadRecord:
    lead_id: str
    salesforce_id: str | None
    owner_id: str | None
    reassignment: int
    previous_owners: tuple[str, ...]
    routed_json: str
    prospect_timezone: str | None


def _lead_from_row(row: Any) -> LeadRecord:
    m = row._mapping
    return LeadRecord(
        lead_id=m["lead_id"],
        salesforce_id=m["salesforce_id"],
        owner_id=m["owner_id"],
        reassignment=m["reassignment"],
        previous_owners=tuple(json.loads(m["previous_owners"] or "[]")),
        routed_json=m["routed_json"],
        prospect_timezone=m["prospect_timezone"],
    )


class TimerStore:
    """Timers, the leads they belong to, and owners' breach streaks."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_tables(self) -> None:
        """Bring the database to the newest revision (leadflow_sla_monitor/migrations)."""
        from leadflow_sla_monitor.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    # --- leads ------------------------------------------------------------------------------------

    async def get_lead(self, conn: AsyncConnection, lead_id: str) -> LeadRecord | None:
        row = (await conn.execute(select(leads).where(leads.c.lead_id == lead_id))).first()
        return _lead_from_row(row) if row else None

    async def get_leads(self, conn: AsyncConnection, lead_ids: Iterable[str]) -> dict[str, LeadRecord]:
        ids = list(dict.fromkeys(lead_ids))
        if not ids:
            return {}
        rows = await conn.execute(select(leads).where(leads.c.lead_id.in_(ids)))
        return {r.lead_id: _lead_from_row(r) for r in rows}

    async def find_lead_by_salesforce_id(self, conn: AsyncConnection, ids: Sequence[str]) -> LeadRecord | None:
        if not ids:
            return None
        row = (await conn.execute(select(leads).where(leads.c.salesforce_id.in_(list(ids))).limit(1))).first()
        return _lead_from_row(row) if row else None

    async def save_lead(self, conn: AsyncConnection, lead: LeadRecord, now: datetime) -> None:
        await self.save_leads(conn, [lead], now)

    async def save_leads(self, conn: AsyncConnection, batch: Sequence[LeadRecord], now: datetime) -> None:
        rows = [
            {
                "lead_id": lead.lead_id,
                "salesforce_id": lead.salesforce_id,
                "owner_id": lead.owner_id,
                "reassignment": lead.reassignment,
                "previous_owners": json.dumps(list(lead.previous_owners)),
                "routed_json": lead.routed_json,
                "prospect_timezone": lead.prospect_timezone,
                "updated_at": now,
            }
            for lead in batch
        ]
        if rows:
            stmt = upsert(conn, leads, ["lead_id"], [k for k in rows[0] if k != "lead_id"])
            await conn.execute(stmt, rows)

    async def set_salesforce_id(self, conn: AsyncConnection, lead_id: str, salesforce_id: str, now: datetime) -> None:
        await conn.execute(
            update(leads)
            .where(
                leads.c.lead_id == lead_id,
                or_(leads.c.salesforce_id.is_(None), leads.c.salesforce_id != salesforce_id),
            )
            .values(salesforce_id=salesforce_id, updated_at=now)
        )

    # --- merged records ---------------------------------------------------------------------------

    async def add_merged(self, conn: AsyncConnection, pairs: Iterable[tuple[str, str]], now: datetime) -> None:
        """Remember (record key, merged lead id) pairs; idempotent."""
        rows = [{"record_key": k, "lead_id": lid, "updated_at": now} for k, lid in dict.fromkeys(pairs)]
        if rows:
            await conn.execute(upsert(conn, merged_records, ["record_key", "lead_id"], ["updated_at"]), rows)

    async def merged_leads(self, conn: AsyncConnection, keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """record key → the leads merged into that record."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, list[str]] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = await conn.execute(
                select(merged_records.c.record_key, merged_records.c.lead_id)
                .where(merged_records.c.record_key.in_(part))
                .order_by(merged_records.c.lead_id)
            )
            for key, lead_id in rows:
                out.setdefault(key, []).append(lead_id)
        return {k: tuple(v) for k, v in out.items()}

    # --- timers -----------------------------------------------------------------------------------

    async def get_timers(self, conn: AsyncConnection, lead_id: str) -> dict[str, Timer]:
        rows = await conn.execute(select(timers).where(timers.c.lead_id == lead_id))
        return {r.clock: timer_from_row(r) for r in rows}

    async def get_timers_of(self, conn: AsyncConnection, lead_ids: Iterable[str]) -> dict[str, dict[str, Timer]]:
        """Timers of many leads: ``{lead_id: {clock: timer}}``."""
        ids = list(dict.fromkeys(lead_ids))
        found: dict[str, dict[str, Timer]] = {}
        for start in range(0, len(ids), 500):
            rows = await conn.execute(select(timers).where(timers.c.lead_id.in_(ids[start : start + 500])))
            for r in rows:
                found.setdefault(r.lead_id, {})[r.clock] = timer_from_row(r)
        return found

    async def get_timer(self, lead_id: str, clock: str) -> Timer | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(timers).where(timers.c.lead_id == lead_id, timers.c.clock == clock))
            ).first()
        return timer_from_row(row) if row else None

    async def insert_timer(self, conn: AsyncConnection, timer: Timer, now: datetime) -> bool:
        """Insert a new timer; False if the lead already has this clock."""
        result = await conn.execute(insert_ignore(conn, timers), {**timer_values(timer), "updated_at": now})
        return bool(result.rowcount)

    async def insert_timers(self, conn: AsyncConnection, batch: Sequence[Timer], now: datetime) -> None:
        """Insert new timers in one ``executemany`` (existing (lead, clock) pairs are left alone)."""
        if batch:
            await conn.execute(insert_ignore(conn, timers), [{**timer_values(t), "updated_at": now} for t in batch])

    async def save_timer(
        self, conn: AsyncConnection, timer: Timer, now: datetime, *, claimed_by: str | None = None
    ) -> bool:
        """Write ``timer`` if nobody changed it since it was read (``version`` guard); bump the version.

        With ``claimed_by``, only the instance holding the claim may write, and the claim is released.
        """
        values = timer_values(timer)
        values.pop("lead_id")
        values.pop("clock")
        values["version"] = timer.version + 1
        values["updated_at"] = now
        conditions = [
            timers.c.lead_id == timer.lead_id,
            timers.c.clock == timer.clock,
            timers.c.version == timer.version,
        ]
        if claimed_by is not None:
            conditions.append(timers.c.claimed_by == claimed_by)
            values["claimed_by"] = None
            values["claim_expires"] = None
        result = await conn.execute(update(timers).where(*conditions).values(**values))
        return bool(result.rowcount)

    async def save_claimed(
        self, conn: AsyncConnection, batch: Sequence[Timer], now: datetime, claimed_by: str
    ) -> list[bool]:
        """``save_timer`` for many claimed timers in one round trip (``executemany``); per-row only
        if some row was changed meanwhile (its version moved on), to say which ones were written."""
        if not batch:
            return []
        columns = [c for c in _TIMER_FIELDS if c not in ("lead_id", "clock", "version")]
        stmt = (
            update(timers)
            .where(
                timers.c.lead_id == bindparam("b_lead_id"),
                timers.c.clock == bindparam("b_clock"),
                timers.c.version == bindparam("b_version"),
                timers.c.claimed_by == claimed_by,
            )
            .values(
                {c: bindparam(f"v_{c}", type_=timers.c[c].type) for c in columns}
                | {"version": bindparam("v_version"), "updated_at": now, "claimed_by": None, "claim_expires": None}
            )
        )
        params = []
        for timer in batch:
            values = timer_values(timer)
            params.append(
                {f"v_{c}": values[c] for c in columns}
                | {
                    "b_lead_id": timer.lead_id,
                    "b_clock": timer.clock,
                    "b_version": timer.version,
                    "v_version": timer.version + 1,
                }
            )
        result = await conn.execute(stmt, params)
        if result.rowcount == len(batch):
            return [True] * len(batch)
        # Someone changed some of them: find out which (their version is not ours + 1).
        keys = [(t.lead_id, t.clock) for t in batch]
        rows = await conn.execute(
            select(timers.c.lead_id, timers.c.clock, timers.c.version, timers.c.claimed_by).where(
                timers.c.lead_id.in_([k[0] for k in keys])
            )
        )
        current = {(r.lead_id, r.clock): (r.version, r.claimed_by) for r in rows}
        return [current.get((t.lead_id, t.clock), (None, None))[0] == t.version + 1 for t in batch]

    async def claim_due(self, now: datetime, instance: str, lease: timedelta, limit: int) -> list[Timer]:
        """Claim up to ``limit`` timers whose ``next_fire_at`` has come, oldest first."""
        due = (
            select(timers.c.id)
            .where(
                timers.c.state.in_([s.value for s in ACTIVE_STATES]),
                timers.c.next_fire_at <= now,
                or_(timers.c.claim_expires.is_(None), timers.c.claim_expires < now),
            )
            .order_by(timers.c.next_fire_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            if is_sqlite(conn):
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                due = due.with_for_update(skip_locked=True)
            stmt = (
                update(timers)
                .where(timers.c.id.in_(due.scalar_subquery()))
                .values(claimed_by=instance, claim_expires=now + lease)
                .returning(*timers.c)
            )
            rows = (await conn.execute(stmt)).all()
            await conn.commit()
        claimed = [timer_from_row(r) for r in rows]
        claimed.sort(key=lambda t: t.next_fire_at or now)
        return claimed

    async def release(self, claimed: Iterable[Timer], instance: str) -> None:
        """Give claims back early (e.g. publishing failed), so another round can retry at once."""
        pairs = [(t.lead_id, t.clock) for t in claimed]
        if not pairs:
            return
        async with self.engine.begin() as conn:
            for lead_id, clock in pairs:
                await conn.execute(
                    update(timers)
                    .where(timers.c.lead_id == lead_id, timers.c.clock == clock, timers.c.claimed_by == instance)
                    .values(claimed_by=None, claim_expires=None)
                )

    async def next_due(self) -> datetime | None:
        """The earliest ``next_fire_at`` of any active timer (one index probe per active state)."""
        found: list[datetime] = []
        async with self.engine.connect() as conn:
            for state in ACTIVE_STATES:
                value: datetime | None = (
                    await conn.execute(select(func.min(timers.c.next_fire_at)).where(timers.c.state == state.value))
                ).scalar()
                if value is not None:
                    found.append(value)
        return min(found) if found else None

    async def count_by_state(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(timers.c.state, func.count()).group_by(timers.c.state))
            return {r[0]: int(r[1]) for r in rows}

    # --- owners' breach streaks ----------------------------------------------------------------------

    async def streak(self, conn: AsyncConnection, owner_id: str) -> int:
        value = (
            await conn.execute(select(owner_streaks.c.consecutive_breaches).where(owner_streaks.c.owner_id == owner_id))
        ).scalar()
        return int(value or 0)

    async def streaks(self, conn: AsyncConnection, owner_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(owner_ids))
        found: dict[str, int] = dict.fromkeys(ids, 0)
        for start in range(0, len(ids), 500):
            rows = await conn.execute(
                select(owner_streaks.c.owner_id, owner_streaks.c.consecutive_breaches).where(
                    owner_streaks.c.owner_id.in_(ids[start : start + 500])
                )
            )
            found.update({r[0]: int(r[1]) for r in rows})
        return found

    async def add_to_streaks(self, conn: AsyncConnection, increments: dict[str, int], now: datetime) -> None:
        """Add breaches to owners' runs atomically (``SET n = n + excluded.n``), so two instances
        breaching the same owner's leads at once both count."""
        if not increments:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(owner_streaks)
        stmt = stmt.on_conflict_do_update(
            index_elements=["owner_id"],
            set_={
                "consecutive_breaches": owner_streaks.c.consecutive_breaches + stmt.excluded.consecutive_breaches,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        await conn.execute(
            stmt, [{"owner_id": o, "consecutive_breaches": n, "updated_at": now} for o, n in increments.items()]
        )

    async def set_streak(self, conn: AsyncConnection, owner_id: str, value: int, now: datetime) -> None:
        stmt = upsert(conn, owner_streaks, ["owner_id"], ["consecutive_breaches", "updated_at"])
        await conn.execute(stmt, {"owner_id": owner_id, "consecutive_breaches": value, "updated_at": now})
