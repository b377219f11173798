"""The shared service start-up: background jobs are supervised (a dead job is logged, restarted with
back-off, and /readyz is red meanwhile); GC tuning freezes start-up objects."""

from __future__ import annotations

import asyncio
import gc

import pytest
from httpx import ASGITransport, AsyncClient
from leadflow_platform.service import Lifecycle, Supervised, build_http_app, tune_gc
from leadflow_platform.settings import ServiceSettings

pytestmark = pytest.mark.unit


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def error(self, event: str, **kw: object) -> None:
        self.lines.append((event, kw))

    info = error


async def test_a_dead_background_job_is_logged_and_restarted_until_it_finishes():
    runs: list[int] = []

    async def job() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"poll failed #{len(runs)}")

    sup, log = Supervised("poller", job), Log()
    await asyncio.wait_for(sup.run(log, max_backoff=0.01), timeout=5)
    assert len(runs) == 3 and sup.failures == 2 and sup.finished and sup.healthy
    died = [kw for event, kw in log.lines if event == "background_task_died"]
    assert [kw["error"] for kw in died] == ["RuntimeError: poll failed #1", "RuntimeError: poll failed #2"]


async def test_readyz_is_red_while_a_background_job_waits_to_be_restarted():
    async def broken() -> None:
        raise ConnectionError("salesforce unreachable")

    app = build_http_app(ServiceSettings(service_name="svc"), Lifecycle(background=[broken]))
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://svc") as client:
            for _ in range(100):
                response = await client.get("/readyz")
                if response.json()["checks"].get("task:broken") is False:
                    break
                await asyncio.sleep(0.01)
            assert response.status_code == 503
            assert response.json()["checks"]["task:broken"] is False and response.json()["ready"] is False


def test_tune_gc_raises_the_young_generation_threshold():
    before = gc.get_threshold()
    try:
        tune_gc(60_000)
        assert gc.get_threshold()[0] == 60_000 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.parametrize(("event_loop", "module"), [("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")])
def test_serve_runs_the_service_on_the_configured_event_loop(
    monkeypatch: pytest.MonkeyPatch, event_loop: str, module: str
) -> None:
    """uvloop is a platform dependency, so a service runs on it by default (``event_loop=auto``);
    ``<PREFIX>_EVENT_LOOP=asyncio`` gives asyncio's own loop."""
    import uvicorn
    from fastapi import FastAPI
    from leadflow_platform.service import serve

    started: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **kw: started.append(self.config))
    serve(FastAPI(), ServiceSettings(service_name="t", event_loop=event_loop))
    factory = started[0].get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.split(".")[0] == module, type(loop)
    finally:
        loop.close()
