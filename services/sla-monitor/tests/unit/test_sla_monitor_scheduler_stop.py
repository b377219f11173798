"""Stopping the scheduler while it works out its idle wait leaves no coroutine behind (no RuntimeWarning at Ctrl-C)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from leadflow_sla_monitor.scheduler import Scheduler

pytestmark = pytest.mark.unit


class _SlowStore:
    """Nothing is due, and the next deadline takes as long as the test wants to answer."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.never = asyncio.Event()

    async def claim_due(self, *args: Any) -> list[Any]:
        return []

    async def next_due(self) -> datetime | None:
        self.asked.set()
        await self.never.wait()
        return None


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_cancelled_while_computing_the_idle_wait_leaves_no_unawaited_coroutine() -> None:
    store = _SlowStore()
    scheduler = Scheduler(SimpleNamespace(store=store), _Clock(), instance_id="t")  # type: ignore[arg-type]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = asyncio.create_task(scheduler.run())
        await asyncio.wait_for(store.asked.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        del task
        gc.collect()
    never_awaited = [w for w in caught if "never awaited" in str(w.message)]
    assert never_awaited == []
    assert scheduler.rounds == 1
