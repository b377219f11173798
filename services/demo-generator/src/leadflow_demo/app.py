"""The demo generator service: publishes a lead stream to leads.inbound and prints live progress."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from leadflow_contracts import topics
from leadflow_platform.clock import Clock, SystemClock
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_OUT
from leadflow_platform.service import Lifecycle, build_http_app
from leadflow_platform.topics_admin import ensure_topics, load_topics

from leadflow_demo.adapters.org import load_known_contacts
from leadflow_demo.domain.generator import KnownContact, LeadFactory
from leadflow_demo.domain.progress import Progress
from leadflow_demo.settings import DemoSettings

log = get_logger(__name__)
WATCHED = {
    topics.LEADS_ACCEPTED: "accepted",
    topics.LEADS_REJECTED: "rejected",
    topics.LEADS_ROUTED: "routed",
    topics.CRM_SYNCED: "synced",
    topics.SLA_EVENTS: "sla",
}


def create_app(
    settings: DemoSettings, *, clock: Clock | None = None, known: list[KnownContact] | None = None
) -> FastAPI:
    clock = clock or SystemClock()
    progress = Progress()
    state: dict[str, object] = {"producer": None, "done": False}

    async def start() -> None:
        await ensure_topics(settings.kafka_bootstrap, {settings.topic(n): s for n, s in load_topics().items()})
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
        await producer.start()
        state["producer"] = producer

    async def stop() -> None:
        producer = state["producer"]
        if isinstance(producer, AIOKafkaProducer):
            await producer.stop()

    async def generate() -> None:
        contacts = known
        if contacts is None and settings.salesforce is not None:
            try:
                contacts = await asyncio.to_thread(load_known_contacts, settings.salesforce)
            except Exception as exc:
                log.warning("org_contacts_unavailable", error=str(exc))
        factory = LeadFactory(
            settings.seed, contacts or [], bad_ratio=settings.bad_ratio, replay_ratio=settings.replay_ratio
        )
        producer = state["producer"]
        assert isinstance(producer, AIOKafkaProducer)
        sent, interval = 0, 1.0 / settings.rate
        next_at = time.monotonic()
        while settings.total == 0 or sent < settings.total:
            item = factory.next(clock.now())
            await producer.send(settings.topic(topics.LEADS_INBOUND), item.value, key=item.key)
            progress.published(item.lead_id, time.time(), item.kind)
            EVENTS_OUT.labels(settings.service_name, topics.LEADS_INBOUND).inc()
            sent += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        state["done"] = True
        log.info("demo_stream_finished", leads=sent)

    async def watch() -> None:
        consumer = AIOKafkaConsumer(
            *[settings.topic(t) for t in WATCHED],
            bootstrap_servers=settings.kafka_bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            group_id=None,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,  # the latency it reports must not include its own wait
        )
        await consumer.start()
        try:
            async for record in consumer:
                stage = WATCHED.get(record.topic.removeprefix(settings.topic_prefix), "")
                lead_id = record.key.decode(errors="replace") if record.key else ""
                if stage == "sla":
                    with contextlib.suppress(ValueError, AttributeError):
                        stage = "sla_" + str(json.loads(record.value or b"{}").get("kind"))
                progress.seen(stage, lead_id, time.time())
        finally:
            await consumer.stop()

    async def report() -> None:
        while True:
            await asyncio.sleep(settings.progress_interval)
            print(progress.line(), flush=True)

    app = build_http_app(
        settings,
        Lifecycle(on_startup=[start], on_shutdown=[stop], background=[watch, generate, report]),
        title="leadflow demo generator",
    )
    app.state.progress = progress
    app.state.generator_state = state

    @app.get("/progress")
    async def current() -> dict[str, object]:
        return {"line": progress.line(), "counts": dict(progress.counts), "done": state["done"]}

    return app
