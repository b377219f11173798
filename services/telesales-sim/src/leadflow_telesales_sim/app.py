"""Composition root: Salesforce sessions, plan store, the simulation loop; nothing connects at import."""

from __future__ import annotations

from fastapi import FastAPI
from leadflow_platform.clock import Clock, SystemClock
from leadflow_platform.db import check_database, create_engine
from leadflow_platform.service import Lifecycle, build_http_app

from leadflow_telesales_sim.adapters.repository import PlanStore
from leadflow_telesales_sim.adapters.salesforce import SimpleSalesforceSimulator, SimulatorPort
from leadflow_telesales_sim.domain.model import load_behaviour
from leadflow_telesales_sim.settings import TelesalesSimSettings
from leadflow_telesales_sim.simulator import Simulator


def sim_time_scale(settings: TelesalesSimSettings) -> float:
    """How fast the reps work: ``TSIM_TIME_SCALE`` when set, else the demo clock's scale when it is on (the
    reps then keep pace with the SLA clocks they are judged by), else the settings default."""
    if "time_scale" not in settings.model_fields_set and settings.demo_clock.enabled:
        return settings.demo_clock.scale
    return settings.time_scale


def create_app(
    settings: TelesalesSimSettings,
    *,
    clock: Clock | None = None,
    salesforce: SimulatorPort | None = None,
    run_simulation: bool = True,
) -> FastAPI:
    """``run_simulation=False``: tests drive ``app.state.simulator.tick()`` with a FakeClock."""
    clock = clock or SystemClock()
    behaviour = load_behaviour(settings.behaviour_file, settings.behaviour)  # bad config fails at start-up
    engine = create_engine(settings.database_url, inline=settings.sqlite_inline)
    store = PlanStore(engine)
    port = salesforce or SimpleSalesforceSimulator(settings.salesforce, rep_passwords=settings.rep_passwords)
    sim = Simulator(
        port,
        store,
        clock,
        behaviour,
        time_scale=sim_time_scale(settings),
        seed=settings.seed,
        rep_roles=settings.rep_roles,
        rep_usernames=settings.rep_usernames,
        poll_interval=settings.poll_interval_seconds,
        error_backoff=settings.error_backoff_seconds,
        follow_up_subjects=settings.follow_up_subjects,
    )

    async def dispose() -> None:
        await engine.dispose()

    async def database_ready() -> bool:
        return await check_database(engine)

    lifecycle = Lifecycle(
        broker=None,
        on_startup=[store.create_tables],
        on_shutdown=[dispose],
        ready_checks={"database": database_ready},
        background=[sim.run] if run_simulation else [],
    )
    app = build_http_app(settings, lifecycle)

    @app.get("/v1/stats", include_in_schema=False)
    async def stats() -> dict[str, object]:
        s = sim.stats
        return {
            "reps": len(sim.reps),
            "planned": s.planned,
            "calls": s.calls,
            "status_changes": s.status_changes,
            "follow_ups_completed": s.follow_ups_completed,
            "cancelled": s.cancelled,
            "by_outcome": s.by_outcome,
            "time_scale": sim.time_scale,
        }

    app.state.simulator = sim
    app.state.store = store
    app.state.engine = engine
    return app
