"""The mirror's tables (SQLAlchemy Core, one code path for SQLite and PostgreSQL) and its repository.

One table per mirrored object, typed columns named like the record fields, plus ``mirror_cursors``:
per object, the highest SystemModstamp applied and when the last full load finished. A change is
written only if it is not older than what the table holds (conditional upsert on system_modstamp), so
replays and out-of-order deliveries never move a record backwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_enrich.domain.records import (
    AccountRecord,
    ContactRecord,
    LeadRecord,
    MirrorObject,
    MirrorRecord,
    QueueRecord,
    UserRecord,
)

metadata = MetaData()

RECORD_TYPES: dict[MirrorObject, type[Any]] = {
    "Account": AccountRecord,
    "Contact": ContactRecord,
    "Lead": LeadRecord,
    "User": UserRecord,
    "Queue": QueueRecord,
}
TABLE_NAMES: dict[MirrorObject, str] = {
    "Account": "mirror_accounts",
    "Contact": "mirror_contacts",
    "Lead": "mirror_leads",
    "User": "mirror_users",
    "Queue": "mirror_queues",
}
_PY_TO_SQL: dict[Any, Any] = {
    "str | None": lambda: String(255),
    "str": lambda: String(32),
    "bool": Boolean,
    "int | None": Integer,
    "date | None": Date,
    "datetime | None": lambda: DateTime(timezone=True),
}


def _columns(record_type: type[Any]) -> list[Column[Any]]:
    cols: list[Column[Any]] = []
    for f in dataclasses.fields(record_type):
        sql_type = _PY_TO_SQL[f.type]()
        if f.name == "id":
            cols.append(Column("id", String(32), primary_key=True))
        else:
            cols.append(Column(f.name, sql_type, nullable=f.type != "bool", index=f.name == "system_modstamp"))
    return cols


TABLES: dict[MirrorObject, Table] = {
    obj: Table(TABLE_NAMES[obj], metadata, *_columns(RECORD_TYPES[obj])) for obj in RECORD_TYPES
}
FIELDS: dict[MirrorObject, tuple[str, ...]] = {
    obj: tuple(f.name for f in dataclasses.fields(RECORD_TYPES[obj])) for obj in RECORD_TYPES
}

mirror_cursors = Table(
    "mirror_cursors",
    metadata,
    Column("object", String(32), primary_key=True),
    Column("system_modstamp", DateTime(timezone=True), nullable=True),
    Column("full_load_at", DateTime(timezone=True), nullable=True),
    Column("records", Integer, nullable=False, default=0),
)


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row(obj: MirrorObject, rec: MirrorRecord) -> dict[str, Any]:
    return {name: getattr(rec, name) for name in FIELDS[obj]}


def _record(obj: MirrorObject, row: Any) -> MirrorRecord:
    values = {name: _utc(row[i]) for i, name in enumerate(FIELDS[obj])}
    if obj == "Account" and isinstance(values.get("last_activity"), datetime):
        values["last_activity"] = values["last_activity"].date()
    rec: MirrorRecord = RECORD_TYPES[obj](**values)
    return rec


def _dialect(conn: AsyncConnection) -> Any:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


@dataclasses.dataclass(frozen=True)
class Cursor:
    object: MirrorObject
    system_modstamp: datetime | None
    full_load_at: datetime | None
    records: int


class MirrorRepository:
    """Reads and writes the mirror tables. Every write method takes the caller's connection (transaction)."""

    CHUNK = 400

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_tables(self) -> None:
        """Bring the database to the newest revision (leadflow_enrich/migrations: mirror and identity claims)."""
        from leadflow_enrich.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    async def upsert(self, conn: AsyncConnection, obj: MirrorObject, records: Sequence[MirrorRecord]) -> None:
        """Insert or update; a row whose stored system_modstamp is newer than the incoming one is kept."""
        if not records:
            return
        table = TABLES[obj]
        rows = list({rec.id: _row(obj, rec) for rec in records}.values())
        for start in range(0, len(rows), self.CHUNK):
            stmt = _dialect(conn).insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=["id"],
                set_={name: stmt.excluded[name] for name in FIELDS[obj] if name != "id"},
                where=or_(
                    table.c.system_modstamp.is_(None),
                    stmt.excluded.system_modstamp.is_(None),
                    table.c.system_modstamp <= stmt.excluded.system_modstamp,
                ),
            )
            await conn.execute(stmt, rows[start : start + self.CHUNK])

    async def delete(self, conn: AsyncConnection, obj: MirrorObject, ids: Iterable[str]) -> None:
        ids = list(ids)
        table = TABLES[obj]
        for start in range(0, len(ids), self.CHUNK):
            await conn.execute(delete(table).where(table.c.id.in_(ids[start : start + self.CHUNK])))

    async def get(self, conn: AsyncConnection, obj: MirrorObject, record_id: str) -> MirrorRecord | None:
        table = TABLES[obj]
        row = (await conn.execute(select(table).where(table.c.id == record_id))).first()
        return _record(obj, row) if row is not None else None

    async def stream(self, obj: MirrorObject, batch: int = 5000) -> AsyncIterator[MirrorRecord]:
        table = TABLES[obj]
        async with self.engine.connect() as conn:
            result = await conn.stream(select(table).order_by(table.c.id))
            async for part in result.partitions(batch):
                for row in part:
                    yield _record(obj, row)

    async def count(self, obj: MirrorObject) -> int:
        table = TABLES[obj]
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

    async def max_modstamp(self, conn: AsyncConnection, obj: MirrorObject) -> datetime | None:
        table = TABLES[obj]
        value: datetime | None = _utc((await conn.execute(select(func.max(table.c.system_modstamp)))).scalar_one())
        return value

    async def cursor(self, obj: MirrorObject) -> Cursor:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(mirror_cursors).where(mirror_cursors.c.object == obj))).first()
        if row is None:
            return Cursor(obj, None, None, 0)
        return Cursor(obj, _utc(row.system_modstamp), _utc(row.full_load_at), int(row.records or 0))

    async def save_cursor(
        self,
        conn: AsyncConnection,
        obj: MirrorObject,
        system_modstamp: datetime | None,
        *,
        full_load_at: datetime | None = None,
        records: int | None = None,
    ) -> None:
        """Move the cursor forward (never back); record a finished full load when ``full_load_at`` is given."""
        current = (await conn.execute(select(mirror_cursors).where(mirror_cursors.c.object == obj))).first()
        if current is None:
            await conn.execute(
                mirror_cursors.insert().values(
                    object=obj, system_modstamp=system_modstamp, full_load_at=full_load_at, records=records or 0
                )
            )
            return
        values: dict[str, Any] = {}
        stored = _utc(current.system_modstamp)
        if system_modstamp is not None and (stored is None or system_modstamp > stored):
            values["system_modstamp"] = system_modstamp
        if full_load_at is not None:
            values["full_load_at"] = full_load_at
        if records is not None:
            values["records"] = records
        if values:
            await conn.execute(mirror_cursors.update().where(mirror_cursors.c.object == obj).values(**values))
