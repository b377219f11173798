"""How a simulated rep works one lead: a plan of actions at simulated-minute offsets from when it was seen.

Deterministic: the RNG is seeded from (simulation seed, lead id, owner id), so a lead gets the same plan
whatever order leads are discovered in, and tests can predict every decision.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

WORKING_STATUS = "Working - Contacted"
OPEN_STATUS = "Open - Not Contacted"


class Range(BaseModel):
    model_config = ConfigDict(frozen=True)
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            if len(v) != 2:
                raise ValueError("a range is [low, high]")
            return {"low": v[0], "high": v[1]}
        return v

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError("high must be ≥ low")
        return self

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


class Behaviour(BaseModel):
    """Probabilities and simulated-minute delays (behaviour.yaml, version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=1)
    ignore_probability: float = Field(ge=0, le=1)
    quick_probability: float = Field(ge=0, le=1)
    quick_first_touch_minutes: Range
    late_first_touch_minutes: Range
    connect_probability: float = Field(ge=0, le=1)
    qualify_probability: float = Field(ge=0, le=1)
    disqualify_probability: float = Field(ge=0, le=1)
    decide_after_minutes: Range
    call_back_after_minutes: Range
    call_seconds: Range
    qualified_statuses: tuple[str, ...] = Field(min_length=1)
    disqualified_statuses: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _outcomes(self) -> Behaviour:
        if self.qualify_probability + self.disqualify_probability > 1:
            raise ValueError("qualify_probability + disqualify_probability must be ≤ 1")
        return self


class BehaviourError(ValueError):
    pass


def load_behaviour(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Behaviour:
    """The packaged behaviour.yaml (or ``path``), with ``overrides``; errors name the bad field."""
    source = path or Path(__file__).resolve().parents[1] / "behaviour.yaml"
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise BehaviourError(f"{source}: {e}") from None
    if not isinstance(raw, dict):
        raise BehaviourError(f"{source}: expected a mapping")
    raw.update(overrides or {})
    try:
        return Behaviour.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        raise BehaviourError(f"{source}: {problems}") from None


class ActionKind(StrEnum):
    CALL = "call"
    WORKING = "working"
    QUALIFY = "qualify"
    DISQUALIFY = "disqualify"
    COMPLETE = "complete"
    """Complete the follow-up Task (and set its Lead "Working - Contacted" if still untouched)."""


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    at_minutes: float
    """Simulated minutes after the rep first saw the lead."""
    disposition: str | None = None
    call_seconds: int | None = None


@dataclass(frozen=True)
class Plan:
    lead_id: str
    """The record the plan works: a Lead, or (``who_id`` set) an open follow-up Task."""
    owner_id: str
    actions: tuple[Action, ...]
    reason: str
    who_id: str | None = None
    """A follow-up Task's WhoId (the Lead or Contact the rep calls); None for a Lead's own plan."""

    @property
    def follow_up(self) -> bool:
        return self.who_id is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "owner_id": self.owner_id,
            "reason": self.reason,
            "actions": [{**asdict(a), "kind": a.kind.value} for a in self.actions],
            "who_id": self.who_id,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Plan:
        return Plan(
            data["lead_id"],
            data["owner_id"],
            tuple(Action(**{**a, "kind": ActionKind(a["kind"])}) for a in data["actions"]),
            data["reason"],
            data.get("who_id"),
        )


def lead_rng(seed: int, lead_id: str, owner_id: str) -> random.Random:
    return random.Random(f"{seed}:{lead_id}:{owner_id}")


def plan_lead(lead_id: str, owner_id: str, behaviour: Behaviour, rng: random.Random) -> Plan:
    """What this rep will do with this lead, and why."""
    b = behaviour
    if rng.random() < b.ignore_probability:
        return Plan(lead_id, owner_id, (), "ignored")
    quick = rng.random() < b.quick_probability
    t = (b.quick_first_touch_minutes if quick else b.late_first_touch_minutes).draw(rng)
    touch = "quick first call" if quick else "late first call"
    actions: list[Action] = []
    connected = rng.random() < b.connect_probability
    actions.append(
        Action(
            ActionKind.CALL,
            t,
            "Connected" if connected else "No answer",
            int(b.call_seconds.draw(rng)) if connected else 0,
        )
    )
    actions.append(Action(ActionKind.WORKING, t))
    if not connected:
        t += b.call_back_after_minutes.draw(rng)
        actions.append(Action(ActionKind.CALL, t, "Connected", int(b.call_seconds.draw(rng))))
        touch += ", no answer, called back"
    outcome = rng.random()
    t += b.decide_after_minutes.draw(rng)
    if outcome < b.qualify_probability:
        actions.append(Action(ActionKind.QUALIFY, t))
        result = "qualified"
    elif outcome < b.qualify_probability + b.disqualify_probability:
        actions.append(Action(ActionKind.DISQUALIFY, t))
        result = "disqualified"
    else:
        result = "left working"
    return Plan(lead_id, owner_id, tuple(actions), f"{touch}; {result}")


def plan_follow_up(task_id: str, who_id: str, owner_id: str, behaviour: Behaviour, rng: random.Random) -> Plan:
    """What this rep will do with an open follow-up Task (a repeat inquiry filed on a Lead or Contact).

    The same response as to a new lead, drawn from the same behaviour (ignored, quick or late first call, no
    answer and a call back): each call is a Call Task on the Task's WhoId, and the follow-up Task is completed
    (``ActionKind.COMPLETE``) with the last call. Qualifying is the record's business, not the follow-up's:
    a Lead's own plan decides it, and a Contact is already a customer.
    """
    lead_plan = plan_lead(task_id, owner_id, behaviour, rng)
    calls = tuple(a for a in lead_plan.actions if a.kind is ActionKind.CALL)
    if not calls:
        return Plan(task_id, owner_id, (), "follow-up ignored", who_id)
    touch = lead_plan.reason.split("; ", 1)[0]
    done = Action(ActionKind.COMPLETE, calls[-1].at_minutes)
    return Plan(task_id, owner_id, (*calls, done), f"follow-up: {touch}; completed", who_id)


def real_delay(minutes: float, time_scale: float) -> timedelta:
    """Simulated minutes → real time (time_scale 60: one simulated minute per real second)."""
    return timedelta(seconds=minutes * 60.0 / time_scale)


def due_actions(plan: Plan, done: int, seen_at: datetime, now: datetime, time_scale: float) -> list[Action]:
    """The not-yet-done actions whose time has come, in order."""
    out = []
    for action in plan.actions[done:]:
        if seen_at + real_delay(action.at_minutes, time_scale) > now:
            break
        out.append(action)
    return out


def pick_status(candidates: tuple[str, ...], available: set[str]) -> str:
    """The first candidate the org's Lead.Status picklist offers (the org decides which names exist)."""
    for c in candidates:
        if c in available:
            return c
    raise BehaviourError(f"none of the statuses {list(candidates)} is in the Lead.Status picklist {sorted(available)}")
