"""The ops use case: a parsed batch of every event ops shows → its read models (one transaction, each event
at most once). Poison from the dead-letter topics arrives as ``Poison`` and is kept as a raw entry of the
dead-letter browser."""

from __future__ import annotations

import hashlib
from typing import Any

from leadflow_contracts import QueueRef, RepCapacity, RosterPublished
from leadflow_platform.consumer import Batch, Outgoing

from leadflow_ops.adapters.repository import OpsRepository, RawDeadLetter
from leadflow_ops.domain.roster import queue_team
from leadflow_ops.metrics import DEAD_LETTERS


def roster_entry(rep: RepCapacity) -> dict[str, Any]:
    """A rep of route's roster as an ``ops_reps`` row update (``cap`` = route's open-lead cap)."""
    return {
        "user_id": rep.user_id,
        "name": rep.name or None,
        "team": rep.team,
        "role": rep.role,
        "weight": rep.weight,
        "cap": rep.max_open,
        "active": rep.active,
        "absent": rep.absent,
        "in_rotation": rep.in_rotation,  # None (an older route): unknown, the row keeps what it had
    }


def roster_queue(queue: QueueRef) -> dict[str, Any]:
    """A queue of route's roster as an ``ops_reps`` row (``queue`` = never a rep; filed under its own name)."""
    return {
        "user_id": queue.queue_id,
        "name": queue.name or None,
        "team": queue_team(queue.name, queue.queue_id),
        "queue": True,
    }


class OpsConsumer:
    """The ops use case: a parsed batch → the read models (one transaction, each event at most once)."""

    def __init__(self, repo: OpsRepository, prefix: str = "") -> None:
        self.repo = repo
        self.prefix = prefix

    def contract_topic(self, topic: str) -> str:
        return topic[len(self.prefix) :] if self.prefix and topic.startswith(self.prefix) else topic

    async def __call__(self, batch: Batch) -> list[Outgoing]:
        items: list[Any] = [c.event for c in batch.items if not isinstance(c.event, RosterPublished)]
        rosters = [c.event for c in batch.items if isinstance(c.event, RosterPublished)]
        if rosters:  # route's roster: weights and caps as route routes with them (only the newest counts)
            newest = max(rosters, key=lambda r: r.occurred_at)
            entries = [roster_entry(rep) for rep in newest.reps] + [roster_queue(q) for q in newest.queues]
            await self.repo.apply_roster(entries, batch.now)
        for p in batch.poison:
            r, topic = p.record, self.contract_topic(p.record.topic)
            digest = hashlib.sha256(r.value).hexdigest()[:16]
            lead_id = (r.key or b"").decode("utf-8", errors="replace") or None
            items.append(
                RawDeadLetter(topic, f"raw:{topic}:{r.partition}:{r.offset}:{digest}", r.value, p.reason, lead_id)
            )
        result = await self.repo.apply(items, batch.now)
        for topic, reason in result.dead_letters:
            DEAD_LETTERS.labels(topic=topic, reason=reason).inc()
        return []
