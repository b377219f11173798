from datetime import UTC, datetime

import pytest
from leadflow_platform.db import claim_new_events, create_engine, idempotency_metadata

pytestmark = pytest.mark.integration


async def test_claim_new_events_is_idempotent_on_both_databases(database_url):
    engine = create_engine(database_url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(idempotency_metadata.create_all)
        async with engine.begin() as conn:
            assert await claim_new_events(conn, "c", ["a", "b", "a"], now) == {"a", "b"}
        async with engine.begin() as conn:
            assert await claim_new_events(conn, "c", ["b", "c"], now) == {"c"}
            assert await claim_new_events(conn, "other", ["b"], now) == {"b"}
        # a rolled back claim is forgotten
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                assert await claim_new_events(conn, "c", ["d"], now) == {"d"}
                raise RuntimeError("crash before commit")
        async with engine.begin() as conn:
            assert await claim_new_events(conn, "c", ["d"], now) == {"d"}
            assert await claim_new_events(conn, "c", [], now) == set()
        # more rows than one multi-row INSERT page (the driver's parameter limit, insertmanyvalues' 1,000),
        # every other one claimed before: exactly the new ones come back
        async with engine.begin() as conn:
            assert len(await claim_new_events(conn, "big", [f"x{i}" for i in range(0, 2_500, 2)], now)) == 1_250
        async with engine.begin() as conn:
            fresh = await claim_new_events(conn, "big", [f"x{i}" for i in range(2_500)], now)
        assert fresh == {f"x{i}" for i in range(1, 2_500, 2)}
    finally:
        await engine.dispose()


async def test_two_concurrent_claims_of_one_event_have_exactly_one_winner(database_url):
    import asyncio

    engine = create_engine(database_url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(idempotency_metadata.create_all)

        async def claim(ids):
            async with engine.begin() as conn:
                return await claim_new_events(conn, "c", ids, now)

        results = await asyncio.gather(*[claim([f"e{i}" for i in range(50)]) for _ in range(4)])
        won = [r for r in results if r]
        assert sum(len(r) for r in results) == 50, "every id claimed exactly once across the racers"
        assert set().union(*won) == {f"e{i}" for i in range(50)}
    finally:
        await engine.dispose()
