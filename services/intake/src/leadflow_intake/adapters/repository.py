"""Seen-event state: which submissions intake has already turned into an event.

One transaction per batch: claim the batch's keys, publish, commit. A crash or a failed publish
rolls the claims back, so the batch is re-read and nothing is lost; a crash after the publish
but before the commit re-publishes the same (deterministic) event ids — at-least-once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

from leadflow_platform.db import check_database, claim_new_events
from sqlalchemy.ext.asyncio import AsyncEngine

ACCEPTED_CONSUMER = "intake"
REJECTED_CONSUMER = "intake.rejected"


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
            fresh_accepted = await claim_new_events(conn, ACCEPTED_CONSUMER, accepted_keys, now)
            fresh_rejected = await claim_new_events(conn, REJECTED_CONSUMER, rejected_keys, now)
            yield fresh_accepted, fresh_rejected
