"""Every service's database is created and upgraded by its Alembic revisions, on SQLite and PostgreSQL.

- A new database upgraded to the newest revision equals the service's SQLAlchemy metadata, so a table
  changed without a revision fails here (write one with `python -m leadflow_platform.migrations new`).
- A database made by the release before migrations (tables, rows, no alembic_version) is recognised,
  stamped at the baseline and upgraded without losing its rows.
"""

from __future__ import annotations

import pytest
from leadflow_platform.db import create_engine
from leadflow_platform.migrations import VERSION_TABLE, Migrations, load
from sqlalchemy import inspect, text

pytestmark = pytest.mark.integration

SERVICES = [
    "leadflow_intake",
    "leadflow_enrich",
    "leadflow_route",
    "leadflow_crm_sync",
    "leadflow_crm_changes",
    "leadflow_sla_monitor",
    "leadflow_ops",
    "leadflow_telesales_sim",
]


def _migrations(service: str) -> Migrations:
    return load(f"{service}.migrations")


@pytest.mark.parametrize("service", SERVICES)
async def test_new_database_at_head_matches_the_metadata(service, database_url):
    migrations = _migrations(service)
    engine = create_engine(database_url)
    try:
        await migrations.upgrade(engine)
        await migrations.upgrade(engine)  # a second start changes nothing
        async with engine.connect() as conn:
            assert await conn.run_sync(migrations.differences) == []
            head = migrations.script().get_current_head()
            assert await conn.run_sync(migrations.current) == head
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_database_of_the_previous_release_is_upgraded_keeping_its_rows(service, database_url):
    migrations = _migrations(service)
    engine = create_engine(database_url)
    try:
        # The previous release ran create_all: the baseline's tables and no version table.
        await migrations.upgrade(engine, revision=migrations.baseline)
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
            tables = await conn.run_sync(lambda c: sorted(inspect(c).get_table_names()))
            assert tables and VERSION_TABLE not in tables
            probe = "processed_events" if "processed_events" in tables else None
            if probe:
                await conn.execute(
                    text(
                        "INSERT INTO processed_events (consumer, event_id, processed_at) "
                        "VALUES ('old-release', 'e-1', CURRENT_TIMESTAMP)"
                    )
                )
        await migrations.upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(migrations.differences) == []
            assert await conn.run_sync(migrations.current) == migrations.script().get_current_head()
            if probe:
                rows = (await conn.execute(text("SELECT consumer, event_id FROM processed_events"))).all()
                assert [tuple(r) for r in rows] == [("old-release", "e-1")]
    finally:
        await engine.dispose()
