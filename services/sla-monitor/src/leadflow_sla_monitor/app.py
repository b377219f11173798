"""Composition root: the only place that builds clients (broker, database engine) and wires them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from leadflow_businesstime import CalendarsFile, ConfigError, SlaPolicySet, load_calendar_file, load_sla_policies
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import Clock, clock_for, describe_clock
from leadflow_platform.db import check_database, create_engine
from leadflow_platform.logging import get_logger
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_sla_monitor.adapters.publisher import EventPublisher, KafkaEventPublisher
from leadflow_sla_monitor.adapters.store import TimerStore
from leadflow_sla_monitor.domain.signals import SignalRules
from leadflow_sla_monitor.handlers import register
from leadflow_sla_monitor.scheduler import Scheduler
from leadflow_sla_monitor.service import Calendars, SlaMonitor, Topics
from leadflow_sla_monitor.settings import SlaSettings, find_file

log = get_logger("leadflow_sla_monitor.app")


@dataclass
class SlaComponents:
    """What ``create_app`` built, kept on ``app.state.sla`` for tests and tooling."""

    settings: SlaSettings
    broker: KafkaBroker
    engine: AsyncEngine
    store: TimerStore
    monitor: SlaMonitor
    scheduler: Scheduler


def load_config(settings: SlaSettings) -> tuple[CalendarsFile, SlaPolicySet]:
    calendars = load_calendar_file(find_file(settings.calendars_file))
    policies = load_sla_policies(find_file(settings.policies_file), calendars.calendars)
    return calendars, policies


def create_app(
    settings: SlaSettings,
    *,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    publisher: EventPublisher | None = None,
    calendars: CalendarsFile | None = None,
    policies: SlaPolicySet | None = None,
    create_topics: bool = True,
) -> FastAPI:
    """Build the sla-monitor app. Nothing connects here: the lifespan starts the broker, database and scheduler."""
    clock = clock or clock_for(settings.demo_clock)  # the wall clock unless the demo clock is on
    broker = broker or make_broker(settings)
    if calendars is None or policies is None:
        loaded_calendars, loaded_policies = load_config(settings)
        calendars = calendars or loaded_calendars
        policies = policies or loaded_policies
    problems = policies.check_calendars(calendars.calendars)
    if problems:
        raise ConfigError(str(settings.policies_file), problems)
    engine = create_engine(settings.database_url, inline=settings.sqlite_inline)
    store = TimerStore(engine)
    monitor = SlaMonitor(
        store,
        publisher or KafkaEventPublisher(broker),
        policies,
        Calendars(calendars),
        clock,
        rules=SignalRules.build(
            settings.untouched_statuses,
            settings.qualified_statuses,
            settings.touch_task_types,
            settings.follow_up_subjects,
        ),
        topics_=Topics.with_prefix(settings.topic_prefix),
    )
    # The lease owner: unique per process even when replicas share an image (hostname, pid, random).
    instance = settings.instance_id or f"sla-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    scheduler = Scheduler(
        monitor,
        clock,
        instance_id=instance,
        batch_size=settings.scheduler_batch_size,
        lease=timedelta(seconds=settings.scheduler_lease_seconds),
        poll_seconds=settings.scheduler_poll_seconds,
    )
    register(broker, settings, monitor, clock, on_done=scheduler.wake)

    async def make_topics() -> None:
        if create_topics:
            specs = {settings.topic(name): spec for name, spec in load_topics().items()}
            await ensure_topics(settings.kafka_bootstrap, specs)

    async def announce() -> None:
        log.info(
            "sla_configured",
            policies_version=policies.version,
            policies=len(policies.policies),
            calendars=len(calendars.calendars),
            instance=instance,
        )

    async def gauges() -> None:
        while True:
            with contextlib.suppress(Exception):
                await scheduler.refresh_gauges()
            await asyncio.sleep(30)

    background = [scheduler.run, gauges] if settings.scheduler_enabled else [gauges]

    async def database_ready() -> bool:
        return await check_database(engine)

    lifecycle = Lifecycle(
        broker=broker,
        on_startup=[announce, store.create_tables, make_topics],
        on_shutdown=[engine.dispose],
        ready_checks={"database": database_ready},
        background=background,
    )
    router = APIRouter()

    @router.get("/v1/timers/summary")
    async def summary() -> dict[str, Any]:
        return {
            "timers": await store.count_by_state(),
            "next_due": await store.next_due(),
            "instance": instance,
            "clock": describe_clock(clock),
        }

    @router.get("/v1/timers/{lead_id}")
    async def lead_timers(lead_id: str) -> dict[str, Any]:
        async with engine.connect() as conn:
            found = await store.get_timers(conn, lead_id)
        return {clock_name: asdict(t) for clock_name, t in found.items()}

    app = build_http_app(settings, lifecycle, title="leadflow sla-monitor", routers=[router])
    app.state.sla = SlaComponents(settings, broker, engine, store, monitor, scheduler)
    return app
