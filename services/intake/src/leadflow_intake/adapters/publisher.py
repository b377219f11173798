"""The outbound port: send a batch of keyed messages and wait until the broker has them all."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from faststream.kafka import KafkaBroker

JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class Outbound:
    topic: str
    key: bytes
    value: bytes


class LeadPublisher(Protocol):
    async def publish_all(self, messages: Sequence[Outbound]) -> None:
        """Return once every message is acknowledged; raise if any is not."""


class KafkaLeadPublisher:
    """Hands every message to the producer without waiting (``no_confirm``), then awaits all the
    acknowledgements together: one round of broker acks per batch, not one per message."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def publish_all(self, messages: Sequence[Outbound]) -> None:
        pending = []
        for m in messages:
            result = await self.broker.publish(
                m.value, m.topic, key=m.key, headers=JSON_HEADERS, no_confirm=True
            )
            if inspect.isawaitable(result):  # the in-memory test broker delivers inline and returns None
                pending.append(result)
        if pending:
            await asyncio.gather(*pending)
