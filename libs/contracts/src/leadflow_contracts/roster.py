"""The roster as route routes with it: every rep (Salesforce User) with route's weight, caps and availability,
and the queues. Route publishes it on ``crm.roster`` whenever its roster changes, so ops shows route's own
numbers (weights, caps) instead of keeping a second configuration."""

from __future__ import annotations

from pydantic import Field

from leadflow_contracts.base import Contract, Event


class RepCapacity(Contract):
    """One rep as route sees it."""

    user_id: str = Field(min_length=1, max_length=64)
    name: str = ""
    team: str | None = None
    role: str | None = None
    weight: float = Field(default=1.0, ge=0, description="Round-robin weight (Salesforce Weight__c).")
    active: bool = True
    absent: bool = False
    max_open: int | None = Field(default=None, ge=1, description="Route's cap: open leads the rep may hold.")
    per_hour: int | None = Field(default=None, ge=1, description="Route's cap: leads per hour.")
    per_day: int | None = Field(default=None, ge=1, description="Route's cap: leads per day.")
    in_rotation: bool | None = Field(
        default=None,
        description="Is the rep in its team's round-robin pool (route's own member rule: a seller role of the "
        "team, or its leader when the leader sells, and a weight above 0)? None: not said (older route).",
    )


class QueueRef(Contract):
    queue_id: str = Field(min_length=1, max_length=64)
    name: str = ""


class RosterPublished(Event):
    """Route's whole roster (``lead_id`` is ``"roster"``, the Kafka key; the event id is derived from the
    content, so publishing an unchanged roster again is recognised as the same event)."""

    source: str = Field(
        default="salesforce",
        description="Where route's roster came from: salesforce, cache, crm.changes (a User change).",
    )
    reps: tuple[RepCapacity, ...] = ()
    queues: tuple[QueueRef, ...] = ()
