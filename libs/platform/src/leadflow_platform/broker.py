"""FastStream/aiokafka broker factory: one place that decides acks, compression and idempotence."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.security import SASLPlaintext

from leadflow_platform.settings import ServiceSettings

DEFAULT_ACK_POLICY = AckPolicy.NACK_ON_ERROR
"""Offsets are committed after the handler returns (at-least-once). A handler that raises is *not*
committed: FastStream nacks it, which on Kafka seeks back so the message (or batch) is read again.
(``AckPolicy.ACK`` would commit even after an exception and lose the work.) Handlers should turn
poison messages into dead letters themselves and back off before raising on transient failures."""


def make_broker(settings: ServiceSettings, **overrides: Any) -> KafkaBroker:
    """Build (not connect) a KafkaBroker for a service."""
    security = None
    if settings.kafka_sasl_username and settings.kafka_sasl_password:
        security = SASLPlaintext(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
        )
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": settings.kafka_client_id or f"leadflow-{settings.service_name}",
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotent_producer,
        "compression_type": settings.kafka_compression if settings.kafka_compression != "none" else None,
        "linger_ms": settings.kafka_linger_ms,
        "max_batch_size": 1024 * 1024,
        "graceful_timeout": settings.shutdown_grace_seconds,
        "security": security,
        "logger": None,
    }
    kwargs.update(overrides)
    return KafkaBroker(**kwargs)


async def broker_ping(broker: KafkaBroker, timeout: float = 2.0) -> bool:
    try:
        return bool(await asyncio.wait_for(broker.ping(timeout=timeout), timeout + 0.5))
    except Exception:
        return False


async def start_broker_joining_together(broker: Any) -> None:
    """``broker.start()``, with its subscribers' group joins side by side instead of one after another.

    FastStream (0.7) starts a broker's subscribers in turn, and aiokafka's start of a subscribed consumer waits for
    its group assignment: a service with two consumers (enrich: leads.accepted and its mirror's crm.changes)
    answered HTTP only after two joins in a row, 10.0 s after its process started with 6 s sessions and 16.0 s
    with 12 s (the embedded broker answers a join after half the session). Here each subscriber's start runs in
    its own task first, and the broker's own start awaits those tasks in its usual order (publishers, state).
    A broker whose ``start`` is patched (``TestKafkaBroker``) or with fewer than two subscribers starts as before.
    """
    subscribers = list(getattr(broker, "subscribers", ()))
    if len(subscribers) < 2 or getattr(broker.start, "__func__", None) is not type(broker).start:
        await broker.start()
        return
    await broker.connect()
    starts = [asyncio.ensure_future(sub.start()) for sub in subscribers]
    for sub, started in zip(subscribers, starts, strict=True):
        sub.start = _already(started)  # the broker's loop awaits the running start instead of a second one
    try:
        await broker.start()
    except BaseException:
        for started in starts:
            started.cancel()
        await asyncio.gather(*starts, return_exceptions=True)  # every start's outcome is collected
        raise
    finally:
        for sub in subscribers:
            with contextlib.suppress(AttributeError):
                del sub.start  # the class's own start again


def _already(started: asyncio.Future[None]) -> Any:
    async def start() -> None:
        await started

    return start
