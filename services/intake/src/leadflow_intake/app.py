"""Composition root: the only place that builds clients (broker, database engine) and wires them."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import Clock, SystemClock
from leadflow_platform.db import create_engine
from leadflow_platform.logging import get_logger
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_intake.adapters.config_files import (
    SourceRegistry,
    load_custom_answers,
    load_sources_file,
    load_suppression_file,
)
from leadflow_intake.adapters.publisher import KafkaLeadPublisher, LeadPublisher
from leadflow_intake.adapters.repository import SeenEventsRepository
from leadflow_intake.domain.countries import warm as warm_countries
from leadflow_intake.domain.emails import EmailPolicy
from leadflow_intake.domain.suppression import SuppressionList
from leadflow_intake.event_docs import build_docs_router
from leadflow_intake.handlers import declare_outputs, register_inbound
from leadflow_intake.http import build_router
from leadflow_intake.service import IntakePolicy, IntakeService
from leadflow_intake.settings import IntakeSettings, read_secrets

log = get_logger("leadflow_intake.app")


@dataclass
class IntakeComponents:
    """What ``create_app`` built, kept on ``app.state.intake`` for tests and tooling."""

    settings: IntakeSettings
    broker: KafkaBroker
    engine: AsyncEngine
    repository: SeenEventsRepository
    service: IntakeService
    sources: SourceRegistry
    policy: IntakePolicy
    subscriber: BatchSubscriber


def load_sources(settings: IntakeSettings) -> SourceRegistry:
    if settings.sources_file is None:
        return SourceRegistry()
    spec = load_sources_file(settings.sources_file)
    env_names = sorted({c.signing_secret_env for c in spec.sources.values() if c.signing_secret_env})
    return SourceRegistry.build(spec, read_secrets(env_names))


def create_app(
    settings: IntakeSettings,
    *,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    sources: SourceRegistry | None = None,
    suppression: SuppressionList | None = None,
    publisher: LeadPublisher | None = None,
) -> FastAPI:
    """Build the intake app. Nothing connects here: the lifespan starts the broker and database."""
    clock = clock or SystemClock()
    broker = broker or make_broker(settings)
    sources = sources if sources is not None else load_sources(settings)
    if suppression is None:
        suppression = (
            load_suppression_file(settings.suppression_file) if settings.suppression_file else SuppressionList()
        )
    policy = IntakePolicy(
        max_payload_bytes=settings.max_payload_bytes,
        max_original_bytes=settings.max_original_bytes,
        strict_contact=settings.strict_contact,
        default_region=settings.default_region,
        email_policy=EmailPolicy(internationalized=settings.email_address_internationalization),
        max_json_depth=settings.max_json_depth,
        max_json_items=settings.max_json_items,
        suppression=suppression,
        sources=sources,
        custom_answers=load_custom_answers(settings.custom_answers_file) if settings.custom_answers_file else None,
    )
    engine = create_engine(settings.database_url, inline=settings.sqlite_inline)
    repository = SeenEventsRepository(engine)
    service = IntakeService(
        policy=policy,
        repository=repository,
        publisher=publisher or KafkaLeadPublisher(broker),
        clock=clock,
        topic_prefix=settings.topic_prefix,
    )
    subscriber = register_inbound(broker, settings, service)
    declare_outputs(broker, settings)

    async def create_topics() -> None:
        if settings.create_topics:
            specs = {settings.topic(name): spec for name, spec in load_topics().items()}
            await ensure_topics(settings.kafka_bootstrap, specs)

    async def announce() -> None:
        warm_countries()  # CLDR names of every locale: built once here, not on the first lead
        missing = sources.missing_secrets()
        if missing:
            log.error(
                "source_secret_missing",
                sources=",".join(missing),
                hint="HTTP posts from these sources are refused until their secret is set",
            )
        log.info(
            "intake_configured",
            sources=len(sources.sources),
            suppressed_entries=len(suppression),
            strict_contact=settings.strict_contact,
        )

    lifecycle = Lifecycle(
        broker=broker,
        on_startup=[announce, repository.create_tables, create_topics],
        on_shutdown=[engine.dispose],
        ready_checks={"database": repository.ping},
    )
    app = build_http_app(
        settings,
        lifecycle,
        title="leadflow intake",
        routers=[build_router(service, sources, settings, clock), build_docs_router()],
    )
    app.state.intake = IntakeComponents(settings, broker, engine, repository, service, sources, policy, subscriber)
    return app
