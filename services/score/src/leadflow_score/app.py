"""Composition root for score: the broker, the rule set and (optionally) a model."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from leadflow_contracts import topics
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import Clock, SystemClock
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics

from leadflow_score.adapters.model import ModelScorer
from leadflow_score.adapters.ruleset_file import load_ruleset
from leadflow_score.domain.ruleset import Ruleset
from leadflow_score.handlers import register
from leadflow_score.service import ScoreService
from leadflow_score.settings import ScoreSettings


def create_app(
    settings: ScoreSettings,
    *,
    clock: Clock | None = None,
    broker: KafkaBroker | None = None,
    ruleset: Ruleset | None = None,
    model: ModelScorer | None = None,
    ensure_kafka_topics: bool = True,
) -> FastAPI:
    clock = clock or SystemClock()
    ruleset = ruleset or load_ruleset(settings.ruleset_file)  # invalid rules fail here, before any consumption
    broker = broker or make_broker(settings)
    if model is None and settings.model_dir is not None:
        from leadflow_model.registry import ModelRegistry

        model = ModelRegistry(settings.model_dir, check_interval=settings.model_check_seconds)
    pipeline = ScoreService(
        ruleset=ruleset,
        scored_topic=settings.topic(topics.LEADS_SCORED),
        model=model,
        model_weight=settings.model_weight if model is not None else 0.0,
    )
    runtime = register(broker, settings, pipeline, clock)

    async def create_topics() -> None:
        await ensure_topics(
            settings.kafka_bootstrap, {settings.topic(name): spec for name, spec in load_topics().items()}
        )

    async def ruleset_loaded() -> bool:
        return bool(pipeline.ruleset.version)

    lifecycle = Lifecycle(
        broker=broker,
        on_startup=[create_topics] if ensure_kafka_topics else [],
        ready_checks={"ruleset": ruleset_loaded},
    )
    app = build_http_app(settings, lifecycle, title="leadflow score")
    app.state.broker = broker
    app.state.pipeline = pipeline
    app.state.runtime = runtime
    app.state.ruleset = ruleset
    app.state.model = model
    app.state.clock = clock

    @app.get("/v1/ruleset")
    async def current_ruleset() -> dict[str, object]:
        return {
            "version": ruleset.version,
            "fit_rules": len(ruleset.fit.rules),
            "engagement_rules": len(ruleset.engagement.rules),
            "model": model is not None,
            "model_weight": pipeline.model_weight,
        }

    return app
