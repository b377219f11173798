"""Composition root: builds the broker, database, consumers, lag monitor and web app."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from faststream.kafka import KafkaBroker
from leadflow_contracts import topics as T
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import Clock, clock_for
from leadflow_platform.db import check_database, create_engine
from leadflow_platform.logging import get_logger
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadflow_ops import handlers, metrics, service
from leadflow_ops.adapters.kafka_lag import KafkaOffsetSource, OffsetSource, PipelineMonitor
from leadflow_ops.adapters.org_probe import BudgetProbe
from leadflow_ops.adapters.repository import OpsRepository
from leadflow_ops.auth import Directory, SessionCodec, load_users
from leadflow_ops.domain.timebase import to_pipeline_time
from leadflow_ops.settings import OpsSettings
from leadflow_ops.views import NowFeed
from leadflow_ops.web import routes
from leadflow_ops.web.security import ForbiddenError, NotAuthenticatedError, SecurityHeaders

log = get_logger(__name__)


def create_app(
    settings: OpsSettings,
    *,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    offsets: OffsetSource | None = None,
    lag_monitor: bool = True,
    create_topics: bool = True,
) -> FastAPI:
    clock = clock or clock_for(settings.demo_clock)  # "due in", breached: on the demo clock when it is on
    broker = broker if broker is not None else make_broker(settings)
    engine = create_engine(settings.database_url, inline=settings.sqlite_inline)
    repo = OpsRepository(engine, to_pipeline_time(clock))  # wall-clock stamps onto the SLA clocks' time
    feed = NowFeed(repo)

    consumer = service.OpsConsumer(repo, settings.topic_prefix)
    runtime = handlers.register(broker, settings, consumer, clock)

    monitor: PipelineMonitor | None = None
    if lag_monitor:
        monitor = PipelineMonitor(
            offsets or KafkaOffsetSource(settings.kafka_bootstrap),
            [settings.topic(name) for name in T.ALL_TOPICS],
            prefix=settings.topic_prefix,
            group_prefix=settings.lag_group_prefix,
        )

    budget = BudgetProbe(settings.crm_sync_metrics_url or None)
    users = load_users(settings.users_file) if settings.users_file else None
    directory = Directory(users)
    if not len(directory):
        log.warning("no_users_configured", hint="set OPS_USERS_FILE; nobody can log in")
    secret = settings.session_secret.get_secret_value() if settings.session_secret else secrets.token_urlsafe(32)
    if settings.session_secret is None:
        log.warning("session_secret_generated", hint="set OPS_SESSION_SECRET so sessions survive restarts")

    async def ensure_contract_topics() -> None:
        try:
            specs = load_topics()
        except FileNotFoundError:  # an installed image without deploy/topics.yaml: topics are managed elsewhere
            log.warning("topics_file_missing", hint="create the contract topics with your Kafka tooling")
            return
        if settings.topic_prefix:
            specs = {settings.topic(k): v for k, v in specs.items()}
        await ensure_topics(settings.kafka_bootstrap, specs)

    async def close_offsets() -> None:
        if monitor is not None:
            await monitor.source.close()

    async def gauges_job() -> None:
        import asyncio

        last_prune = 0.0
        while True:
            if asyncio.get_running_loop().time() - last_prune > 3600:
                last_prune = asyncio.get_running_loop().time()
                try:
                    pruned = await repo.prune(clock.now())
                    log.info("hourly_rows_pruned", rows=pruned)
                except Exception as exc:
                    log.warning("prune_failed", error=type(exc).__name__)
            with contextlib.suppress(Exception):
                await budget.sample()
            try:
                snap = await feed.get(clock.now())
                for team in snap["teams"]:
                    metrics.OPEN_LEADS.labels(team=team["team"]).set(team["open"])
                    metrics.BREACHED_OPEN.labels(team=team["team"]).set(team["breached"])
                    metrics.UNASSIGNED.labels(team=team["team"]).set(team["queued"])
            except Exception as exc:
                log.warning("gauge_refresh_failed", error=type(exc).__name__)
            await asyncio.sleep(5)

    background: list[Callable[[], Coroutine[Any, Any, None]]] = [gauges_job]
    if monitor is not None:
        mon = monitor
        background.append(lambda: mon.run(settings.lag_interval_seconds))

    lifecycle = Lifecycle(
        broker=broker,
        on_startup=[ensure_contract_topics, repo.create_schema] if create_topics else [repo.create_schema],
        on_shutdown=[close_offsets, engine.dispose],
        ready_checks={"database": lambda: check_database(engine)},
        background=background,
    )
    app = build_http_app(settings, lifecycle, title="leadflow ops console", routers=[routes.router])
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(Path(routes.HERE) / "static")), name="static")

    async def republish(body: bytes, topic: str, key: bytes, headers: dict[str, str]) -> None:
        await broker.publish(body, topic=topic, key=key, headers=headers)

    app.state.clock = clock
    app.state.repo = repo
    app.state.runtime = runtime
    app.state.engine = engine
    app.state.feed = feed
    app.state.broker = broker
    app.state.consumer = consumer
    app.state.monitor = monitor
    app.state.budget = budget
    app.state.directory = directory
    app.state.sessions = SessionCodec(secret, settings.session_max_age_seconds)
    app.state.republish = republish

    @app.exception_handler(NotAuthenticatedError)
    async def _not_authenticated(request: Request, _exc: NotAuthenticatedError) -> Response:
        if request.url.path.startswith(("/api/", "/events/")):
            return JSONResponse({"error": "login required"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> Response:
        if request.url.path.startswith(("/api/", "/events/")):
            return JSONResponse({"error": exc.message}, status_code=403)
        return routes.render_error(request, 403, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/events/")):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        if request.url.path.startswith("/static/"):
            return PlainTextResponse(str(exc.detail), status_code=exc.status_code)
        return routes.render_error(request, exc.status_code, str(exc.detail))

    return app
