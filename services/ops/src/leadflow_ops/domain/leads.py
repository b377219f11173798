"""The ops view of one lead and how each event changes it.

Pure: the repository loads a ``LeadState``, calls ``on_routed``/``on_synced``/``on_sla`` and stores the
result together with the counter deltas and speed samples these functions return.
Events may arrive in any order across topics: every transition tolerates missing earlier facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

Outcome = Literal["on_time", "missed"]


@dataclass(frozen=True)
class LeadState:
    lead_id: str
    team: str | None = None
    rating: str | None = None
    source: str | None = None
    owner_id: str | None = None
    owner_type: str | None = None
    owner_name: str | None = None
    policy: str | None = None
    submitted_at: datetime | None = None
    routed_at: datetime | None = None
    owner_at: datetime | None = None
    """When the lead was in Salesforce with an owner (crm-sync's CrmSynced)."""
    salesforce_id: str | None = None
    due_at: datetime | None = None
    touched_at: datetime | None = None
    closed: bool = False
    breached_at: datetime | None = None
    escalation_step: int = 0
    outcome: Outcome | None = None
    reassignments: int = 0

    @property
    def is_open(self) -> bool:
        return not self.closed and (self.routed_at is not None or self.due_at is not None)

    @property
    def is_breached(self) -> bool:
        return self.is_open and self.breached_at is not None

    @property
    def is_queued(self) -> bool:
        return self.is_open and self.owner_type == "queue"


@dataclass(frozen=True)
class Routed:
    occurred_at: datetime
    team: str | None
    rating: str | None
    source: str | None
    owner_id: str
    owner_type: str
    owner_name: str | None
    policy: str
    submitted_at: datetime | None
    first_touch_due: datetime | None
    reassignment: int


@dataclass(frozen=True)
class Synced:
    occurred_at: datetime
    salesforce_id: str
    owner_id: str | None
    submitted_at: datetime | None
    team: str | None
    rating: str | None
    source: str | None


@dataclass(frozen=True)
class Sla:
    occurred_at: datetime
    kind: str
    clock: str
    policy: str
    due_at: datetime
    started_at: datetime
    owner_id: str | None
    team: str | None
    rating: str | None
    source: str | None
    escalation_step: int


@dataclass(frozen=True)
class SpeedSample:
    """Durations (seconds) of one first touch: the whole wait and its two parts."""

    at: datetime
    total: float | None
    system: float | None
    human: float | None


@dataclass(frozen=True)
class Transition:
    state: LeadState
    new_arrival: bool = False
    """First time ops saw this lead routed (arrival rate for the staffing planner)."""
    outcome: Outcome | None = None
    """Set when this event concluded the first-touch clock (counted once per lead)."""
    sample: SpeedSample | None = None


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds())


def on_routed(old: LeadState | None, ev: Routed, lead_id: str) -> Transition:
    state = old or LeadState(lead_id=lead_id)
    first = state.routed_at is None
    new = replace(
        state,
        team=ev.team or state.team,
        rating=ev.rating or state.rating,
        source=ev.source or state.source,
        owner_id=ev.owner_id,
        owner_type=ev.owner_type,
        owner_name=ev.owner_name or (state.owner_name if state.owner_id == ev.owner_id else None),
        policy=ev.policy,
        submitted_at=state.submitted_at or ev.submitted_at,
        routed_at=state.routed_at or ev.occurred_at,
        due_at=ev.first_touch_due if ev.reassignment > 0 or state.due_at is None else state.due_at,
        reassignments=max(state.reassignments, ev.reassignment),
    )
    if old is not None and old.routed_at is not None and ev.occurred_at < old.routed_at and ev.reassignment == 0:
        # an older first routing replayed after a reassignment: keep the newer owner
        new = replace(new, owner_id=old.owner_id, owner_type=old.owner_type, owner_name=old.owner_name)
    return Transition(state=new, new_arrival=first and ev.reassignment == 0)


def on_synced(old: LeadState | None, ev: Synced, lead_id: str) -> Transition:
    state = old or LeadState(lead_id=lead_id)
    owner_at = state.owner_at
    if owner_at is None and ev.owner_id is not None:
        owner_at = ev.occurred_at
    return Transition(
        state=replace(
            state,
            salesforce_id=ev.salesforce_id or state.salesforce_id,
            owner_at=owner_at,
            submitted_at=state.submitted_at or ev.submitted_at,
            team=state.team or ev.team,
            rating=state.rating or ev.rating,
            source=state.source or ev.source,
        )
    )


def on_sla(old: LeadState | None, ev: Sla, lead_id: str) -> Transition:
    """SLA events of the ``first_touch`` clock drive the lead; other clocks only feed the breach list."""
    state = old or LeadState(lead_id=lead_id)
    state = replace(
        state,
        team=state.team or ev.team,
        rating=state.rating or ev.rating,
        source=state.source or ev.source,
        owner_id=state.owner_id or ev.owner_id,
        owner_type=state.owner_type or ("user" if ev.owner_id else None),
        policy=state.policy or ev.policy,
    )
    if ev.clock != "first_touch":
        return Transition(state=state)
    if ev.kind == "started":
        return Transition(state=replace(state, due_at=state.due_at or ev.due_at))
    if ev.kind == "escalated":
        return Transition(state=replace(state, escalation_step=max(state.escalation_step, ev.escalation_step)))
    if ev.kind == "breached":
        new = replace(
            state,
            due_at=state.due_at or ev.due_at,
            breached_at=state.breached_at or ev.occurred_at,
            escalation_step=max(state.escalation_step, ev.escalation_step),
        )
        if state.outcome is None:
            return Transition(state=replace(new, outcome="missed"), outcome="missed")
        return Transition(state=new)
    if ev.kind == "cancelled":
        return Transition(state=replace(state, closed=True))
    if ev.kind == "met":
        if state.touched_at is not None:
            return Transition(state=state)  # a second "met" for the same clock changes nothing
        due = state.due_at or ev.due_at
        touched = ev.occurred_at
        owner_at = state.owner_at or ev.started_at
        new = replace(state, touched_at=touched, closed=True, due_at=due)
        sample = SpeedSample(
            at=touched,
            total=_seconds(touched, state.submitted_at),
            system=_seconds(owner_at, state.submitted_at),
            human=_seconds(touched, owner_at),
        )
        outcome: Outcome | None = None
        if state.outcome is None:
            outcome = "on_time" if touched <= due else "missed"
            new = replace(new, outcome=outcome)
        return Transition(state=new, outcome=outcome, sample=sample)
    return Transition(state=state)  # warning: nothing to change


# --- pre-aggregated counters ----------------------------------------------------------------------

TeamKey = tuple[str, str]


def _team_contrib(state: LeadState | None) -> dict[TeamKey, tuple[int, int, int]]:
    if state is None or not state.is_open:
        return {}
    key = (state.team or "(none)", state.rating or "(none)")
    return {key: (1, int(state.is_breached), int(state.is_queued))}


def _owner_contrib(state: LeadState | None) -> dict[str, tuple[int, int]]:
    if state is None or not state.is_open or not state.owner_id:
        return {}
    return {state.owner_id: (1, int(state.is_breached))}


def _diff(old: Mapping[Any, Sequence[int]], new: Mapping[Any, Sequence[int]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key in set(old) | set(new):
        before = old.get(key)
        after = new.get(key)
        width = len(before or after or ())
        delta = tuple((after[i] if after else 0) - (before[i] if before else 0) for i in range(width))
        if any(delta):
            out[key] = delta
    return out


def team_deltas(old: LeadState | None, new: LeadState) -> dict[TeamKey, tuple[int, int, int]]:
    """Changes to the (team, rating) → (open, breached, queued) counters."""
    return _diff(_team_contrib(old), _team_contrib(new))


def owner_deltas(old: LeadState | None, new: LeadState) -> dict[str, tuple[int, int]]:
    """Changes to the owner → (open, breached) counters."""
    return _diff(_owner_contrib(old), _owner_contrib(new))
