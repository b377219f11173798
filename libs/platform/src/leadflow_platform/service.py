"""The HTTP face every service has: ``/healthz``, ``/readyz``, ``/metrics``, and a lifespan that
starts the Kafka broker and stops it gracefully (in-flight handlers finish, offsets are committed).

``/readyz`` shows every consumer runtime registered on the lifecycle's broker (``consumers_of``) under
``status`` by its name, and is red while one of them has no fetch task left; no service wires this itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from faststream.kafka import KafkaBroker

from leadflow_platform.broker import broker_ping, start_broker_joining_together
from leadflow_platform.consumer import consumers_of
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import BACKGROUND_RESTARTS, render
from leadflow_platform.settings import ServiceSettings

ReadyCheck = Callable[[], Awaitable[bool]]
Hook = Callable[[], Awaitable[None]]


@dataclass
class Lifecycle:
    """What a service starts and stops, in order. Startup hooks run before the broker consumes;
    shutdown hooks run after the broker has stopped (so in-flight work has finished)."""

    broker: KafkaBroker | None = None
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    ready_checks: dict[str, ReadyCheck] = field(default_factory=dict)
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    status: dict[str, Callable[[], Any]] = field(default_factory=dict)
    """Shown in ``/readyz`` under ``status`` without deciding readiness. The broker's consumer runtimes are
    shown there without being listed here (``ConsumerRuntime.status``: a wait for a Salesforce limit or a
    back-off does not turn the service red, a restart would not help)."""


def tune_gc(gen0_threshold: int = 50_000) -> None:
    """Services allocate many short-lived pydantic objects per lead; with the default thresholds the cyclic
    GC rescans the long-lived start-up objects (config, calendars, holiday tables, SQLAlchemy metadata,
    in-memory indexes) again and again. Freeze what start-up built and collect the young generation less
    often: route measured ~2x leads/s. Called once per process by ``serve`` after the lifespan started."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, max(gen1, 50), max(gen2, 100))


@dataclass
class Supervised:
    """A background job run by the service: restarted with capped back-off when it dies."""

    name: str
    job: Callable[[], Coroutine[Any, Any, None]]
    failures: int = 0
    healthy: bool = True
    last_error: str | None = None
    finished: bool = False

    async def run(self, log: Any, max_backoff: float = 30.0) -> None:
        while True:
            try:
                await self.job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.healthy = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = min(max_backoff, 0.5 * 2 ** min(self.failures - 1, 10))
                BACKGROUND_RESTARTS.labels(log_service(), self.name).inc()
                log.error(
                    "background_task_died",
                    task=self.name,
                    error=self.last_error,
                    restart_in=delay,
                    restarts=self.failures,
                    exc_info=exc,
                )
                await asyncio.sleep(delay)
                self.healthy = True
                log.info("background_task_restarted", task=self.name, restarts=self.failures)
                continue
            self.finished = True
            log.info("background_task_finished", task=self.name)
            return


def log_service() -> str:
    import structlog

    return str(structlog.contextvars.get_contextvars().get("service", "leadflow"))


def _job_name(job: Callable[..., Any], index: int) -> str:
    name = getattr(job, "__name__", "") or ""
    if not name or name == "<lambda>":
        owner = getattr(getattr(job, "__self__", None), "__class__", None)
        name = owner.__name__ if owner is not None else f"task{index}"
    return name


def build_http_app(
    settings: ServiceSettings,
    lifecycle: Lifecycle,
    *,
    title: str | None = None,
    start_broker: bool = True,
    routers: Sequence[Any] = (),
) -> FastAPI:
    log = get_logger(__name__)
    tasks: list[asyncio.Task[None]] = []
    supervised: list[Supervised] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for hook in lifecycle.on_startup:
            await hook()
        if lifecycle.broker is not None and start_broker:
            await start_broker_joining_together(lifecycle.broker)
        supervised[:] = [Supervised(_job_name(job, i), job) for i, job in enumerate(lifecycle.background)]
        for sup in supervised:
            tasks.append(asyncio.create_task(sup.run(log), name=f"{settings.service_name}:{sup.name}"))
        if getattr(_app.state, "tune_gc", False) and settings.gc_freeze:
            tune_gc(settings.gc_gen0_threshold)
        log.info("service_started", http_port=settings.http_port, kafka=settings.kafka_bootstrap)
        try:
            yield
        finally:
            log.info("service_stopping")
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if lifecycle.broker is not None and start_broker:
                await lifecycle.broker.stop()
            for hook in lifecycle.on_shutdown:
                await hook()
            log.info("service_stopped")

    app = FastAPI(title=title or f"leadflow {settings.service_name}", lifespan=lifespan)
    app.state.settings = settings
    app.state.lifecycle = lifecycle
    app.state.background = supervised
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(response: Response) -> dict[str, Any]:
        checks: dict[str, bool] = {}
        if lifecycle.broker is not None and start_broker:
            checks["broker"] = await broker_ping(lifecycle.broker)
        for name, check in lifecycle.ready_checks.items():
            try:
                checks[name] = bool(await check())
            except Exception:
                checks[name] = False
        for sup in supervised:  # a background job waiting to be restarted turns /readyz red
            checks[f"task:{sup.name}"] = sup.healthy
        status: dict[str, Any] = {}
        for runtime in consumers_of(lifecycle.broker):  # a consumer whose fetch task is gone turns it red
            checks[f"consumer:{runtime.name}"] = runtime.fetching() is not False
            status[runtime.name] = runtime.status()
        status.update({name: show() for name, show in lifecycle.status.items()})
        ready = all(checks.values())
        response.status_code = 200 if ready else 503
        body: dict[str, Any] = {"ready": ready, "checks": checks}
        if status:
            body["status"] = status
        return body

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render()
        return Response(body, media_type=content_type)

    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app under uvicorn; SIGTERM/SIGINT trigger a graceful shutdown through the lifespan.
    Once started, the process's start-up objects are frozen for the GC (``tune_gc``)."""
    app.state.tune_gc = True
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
        loop=settings.event_loop,
    )
    uvicorn.Server(config).run()  # uvicorn turns SIGTERM/SIGINT into a lifespan shutdown
