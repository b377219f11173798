from __future__ import annotations

import pytest
from leadflow_crm_sync.adapters.repository import UnitOfWork

pytestmark = pytest.mark.unit


def test_a_later_write_of_the_same_record_supersedes_a_deferred_one() -> None:
    u = UnitOfWork()
    u.defer("sla|l1", "l1", "sla_status", {"sla_status": "Warning"})
    u.undefer("sla|l1")
    assert u.deferred == [] and u.undeferred == ["sla|l1"]


def test_a_deferral_after_a_write_in_the_same_batch_is_kept() -> None:
    u = UnitOfWork()
    u.undefer("Lead|upsert|l1")
    u.defer("Lead|upsert|l1", "l1", "lead_update", {"content_hash": "b"})
    u.defer("Lead|upsert|l1", "l1", "lead_update", {"content_hash": "c"})
    assert u.undeferred == [] and [d[3]["content_hash"] for d in u.deferred] == ["c"]


async def test_the_drain_waits_for_running_batches_and_batches_wait_for_the_drain() -> None:
    import asyncio

    from leadflow_crm_sync.handlers import SharedExclusiveLock

    lock = SharedExclusiveLock()
    order: list[str] = []
    release = asyncio.Event()

    async def batch(name: str) -> None:
        async with lock.shared():
            order.append(f"{name} in")
            await release.wait()
            order.append(f"{name} out")

    async def drain() -> None:
        async with lock.exclusive():
            order.append("drain")

    a = asyncio.create_task(batch("a"))
    b = asyncio.create_task(batch("b"))
    await asyncio.sleep(0)
    d = asyncio.create_task(drain())
    await asyncio.sleep(0.01)
    assert order == ["a in", "b in"], "two batches run side by side; the drain waits"
    release.set()
    await asyncio.gather(a, b, d)
    assert order[-1] == "drain"
