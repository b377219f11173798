"""Seen-event state: which submissions intake has already turned into an event.

One transaction per batch: claim the batch's keys, publish, commit. A crash or a failed publish
rolls the claims back, so the batch is re-read and nothing is lost; a crash after the publish
but before the commit re-publishes the same (deterministic) event ids — at-least-once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

from leadflow_platform.db import check_database, insert_ignore, processed_events
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

ACCEPTED_CONSUMER = "intake"
REJECTED_CONSUMER = "intake.rejected"
_CHUNK = 500


async def claim_atomically(conn: AsyncConnection, consumer: str, keys: Iterable[str], now: datetime) -> set[str]:
    """Insert the keys with ``ON CONFLICT DO NOTHING RETURNING``: exactly the rows this transaction
    inserted come back. Unlike select-then-insert, two concurrent transactions (two replicas during a
    rebalance) can never both see a key as new: the second insert waits for the first to commit and
    then inserts nothing."""
    ids = list(dict.fromkeys(keys))
    fresh: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        rows = [{"consumer": consumer, "event_id": i, "processed_at": now} for i in ids[start : start + _CHUNK]]
        stmt = insert_ignore(conn, processed_events).values(rows).returning(processed_events.c.event_id)
        fresh.update(r[0] for r in await conn.execute(stmt))
    return fresh


class SeenEventsRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_tables(self) -> None:
        """Bring the database to the newest revision (leadflow_intake/migrations)."""
        from leadflow_intake.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    async def ping(self) -> bool:
        return await check_database(self.engine)

    @asynccontextmanager
    async def claim(
        self, accepted_keys: Iterable[str], rejected_keys: Iterable[str], now: datetime
    ) -> AsyncIterator[tuple[set[str], set[str]]]:
        """Yield the keys not seen before; the claim commits only if the block finishes."""
        async with self.engine.begin() as conn:
            fresh_accepted = await claim_atomically(conn, ACCEPTED_CONSUMER, accepted_keys, now)
            fresh_rejected = await claim_atomically(conn, REJECTED_CONSUMER, rejected_keys, now)
            yield fresh_accepted, fresh_rejected
