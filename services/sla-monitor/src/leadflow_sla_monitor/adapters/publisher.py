"""The outbound port: publish contract events keyed by lead id and wait until the broker has them all."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from faststream.kafka import KafkaBroker
from leadflow_contracts.base import Event

JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    event: Event


class EventPublisher(Protocol):
    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        """Return once every message is acknowledged; raise if any is not."""


class KafkaEventPublisher:
    """Hands every message to the producer without waiting, then awaits all acknowledgements together."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        pending = []
        for m in messages:
            result = await self.broker.publish(
                m.event.to_json_bytes(), m.topic, key=m.event.kafka_key(), headers=JSON_HEADERS, no_confirm=True
            )
            if inspect.isawaitable(result):  # the in-memory test broker delivers inline and returns None
                pending.append(result)
        if pending:
            await asyncio.gather(*pending)


@dataclass
class RecordingPublisher:
    """In-memory publisher for tests and benchmarks: keeps what was published, can be told to fail."""

    published: list[Outgoing] = field(default_factory=list)
    fail_next: int = 0

    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("publisher told to fail")
        self.published.extend(messages)

    def events(self, topic_suffix: str) -> list[Event]:
        return [m.event for m in self.published if m.topic.endswith(topic_suffix)]
