"""FastStream/aiokafka broker factory: one place that decides acks, compression and idempotence."""

from __future__ import annotations

import asyncio
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
