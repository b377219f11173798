"""The outbound port: send a batch of keyed messages and wait until the broker has them all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from faststream.kafka import KafkaBroker
from leadflow_platform.consumer import BatchPublisher
from leadflow_platform.consumer import Outgoing as Outbound

__all__ = ["KafkaLeadPublisher", "LeadPublisher", "Outbound"]


class LeadPublisher(Protocol):
    async def publish_all(self, messages: Sequence[Outbound]) -> None:
        """Return once every message is acknowledged; raise if any is not."""


class KafkaLeadPublisher(BatchPublisher):
    """The platform's confirm-once publisher: one round of broker acks per batch, not one per message."""

    def __init__(self, broker: KafkaBroker) -> None:
        super().__init__(broker, "intake")
