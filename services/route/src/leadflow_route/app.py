"""Composition root: the only place that builds the broker, the database engine and the roster source."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from leadflow_businesstime import load_calendar_file, load_sla_policies
from leadflow_contracts import RosterPublished, topics
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import Clock, SystemClock, clock_for
from leadflow_platform.db import check_database
from leadflow_platform.logging import get_logger
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics

from leadflow_route.adapters.roster_source import FixtureRosterSource, RosterSource, SalesforceRosterSource
from leadflow_route.adapters.store import RouteStore, make_engine
from leadflow_route.domain.config import RoutingConfig, load_routing_config
from leadflow_route.domain.roster_event import ROSTER_KEY, roster_event
from leadflow_route.domain.routing import Router
from leadflow_route.domain.sla import SlaPlanner
from leadflow_route.handlers import RouteHandlers
from leadflow_route.service import RosterManager, RouteService
from leadflow_route.settings import RouteSettings

log = get_logger(__name__)


def default_roster_source(settings: RouteSettings) -> RosterSource | None:
    if settings.roster_fixture is not None:
        return FixtureRosterSource(settings.roster_fixture)
    if settings.salesforce is not None and settings.salesforce.username:
        return SalesforceRosterSource(settings.salesforce)
    return None


def create_app(
    settings: RouteSettings,
    *,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    roster_source: RosterSource | None = None,
    routing_config: RoutingConfig | None = None,
    sla_planner: SlaPlanner | None = None,
    create_topics: bool = True,
    refresh_roster: bool = True,
) -> FastAPI:
    # SLA due times (and routed_at) follow the demo clock when it is on; roster refresh and back-off keep
    # the wall clock so an accelerated demo does not hammer Salesforce.
    sla_clock = clock or clock_for(settings.demo_clock)
    clock = clock or SystemClock()
    config = routing_config or load_routing_config(settings.routing_config)
    planner = sla_planner or SlaPlanner(
        load_sla_policies(settings.sla_policies), load_calendar_file(settings.calendars)
    )
    broker = broker or make_broker(settings)
    engine = make_engine(settings.database_url, inline=settings.sqlite_inline)
    store = RouteStore(engine)
    source = roster_source if roster_source is not None else default_roster_source(settings)
    roster = RosterManager(store, source, clock)
    service = RouteService(store, Router(config), planner, roster, sla_clock)
    handlers = RouteHandlers(broker, service, settings, clock)
    handlers.register()
    roster_topic = settings.topic(topics.CRM_ROSTER)
    broker.publisher(roster_topic, title="route/crm.roster", schema=RosterPublished)

    published: dict[str, str] = {}

    async def publish_roster(source: str) -> None:
        event = roster_event(roster.current, service.router, clock.now(), source)
        if published.get("event_id") == event.event_id:
            return  # unchanged since the last one (e.g. a periodic refresh): nothing new to say
        await broker.publish(
            event.to_json_bytes(), roster_topic, key=ROSTER_KEY.encode(), headers={"content-type": "application/json"}
        )
        published["event_id"] = event.event_id
        log.info("roster_published", reps=len(event.reps), queues=len(event.queues), source=source)

    async def roster_contract() -> None:
        """Once the broker runs: publish the roster route starts with, then after every change."""
        if roster.current.reps:
            await publish_roster(roster.loaded_from if roster.loaded_from != "source" else "salesforce")
        roster.on_change = publish_roster

    async def setup_topics() -> None:
        if create_topics:
            specs = {settings.topic(name): spec for name, spec in load_topics(settings.topics_file).items()}
            await ensure_topics(settings.kafka_bootstrap, specs)

    async def setup_database() -> None:
        await store.create_schema(config.teams)
        await roster.start()
        for problem in service.router.problems(roster.current) if roster.current.reps else ():
            log.warning("routing_config_problem", problem=problem)
        log.info(
            "route_ready",
            routing_config=config.version,
            policies=list(config.policies),
            sla_policies=planner.policies.version,
            roster=roster.loaded_from,
            users=len(roster.current.reps),
        )

    async def roster_loop() -> None:
        if refresh_roster and source is not None:
            await roster.run_periodic(settings.roster_refresh_seconds)

    async def prune_loop() -> None:
        while True:
            removed = await store.prune_decisions(clock.now() - timedelta(days=settings.decision_retention_days))
            if removed:
                log.info("decisions_pruned", removed=removed)
            await asyncio.sleep(3600)

    async def roster_ready() -> bool:
        return bool(roster.current.reps)

    async def database_ready() -> bool:
        return await check_database(engine)

    lifecycle = Lifecycle(
        broker=broker,
        on_startup=[setup_topics, setup_database],
        on_shutdown=[engine.dispose],
        ready_checks={"database": database_ready, "roster": roster_ready},
        background=[roster_contract, roster_loop, prune_loop],
    )
    app = build_http_app(settings, lifecycle)
    app.state.broker = broker
    app.state.store = store
    app.state.roster = roster
    app.state.service = service
    app.state.handlers = handlers
    app.state.config = config
    app.state.clock = clock

    @app.post("/v1/roster/refresh")
    async def refresh() -> dict[str, object]:
        ok = await roster.refresh()
        return {
            "refreshed": ok,
            "users": len(roster.current.reps),
            "queues": len(roster.current.queues),
            "error": roster.last_error,
        }

    @app.get("/v1/ledger")
    async def ledger() -> dict[str, object]:
        snapshot = await store.ledger_snapshot()
        return {"reps": {k: vars(v) for k, v in sorted(snapshot.loads.items())}}

    return app
