"""Composition root: the only place that builds clients (database, broker, Salesforce, enricher)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from leadflow_contracts import topics
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import Clock, SystemClock
from leadflow_platform.db import check_database, create_engine
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics

from leadflow_enrich.adapters.enricher import DEFAULT_REFERENCE_FILE, Enricher, ReferenceFileEnricher
from leadflow_enrich.adapters.identity_claims import IdentityClaims
from leadflow_enrich.adapters.mirror_repository import MirrorRepository
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.adapters.salesforce_reader import SalesforceReader, SimpleSalesforceReader
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.policy import EnrichPolicy
from leadflow_enrich.handlers import register
from leadflow_enrich.mirror import Mirror
from leadflow_enrich.service import ChangesService, EnrichService
from leadflow_enrich.settings import EnrichSettings


def _salesforce_reader(settings: EnrichSettings) -> SalesforceReader | None:
    sf_settings = settings.salesforce
    if sf_settings is None:
        return None

    def connect_salesforce():  # type: ignore[no-untyped-def]
        from leadflow_salesforce import connect

        return connect(sf_settings)

    return SimpleSalesforceReader(connect_salesforce, bulk_wait_seconds=settings.bulk_wait_seconds)


def create_app(
    settings: EnrichSettings,
    *,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    salesforce: SalesforceReader | None = None,
    enricher: Enricher | None = None,
    policy: EnrichPolicy | None = None,
    ensure_kafka_topics: bool = True,
) -> FastAPI:
    clock = clock or SystemClock()
    policy = policy or load_policy(settings.policy_file)
    if settings.dormant_after_months is not None:
        policy = policy.model_copy(
            update={
                "client_type": policy.client_type.model_copy(
                    update={"dormant_after_months": settings.dormant_after_months}
                )
            }
        )
    broker = broker or make_broker(settings)
    engine = create_engine(settings.database_url, inline=settings.sqlite_inline)
    repo = MirrorRepository(engine)
    index = MirrorIndex(policy.free_mail_domains, policy.duplicates)
    reader = salesforce if salesforce is not None else _salesforce_reader(settings)
    enricher = enricher or ReferenceFileEnricher(settings.reference_file or DEFAULT_REFERENCE_FILE)
    identities = IdentityClaims(engine) if settings.identity_in_flight else None
    mirror = Mirror(repo, index, clock, reader, overlap=timedelta(seconds=settings.mirror_poll_overlap_seconds))

    enrich_pipeline = EnrichService(
        index=index,
        policy=policy,
        enricher=enricher,
        enriched_topic=settings.topic(topics.LEADS_ENRICHED),
        identities=identities,
    )
    changes_pipeline = ChangesService(mirror=mirror) if settings.consume_crm_changes else None
    runtimes = register(broker, settings, enrich_pipeline, changes_pipeline, clock)

    async def create_topics() -> None:
        specs = {settings.topic(name): spec for name, spec in load_topics().items()}
        await ensure_topics(settings.kafka_bootstrap, specs)

    async def start_mirror() -> None:
        # One upgrade brings the whole database (mirror and identity claims) to the newest revision.
        await repo.create_tables()
        await mirror.start(sync=settings.mirror_load_on_start)

    async def mirror_ready() -> bool:
        return mirror.ready

    async def database_ready() -> bool:
        return await check_database(engine)

    lifecycle = Lifecycle(
        broker=broker,
        on_startup=[*([create_topics] if ensure_kafka_topics else []), start_mirror],
        on_shutdown=[engine.dispose],
        ready_checks={"database": database_ready, "mirror": mirror_ready},
    )
    if reader is not None and settings.mirror_poll_seconds > 0:
        interval = settings.mirror_poll_seconds
        lifecycle.background.append(lambda: mirror.run_poller(interval))

    app = build_http_app(settings, lifecycle, title="leadflow enrich")
    app.state.broker = broker
    app.state.engine = engine
    app.state.repository = repo
    app.state.index = index
    app.state.mirror = mirror
    app.state.policy = policy
    app.state.enricher = enricher
    app.state.pipeline = enrich_pipeline
    app.state.runtimes = runtimes
    app.state.identities = identities
    app.state.changes_pipeline = changes_pipeline
    app.state.clock = clock
    return app
