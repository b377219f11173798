"""Plans survive a restart: one row per lead (owner, plan, when seen, actions done, state)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from leadflow_platform.db import upsert
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_telesales_sim.domain.model import Plan

metadata = MetaData()
plans = Table(
    "tsim_plans",
    metadata,
    Column("lead_id", String(18), primary_key=True),
    Column("owner_id", String(18), nullable=False),
    Column("seen_at", String(40), nullable=False),
    Column("plan", Text, nullable=False),
    Column("done", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # active | finished | cancelled
)


@dataclass
class StoredPlan:
    plan: Plan
    seen_at: datetime
    done: int
    state: str


class PlanStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_tables(self) -> None:
        """Bring the database to the newest revision (leadflow_telesales_sim/migrations)."""
        from leadflow_telesales_sim.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    async def load(self) -> dict[str, StoredPlan]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(plans))).all()
        return {
            r.lead_id: StoredPlan(
                Plan.from_json(json.loads(r.plan)), datetime.fromisoformat(r.seen_at), r.done, r.state
            )
            for r in rows
        }

    async def save(self, sp: StoredPlan) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                upsert(conn, plans, ["lead_id"], ["owner_id", "seen_at", "plan", "done", "state"]),
                [
                    {
                        "lead_id": sp.plan.lead_id,
                        "owner_id": sp.plan.owner_id,
                        "seen_at": sp.seen_at.isoformat(),
                        "plan": json.dumps(sp.plan.to_json()),
                        "done": sp.done,
                        "state": sp.state,
                    }
                ],
            )

    async def progress(self, lead_id: str, done: int, state: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(plans).where(plans.c.lead_id == lead_id).values(done=done, state=state))
