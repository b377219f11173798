"""The ``identity_claims`` table (key → root lead id), shared by every enrich replica through the database.

``resolve`` runs a batch's decision (``domain.identity.plan_identities``) against the table in one
transaction (``BEGIN IMMEDIATE`` on SQLite): read the owners of the batch's keys, decide, write the claims
conditionally (insert only if still unowned; replace only the expected owner), read again. If another
replica claimed a key in between, the decision is made again from what the table now holds, so the table
and the decision always agree and a key has exactly one root. On PostgreSQL a concurrent insert of the
same key waits for the other transaction and then does nothing; on SQLite writers are serialised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from leadflow_platform.db import is_sqlite
from sqlalchemy import Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_enrich.domain.identity import Candidate, IdentityPlan, plan_identities

metadata = MetaData()

identity_claims = Table(
    "identity_claims",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("root_lead_id", String(128), nullable=False, index=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
)

_CHUNK = 400
_MAX_ROUNDS = 5


class IdentityConflict(RuntimeError):
    """The claims kept changing under this batch (the batch is redelivered)."""


class IdentityClaims:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_tables(self) -> None:
        """Bring the database to the newest revision (leadflow_enrich/migrations: mirror and identity claims)."""
        from leadflow_enrich.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    async def owners(self, conn: AsyncConnection, keys: Iterable[str]) -> dict[str, str]:
        keys = sorted(set(keys))
        out: dict[str, str] = {}
        for start in range(0, len(keys), _CHUNK):
            part = keys[start : start + _CHUNK]
            rows = await conn.execute(
                select(identity_claims.c.key, identity_claims.c.root_lead_id).where(identity_claims.c.key.in_(part))
            )
            out.update({str(k): str(r) for k, r in rows})
        return out

    async def resolve(self, batch: Sequence[Candidate], is_live: Callable[[str], bool], now: datetime) -> IdentityPlan:
        keys = {k for c in batch if not c.resolved_by_mirror for k in c.keys}
        if not keys:
            return IdentityPlan()
        async with self.engine.connect() as conn:
            if is_sqlite(conn):  # take the write lock before reading: a deferred read could not upgrade (WAL)
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            owners = await self.owners(conn, keys)
            for _ in range(_MAX_ROUNDS):
                plan = plan_identities(batch, owners, is_live)
                if not plan.writes:
                    await conn.commit()
                    return plan
                await self._write(conn, plan, now)
                owners = await self.owners(conn, keys)
                if all(owners.get(k) == root for k, root in plan.wanted.items()):
                    await conn.commit()
                    return plan
        raise IdentityConflict(f"identity claims changed {_MAX_ROUNDS} times while deciding a batch")

    async def _write(self, conn: AsyncConnection, plan: IdentityPlan, now: datetime) -> None:
        inserts = sorted({w.key: w.root for w in plan.writes if w.expected is None}.items())  # sorted: lock order
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for start in range(0, len(inserts), _CHUNK):
            rows = [{"key": k, "root_lead_id": r, "claimed_at": now} for k, r in inserts[start : start + _CHUNK]]
            await conn.execute(dialect.insert(identity_claims).on_conflict_do_nothing(index_elements=["key"]), rows)
        for w in sorted((w for w in plan.writes if w.expected is not None), key=lambda w: w.key):
            await conn.execute(
                update(identity_claims)
                .where(identity_claims.c.key == w.key, identity_claims.c.root_lead_id == w.expected)
                .values(root_lead_id=w.root, claimed_at=now)
            )
