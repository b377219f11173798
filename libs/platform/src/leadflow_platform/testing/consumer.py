"""Test helpers for the consumer runtime (``leadflow_platform.consumer``): a publisher that records what
the runtime publishes, the bare event envelope and raw records built from lead ids."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from leadflow_contracts import Event

from leadflow_platform.consumer import Outgoing
from leadflow_platform.kafka_io import RawRecord


class Envelope(Event):
    """The envelope alone: what every contract event has."""


class RecordingPublisher:
    """Stands in for ``BatchPublisher``: keeps every message the runtime publishes, in order."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        self.sent.extend(messages)

    def on(self, topic: str) -> list[dict[str, Any]]:
        """The JSON bodies published to ``topic``."""
        return [json.loads(m.value) for m in self.sent if m.topic == topic]


def lead_record(lead: str, offset: int, *, at: datetime, topic: str, partition: int = 0) -> RawRecord:
    """A valid ``Envelope`` record of lead ``lead`` (key = lead id) at the given coordinates."""
    payload = {"event_id": f"e-{lead}", "lead_id": lead, "occurred_at": at.isoformat()}
    return RawRecord(lead.encode(), json.dumps(payload).encode(), topic, partition, offset)
