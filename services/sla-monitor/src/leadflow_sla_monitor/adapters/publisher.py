"""The outbound port: publish contract events keyed by lead id and wait until the broker has them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from faststream.kafka import KafkaBroker
from leadflow_contracts.base import Event
from leadflow_platform.consumer import BatchPublisher
from leadflow_platform.consumer import Outgoing as Message


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    event: Event


class EventPublisher(Protocol):
    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        """Return once every message is acknowledged; raise if any is not."""


class KafkaEventPublisher:
    """The platform's confirm-once publisher, for contract events (the monitor publishes before it commits)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.out = BatchPublisher(broker, "sla-monitor")

    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        await self.out.publish_all([Message.of(m.topic, m.event) for m in messages])


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
