"""Durable state, one SQLAlchemy Core code path for SQLite and PostgreSQL.

- ``crm_changes_cursors``: per object, the settled and frontier SystemModstamps (see domain.cursor).
- ``crm_changes_records``: the last version seen of every record (stamp, deleted, tracked field values).
  It de-duplicates by (id, SystemModstamp) (a version not newer than the stored one was seen), gives
  the old values to diff against, and maps Lead Ids to leadflow lead ids for Tasks' WhoIds.
- ``crm_changes_lease``: which instance polls; the others stand by until the lease expires.

Stamps are stored as fixed-width UTC ISO strings, which order the same in both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadflow_platform.db import insert_ignore, upsert
from sqlalchemy import BigInteger, Boolean, Column, MetaData, String, Table, Text, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_crm_changes.domain.changes import Snapshot

metadata = MetaData()

cursors = Table(
    "crm_changes_cursors",
    metadata,
    Column("object", String(64), primary_key=True),
    Column("settled", String(32), nullable=True),
    Column("frontier", String(32), nullable=True),
    Column("updated_at", String(32), nullable=False),
)

records = Table(
    "crm_changes_records",
    metadata,
    Column("record_id", String(18), primary_key=True),
    Column("object", String(64), nullable=False),
    Column("lead_key", String(128), nullable=True),
    Column("system_modstamp", String(32), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("fields", Text, nullable=False),
)

lease = Table(
    "crm_changes_lease",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at_ms", BigInteger, nullable=False),
)


def stamp_text(when: datetime | None) -> str | None:
    if when is None:
        return None
    w = when.astimezone(UTC)
    return w.strftime("%Y-%m-%dT%H:%M:%S.") + f"{w.microsecond:06d}Z"


def parse_stamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class LeaseLost(RuntimeError):
    """Another instance holds the lease: stop writing."""


@dataclass(frozen=True)
class SnapshotRow:
    object: str
    record_id: str
    lead_key: str | None
    snapshot: Snapshot


class Repository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_tables(self) -> None:
        """Bring the database to the newest revision (leadflow_crm_changes/migrations)."""
        from leadflow_crm_changes.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    # ---- cursors ---------------------------------------------------------------------------------
    async def load_cursors(self) -> dict[str, tuple[datetime | None, datetime | None]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(cursors.c.object, cursors.c.settled, cursors.c.frontier))).all()
        return {r[0]: (parse_stamp(r[1]), parse_stamp(r[2])) for r in rows}

    @staticmethod
    async def save_cursor(
        conn: AsyncConnection, obj: str, settled: datetime | None, frontier: datetime | None, now: datetime
    ) -> None:
        await conn.execute(
            upsert(conn, cursors, ["object"], ["settled", "frontier", "updated_at"]),
            [
                {
                    "object": obj,
                    "settled": stamp_text(settled),
                    "frontier": stamp_text(frontier),
                    "updated_at": stamp_text(now),
                }
            ],
        )

    # ---- snapshots -------------------------------------------------------------------------------
    @staticmethod
    async def load_snapshots(conn: AsyncConnection, record_ids: Iterable[str]) -> dict[str, Snapshot]:
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, Snapshot] = {}
        for i in range(0, len(ids), 500):
            rows = await conn.execute(
                select(records.c.record_id, records.c.system_modstamp, records.c.deleted, records.c.fields).where(
                    records.c.record_id.in_(ids[i : i + 500])
                )
            )
            for rid, stamp, deleted, fields in rows:
                out[rid] = Snapshot(parse_stamp(stamp), bool(deleted), json.loads(fields))  # type: ignore[arg-type]
        return out

    @staticmethod
    async def load_lead_keys(conn: AsyncConnection, lead_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(lead_ids))
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            rows = await conn.execute(
                select(records.c.record_id, records.c.lead_key).where(
                    records.c.record_id.in_(ids[i : i + 500]), records.c.object == "Lead"
                )
            )
            out.update({rid: key for rid, key in rows if key})
        return out

    @staticmethod
    async def save_snapshots(conn: AsyncConnection, rows: list[SnapshotRow]) -> None:
        if not rows:
            return
        stmt = upsert(conn, records, ["record_id"], ["object", "lead_key", "system_modstamp", "deleted", "fields"])
        payload: list[dict[str, Any]] = [
            {
                "record_id": r.record_id,
                "object": r.object,
                "lead_key": r.lead_key,
                "system_modstamp": stamp_text(r.snapshot.system_modstamp),
                "deleted": r.snapshot.deleted,
                "fields": json.dumps(r.snapshot.fields, separators=(",", ":"), default=str),
            }
            for r in rows
        ]
        for i in range(0, len(payload), 1000):
            await conn.execute(stmt, payload[i : i + 1000])

    # ---- lease -----------------------------------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the lease if it is free, expired or ours. Atomic in both databases."""
        async with self.engine.begin() as conn:
            await conn.execute(insert_ignore(conn, lease), [{"name": name, "holder": "", "expires_at_ms": 0}])
            res = await conn.execute(
                update(lease)
                .where(lease.c.name == name, (lease.c.holder == holder) | (lease.c.expires_at_ms < _ms(now)))
                .values(holder=holder, expires_at_ms=_ms(now) + int(ttl_seconds * 1000))
            )
            return bool(res.rowcount == 1)

    @staticmethod
    async def fence(conn: AsyncConnection, name: str, holder: str, now: datetime, ttl_seconds: float) -> None:
        """Inside a writing transaction: renew the lease, or raise LeaseLost (the transaction rolls back).

        Still ours though expired (a slow page) is fine: nobody took it, and taking it changes the holder."""
        res = await conn.execute(
            update(lease)
            .where(lease.c.name == name, lease.c.holder == holder)
            .values(expires_at_ms=_ms(now) + int(ttl_seconds * 1000))
        )
        if res.rowcount != 1:
            raise LeaseLost(name)

    async def release_lease(self, name: str, holder: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(lease).where(lease.c.name == name, lease.c.holder == holder).values(expires_at_ms=0)
            )

    async def lease_holder(self, name: str, now: datetime) -> str | None:
        async with self.engine.connect() as conn:
            q = select(lease.c.holder, lease.c.expires_at_ms).where(lease.c.name == name)
            row = (await conn.execute(q)).first()
        if row is None or row[1] < _ms(now) or not row[0]:
            return None
        return str(row[0])
