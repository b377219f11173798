"""``running_apps``: service lifespans started side by side, stopped in reverse order, a failed start undone."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from leadflow_platform.testing.fixtures import running_apps


def fake_app(
    name: str, log: list[str], start_seconds: float = 0.0, fail: bool = False, fail_on_stop: bool = False
) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        log.append(f"start {name}")
        await asyncio.sleep(start_seconds)
        if fail:
            raise RuntimeError(f"{name} cannot start")
        task = asyncio.current_task()
        log.append(f"up {name}")
        try:
            yield
        finally:
            assert asyncio.current_task() is task, "a lifespan is left in the task that entered it"
            log.append(f"stop {name}")
            if fail_on_stop:
                raise RuntimeError(f"{name} failed to stop")

    return SimpleNamespace(router=SimpleNamespace(lifespan_context=lifespan))


async def test_lifespans_start_side_by_side_and_stop_in_reverse_order() -> None:
    log: list[str] = []
    apps = [fake_app(n, log, start_seconds=0.3) for n in ("a", "b", "c")]
    began = time.perf_counter()
    async with running_apps(apps):
        took = time.perf_counter() - began
        assert log[:3] == ["start a", "start b", "start c"]
        assert sorted(log[3:]) == ["up a", "up b", "up c"]
    assert took < 0.6, f"three 0.3 s start-ups one after the other would take 0.9 s; took {took:.2f} s"
    assert log[6:] == ["stop c", "stop b", "stop a"]


async def test_a_failed_start_stops_the_apps_already_up_and_raises() -> None:
    log: list[str] = []
    apps = [fake_app("a", log), fake_app("b", log, start_seconds=0.05, fail=True), fake_app("c", log, 0.1)]
    with pytest.raises(RuntimeError, match="b cannot start"):
        async with running_apps(apps):
            pytest.fail("the body must not run when a start-up failed")
    assert "up b" not in log
    assert {"stop a", "stop c"} <= set(log)
    assert log.index("stop c") < log.index("stop a")


async def test_an_app_that_fails_to_stop_does_not_keep_the_others_running() -> None:
    log: list[str] = []
    apps = [fake_app("a", log), fake_app("b", log, fail_on_stop=True), fake_app("c", log)]
    with pytest.raises(RuntimeError, match="b failed to stop"):
        async with running_apps(apps):
            pass
    assert log[-3:] == ["stop c", "stop b", "stop a"]
