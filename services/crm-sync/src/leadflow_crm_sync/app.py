"""Composition root: ``create_app(settings, *, clock=None, broker=None, gateway=None, policy=None)``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import Clock, SystemClock
from leadflow_platform.consumer import ConsumerRuntime
from leadflow_platform.db import check_database, create_engine
from leadflow_platform.logging import get_logger
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics

from leadflow_crm_sync.adapters.gateway import SalesforceGateway
from leadflow_crm_sync.adapters.repository import Repository
from leadflow_crm_sync.adapters.shadow_gateway import ShadowGateway
from leadflow_crm_sync.adapters.simple_salesforce_gateway import SimpleSalesforceGateway
from leadflow_crm_sync.directory import TeamDirectory
from leadflow_crm_sync.domain.backoff import Backoff
from leadflow_crm_sync.domain.policy import SyncPolicy, load_custom_answers_file, load_policy
from leadflow_crm_sync.handlers import SharedExclusiveLock, publisher, register
from leadflow_crm_sync.service import SERVICE, SyncService
from leadflow_crm_sync.settings import CrmSyncSettings
from leadflow_crm_sync.writer import BatchWriter, WriterConfig

log = get_logger(__name__)


def writer_config(settings: CrmSyncSettings, policy: SyncPolicy | None = None) -> WriterConfig:
    lead = policy.lead if policy is not None else None
    return WriterConfig(
        placeholders={("Lead", "LastName"): lead.missing_last_name, ("Lead", "Company"): lead.missing_company}
        if lead is not None
        else {},
        flush_size=settings.flush_size,
        linger_seconds=settings.linger_ms / 1000,
        backoff=Backoff(base=settings.retry_base_seconds, cap=settings.retry_cap_seconds),
        rate_limit_backoff=Backoff(
            base=settings.rate_limit_base_seconds, cap=settings.rate_limit_cap_seconds, jitter=0.2
        ),
        hold_seconds=settings.hold_seconds,
        max_record_retries=settings.max_record_retries,
        bulk_min_records=settings.bulk_min_records,
    )


def _drain_loop(
    settings: CrmSyncSettings, service: SyncService, lock: SharedExclusiveLock
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def drain_loop() -> None:
        while True:
            await asyncio.sleep(settings.deferred_interval_seconds)
            try:
                async with lock.exclusive():
                    await service.drain_deferred()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deferred_drain_failed")

    return drain_loop


def _routes(
    settings: CrmSyncSettings, service: SyncService, consumers: list[ConsumerRuntime], shadow: ShadowGateway | None
) -> APIRouter:
    router = APIRouter()
    writer, repo = service.writer, service.repo

    @router.get("/status")
    async def status() -> dict[str, Any]:
        usage = service.gateway.usage()
        return {
            "paused_for_seconds": round(writer.paused_for(), 3),
            "pause_reason": writer.pause_reason,
            "consumer_paused": any(c.paused_for() > 0 for c in consumers),
            "consumers": [c.status() for c in consumers],
            "writer": writer.stats.__dict__,
            "api_usage": {"used": usage.used, "total": usage.total, "remaining": usage.remaining} if usage else None,
            "deferred_writes": await repo.count_deferred(),
            "policy_version": service.policy.version,
            "shadow_mode": settings.shadow_mode,
        }

    @router.get("/shadow")
    async def shadow_log(limit: int = 100) -> dict[str, Any]:
        """Shadow mode: the writes decided and not sent (newest first; field names, no values)."""
        if shadow is None:
            return {"shadow": False, "writes_not_sent": {}, "recent": []}
        return shadow.status(max(1, min(limit, 1000)))

    return router


def create_app(
    settings: CrmSyncSettings,
    *,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    gateway: SalesforceGateway | None = None,
    policy: SyncPolicy | None = None,
) -> FastAPI:
    clock = clock or SystemClock()
    policy = policy or load_policy(settings.policy_file)
    if settings.custom_answers_file is not None and policy.custom_answers is None:
        policy = policy.with_custom_answers(load_custom_answers_file(settings.custom_answers_file))
    broker = broker or make_broker(settings)
    gateway = gateway or SimpleSalesforceGateway(
        settings.salesforce, service=SERVICE, concurrency=settings.salesforce_concurrency
    )
    shadow = ShadowGateway(gateway, clock) if settings.shadow_mode else None
    if shadow is not None:
        gateway = shadow
        log.warning("shadow_mode", detail="decisions are recorded and published; nothing is written to Salesforce")
    engine = create_engine(settings.database_url, inline=settings.sqlite_inline)
    repo = Repository(engine)
    writer = BatchWriter(gateway, writer_config(settings, policy))

    directory = TeamDirectory(
        fetch=lambda soql: writer.call(lambda: gateway.query(soql)),
        clock=clock,
        ttl=timedelta(seconds=settings.directory_ttl_seconds),
    )
    service = SyncService(
        repo=repo,
        writer=writer,
        gateway=gateway,
        policy=policy,
        clock=clock,
        publish=publisher(broker, settings),
        directory=directory,
        budget_probe_seconds=settings.budget_probe_seconds,
        shadow=settings.shadow_mode,
        bulk_threshold=settings.bulk_threshold,
    )
    lock = SharedExclusiveLock()
    consumers = register(broker, settings, service, lock, clock=clock)

    async def create_topics() -> None:
        specs = {settings.topic(name): spec for name, spec in load_topics().items()}
        await ensure_topics(settings.kafka_bootstrap, specs)

    async def shutdown() -> None:
        with contextlib.suppress(Exception):
            await writer.drain()
        await gateway.close()
        await engine.dispose()

    lifecycle = Lifecycle(
        broker=broker,
        on_startup=[create_topics, repo.create_tables],
        on_shutdown=[shutdown],
        ready_checks={"database": lambda: check_database(engine)},
        background=[_drain_loop(settings, service, lock)],
    )
    router = _routes(settings, service, consumers, shadow)
    app = build_http_app(settings, lifecycle, routers=[router])
    app.state.broker = broker
    app.state.service = service
    app.state.writer = writer
    app.state.gateway = gateway
    app.state.shadow = shadow
    app.state.repo = repo
    app.state.consumers = consumers
    app.state.policy = policy
    app.state.engine = engine
    return app
