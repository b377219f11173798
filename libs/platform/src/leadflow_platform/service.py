"""The HTTP face every service has: ``/healthz``, ``/readyz``, ``/metrics``, and a lifespan that
starts the Kafka broker and stops it gracefully (in-flight handlers finish, offsets are committed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from faststream.kafka import KafkaBroker

from leadflow_platform.broker import broker_ping
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import render
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

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for hook in lifecycle.on_startup:
            await hook()
        if lifecycle.broker is not None and start_broker:
            await lifecycle.broker.start()
        for job in lifecycle.background:
            tasks.append(asyncio.create_task(job()))
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
        ready = all(checks.values())
        response.status_code = 200 if ready else 503
        return {"ready": ready, "checks": checks}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render()
        return Response(body, media_type=content_type)

    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app under uvicorn; SIGTERM/SIGINT trigger a graceful shutdown through the lifespan."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
    uvicorn.Server(config).run()  # uvicorn turns SIGTERM/SIGINT into a lifespan shutdown
