"""crm-sync's database: per-lead sync state, created Tasks, conversions, deferred writes, claimed events.

SQLAlchemy 2 async Core, one code path for SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from leadflow_platform.db import claim_new_events, processed_events, upsert
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_crm_sync.domain.conversion import ConvertedIds
from leadflow_crm_sync.domain.state import LeadState

CONSUMER = "crm-sync"
metadata = MetaData()

lead_sync = Table(
    "crmsync_leads",
    metadata,
    Column("lead_id", String(128), primary_key=True),
    Column("salesforce_id", String(18)),
    Column("object", String(16), nullable=False, default="Lead"),
    Column("mode", String(16), nullable=False, default="upsert"),
    Column("content_hash", String(64)),
    Column("owner_id", String(18)),
    Column("team", String(80)),
    Column("rating", String(16)),
    Column("lead_source", String(40)),
    Column("submitted_at", DateTime(timezone=True)),
    Column("matched_account_id", String(18)),
    Column("account_owner_id", String(18)),
    Column("key_account", Boolean, nullable=False, default=False),
    Column("client_type", String(40)),
    Column("company", String(255)),
    Column("email", String(254)),
    Column("campaign", String(255)),
    Column("sla_status", String(40)),
    Column("pending_sla_status", String(40)),
    Column("converted", Boolean, nullable=False, default=False),
    Column("last_event_id", String(128)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_crmsync_leads_sfid", "salesforce_id"),
)

tasks = Table(
    "crmsync_tasks",
    metadata,
    Column("task_key", String(80), primary_key=True),
    Column("lead_id", String(128), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("salesforce_id", String(18), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

conversions = Table(
    "crmsync_conversions",
    metadata,
    Column("lead_sf_id", String(18), primary_key=True),
    Column("lead_id", String(128)),
    Column("account_id", String(18)),
    Column("contact_id", String(18)),
    Column("opportunity_id", String(18)),
    Column("converted_at", DateTime(timezone=True), nullable=False),
)

deferred = Table(
    "crmsync_deferred",
    metadata,
    Column("write_key", String(200), primary_key=True),
    Column("lead_id", String(128), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

_STATE_FIELDS = [f.name for f in fields(LeadState)]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _state(row: Any) -> LeadState:
    data = {name: getattr(row, name) for name in _STATE_FIELDS}
    data["submitted_at"] = _utc(data["submitted_at"])
    data["key_account"] = bool(data["key_account"])
    data["converted"] = bool(data["converted"])
    return LeadState(**data)


@dataclass
class UnitOfWork:
    """Everything one batch changes, committed in one transaction with the event claims."""

    states: dict[str, LeadState] = field(default_factory=dict)
    tasks: list[tuple[str, str, str, str]] = field(default_factory=list)  # key, lead_id, purpose, sf id
    conversions: list[tuple[str, str | None, ConvertedIds]] = field(default_factory=list)
    _deferred: dict[str, tuple[str, str, str, dict[str, Any]]] = field(default_factory=dict)
    _undeferred: dict[str, None] = field(default_factory=dict)
    claims: list[str] = field(default_factory=list)

    @property
    def deferred(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(key, lead_id, kind, payload) to keep for later."""
        return list(self._deferred.values())

    @property
    def undeferred(self) -> list[str]:
        """Keys whose deferred write is done or superseded."""
        return list(self._undeferred)

    def defer(self, key: str, lead_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Keep a write for later (API budget); a later write of the same key in this batch replaces it."""
        self._undeferred.pop(key, None)
        self._deferred.pop(key, None)
        self._deferred[key] = (key, lead_id, kind, payload)

    def undefer(self, key: str) -> None:
        """A newer write of the same record supersedes anything deferred for it."""
        self._deferred.pop(key, None)
        self._undeferred[key] = None

    def empty(self) -> bool:
        return not (self.states or self.tasks or self.conversions or self._deferred or self._undeferred or self.claims)


class Repository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_tables(self) -> None:
        """Bring the database to the newest revision (leadflow_crm_sync/migrations)."""
        from leadflow_crm_sync.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    async def already_processed(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(event_ids))
        seen: set[str] = set()
        async with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = await conn.execute(
                    select(processed_events.c.event_id).where(
                        processed_events.c.consumer == CONSUMER, processed_events.c.event_id.in_(chunk)
                    )
                )
                seen.update(r[0] for r in rows)
        return seen

    async def load_states(self, lead_ids: Iterable[str]) -> dict[str, LeadState]:
        ids = list(dict.fromkeys(lead_ids))
        out: dict[str, LeadState] = {}
        async with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = await conn.execute(select(lead_sync).where(lead_sync.c.lead_id.in_(ids[start : start + 500])))
                for row in rows:
                    out[row.lead_id] = _state(row)
        return out

    async def state_by_salesforce_id(self, sf_id: str) -> LeadState | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(lead_sync).where(lead_sync.c.salesforce_id == sf_id).limit(1))).first()
        return _state(row) if row is not None else None

    async def task_ids(self, keys: Iterable[str]) -> dict[str, str]:
        ks = list(dict.fromkeys(keys))
        if not ks:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(tasks.c.task_key, tasks.c.salesforce_id).where(tasks.c.task_key.in_(ks)))
            return {r.task_key: r.salesforce_id for r in rows}

    async def conversion(self, lead_sf_id: str) -> ConvertedIds | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(conversions).where(conversions.c.lead_sf_id == lead_sf_id))).first()
        if row is None:
            return None
        return ConvertedIds(row.account_id, row.contact_id, row.opportunity_id)

    async def deferred_writes(self, limit: int = 1000) -> list[tuple[str, str, str, dict[str, Any]]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(deferred).order_by(deferred.c.created_at).limit(limit))
            return [(r.write_key, r.lead_id, r.kind, json.loads(r.payload)) for r in rows]

    async def count_deferred(self) -> int:
        async with self.engine.connect() as conn:
            return len((await conn.execute(select(deferred.c.write_key))).all())

    async def commit(self, unit: UnitOfWork, now: datetime) -> set[str]:
        """Apply the unit and claim its events in one transaction; returns the newly claimed event ids."""
        if unit.empty():
            return set()
        async with self.engine.begin() as conn:
            if unit.states:
                rows = []
                for st in unit.states.values():
                    row = {name: getattr(st, name) for name in _STATE_FIELDS}
                    row["updated_at"] = now
                    rows.append(row)
                cols = [c for c in _STATE_FIELDS if c != "lead_id"] + ["updated_at"]
                await conn.execute(upsert(conn, lead_sync, ["lead_id"], cols), rows)
            if unit.tasks:
                await conn.execute(
                    upsert(conn, tasks, ["task_key"], ["salesforce_id"]),
                    [
                        {"task_key": k, "lead_id": lid, "purpose": p, "salesforce_id": sid, "created_at": now}
                        for k, lid, p, sid in unit.tasks
                    ],
                )
            if unit.conversions:
                await conn.execute(
                    upsert(conn, conversions, ["lead_sf_id"], ["account_id", "contact_id", "opportunity_id"]),
                    [
                        {
                            "lead_sf_id": sf,
                            "lead_id": lid,
                            "account_id": c.account_id,
                            "contact_id": c.contact_id,
                            "opportunity_id": c.opportunity_id,
                            "converted_at": now,
                        }
                        for sf, lid, c in unit.conversions
                    ],
                )
            if unit.undeferred:
                await conn.execute(delete(deferred).where(deferred.c.write_key.in_(unit.undeferred)))
            if unit.deferred:
                await conn.execute(
                    upsert(conn, deferred, ["write_key"], ["kind", "payload"]),
                    [
                        {
                            "write_key": k,
                            "lead_id": lid,
                            "kind": kind,
                            "payload": json.dumps(payload, default=str),
                            "created_at": now,
                        }
                        for k, lid, kind, payload in unit.deferred
                    ],
                )
            return await claim_new_events(conn, CONSUMER, unit.claims, now)


__all__ = ["CONSUMER", "Repository", "UnitOfWork", "metadata"]
