"""SQLite on the event loop's thread (``create_engine(..., inline=True)``): same results as aiosqlite's worker
thread, no thread started, coroutines serialised on one connection (never a lock wait that blocks the loop),
errors and rollbacks as usual, and a readiness probe that answers while the connection is busy."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from leadflow_platform.db import InlineSqliteConnection, check_database, create_engine, insert_ignore
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.exc import IntegrityError

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)))


async def _fill(engine, names):  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        if names:
            await conn.execute(items.insert(), [{"id": i, "name": n} for i, n in enumerate(names)])
        again = insert_ignore(conn, items).values([{"id": 0, "name": "dup"}, {"id": 99, "name": "new"}])
        inserted = (await conn.execute(again.returning(items.c.id))).scalars().all()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(items.c.id, items.c.name).order_by(items.c.id))).all()
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
    return list(inserted), [tuple(r) for r in rows], mode


@pytest.mark.parametrize("names", [["anna", "björn", "Zoë"], [], ["x" * 50] * 3])
async def test_inline_gives_the_same_results_as_the_worker_thread(tmp_path: Path, names: list[str]) -> None:
    threaded = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'threaded.db'}", inline=False)
    inline = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}", inline=True)
    try:
        assert await _fill(inline, names) == await _fill(threaded, names)
        assert (await _fill(inline, []))[2] == "wal"  # the engine's pragmas still apply
    finally:
        await threaded.dispose()
        await inline.dispose()


async def test_inline_starts_no_thread_and_runs_on_the_loop(tmp_path: Path) -> None:
    before = threading.active_count()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", inline=True)
    seen: list[int] = []
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.driver_connection, InlineSqliteConnection)
            raw.driver_connection._conn.create_function("who", 0, lambda: seen.append(threading.get_ident()) or 1)
            assert (await conn.execute(text("SELECT who()"))).scalar() == 1
        assert seen == [threading.get_ident()] and threading.active_count() == before
    finally:
        await engine.dispose()


async def test_coroutines_holding_write_transactions_across_awaits_are_serialised(tmp_path: Path) -> None:
    """Two coroutines each hold a write transaction across an await (like a claim held while publishing).
    With two connections the second's lock wait would block the loop the first needs; with one pooled
    connection the second waits asynchronously for its turn, and both commit."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", inline=True)
    order: list[str] = []
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

        async def writer(i: int) -> None:
            async with engine.begin() as conn:
                order.append(f"begin {i}")
                await conn.execute(items.insert().values(id=i, name=f"w{i}"))
                await asyncio.sleep(0.05)  # the publish round trip
                order.append(f"commit {i}")

        await asyncio.wait_for(asyncio.gather(*(writer(i) for i in range(5))), timeout=10)
        async with engine.connect() as conn:
            assert (await conn.execute(select(items.c.id).order_by(items.c.id))).scalars().all() == [0, 1, 2, 3, 4]
        assert all(order[k].startswith("begin") and order[k + 1].startswith("commit") for k in range(0, 10, 2))
    finally:
        await engine.dispose()


async def test_errors_roll_back_and_the_connection_stays_usable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", inline=True)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(items.insert().values(id=1, name="kept"))
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(items.insert().values(id=2, name="rolled back"))
                await conn.execute(items.insert().values(id=1, name="clash"))
        async with engine.connect() as conn:
            assert (await conn.execute(select(items.c.name))).scalars().all() == ["kept"]
    finally:
        await engine.dispose()


async def test_readiness_probe_answers_while_the_one_connection_is_busy(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", inline=True)
    try:
        assert await check_database(engine) is True
        async with engine.begin():
            started = asyncio.get_running_loop().time()
            assert await check_database(engine, timeout=0.2) is False
            assert asyncio.get_running_loop().time() - started < 1.0
        assert await check_database(engine) is True
    finally:
        await engine.dispose()


@pytest.mark.parametrize("holder_inline", [True, False])
async def test_a_lock_held_by_another_connection_is_waited_for_without_blocking_the_loop(
    tmp_path: Path, holder_inline: bool
) -> None:
    """Two replicas' claims in one process (a rebalance test), or another process: the inline engine finds
    the database locked and waits asynchronously, so the holder (here a coroutine of the same loop, holding
    its transaction across an await) can finish. A blocking busy wait would stall the loop for 30 s."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'e.db'}"
    holder_engine, waiter_engine = create_engine(url, inline=holder_inline), create_engine(url, inline=True)
    try:
        async with holder_engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        inside, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with holder_engine.begin() as conn:
                await conn.execute(items.insert().values(id=1, name="first"))
                inside.set()
                await release.wait()

        async def waiter() -> list[int]:
            await inside.wait()
            async with waiter_engine.begin() as conn:
                stmt = insert_ignore(conn, items).values([{"id": 1, "name": "again"}, {"id": 2, "name": "second"}])
                return list((await conn.execute(stmt.returning(items.c.id))).scalars())

        held, waiting = asyncio.create_task(holder()), asyncio.create_task(waiter())
        await inside.wait()
        ticks = 0
        for _ in range(20):  # the loop keeps running while the waiter waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not waiting.done()
        release.set()
        await asyncio.wait_for(held, 10)
        assert await asyncio.wait_for(waiting, 10) == [2]  # id 1 was the holder's: the database decided
        async with waiter_engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection.busy_waits >= 1
    finally:
        await holder_engine.dispose()
        await waiter_engine.dispose()
