"""SLA timers and their state machine. Pure: values in, (new timer, emissions) out, each with its reason.

A timer is one clock of one lead (``first_touch``, ``qualify`` or ``callback``):

    open ──warn_at──► warned ──due_at──► breached ──ladder…──► escalated
      │                 │                   │                      │
      └──────── met (touch / qualification / conversion) ──────────┘ (met late is still reported)

``next_fire_at`` is when the scheduler must look at the timer again (None once it is finished).
Business-time clocks pause outside working hours because their instants are computed with a
``BusinessCalendar``; the callback clock runs on the wall clock (the prospect named a time).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from leadflow_businesstime import BusinessCalendar, EscalationAction, EscalationStep, SlaPolicy
from leadflow_contracts.sla import SlaLeadStatus

ClockName = Literal["first_touch", "qualify", "callback"]
CLOCKS: tuple[ClockName, ...] = ("first_touch", "qualify", "callback")
MARK_UNAVAILABLE = "mark_unavailable"
_EVENT_NAMESPACE = uuid.UUID("5f0c7f4e-3a51-4d0c-9a61-51a0c1d0e7b2")


class TimerState(StrEnum):
    OPEN = "open"
    WARNED = "warned"
    BREACHED = "breached"
    ESCALATED = "escalated"
    MET = "met"
    CANCELLED = "cancelled"


ACTIVE_STATES: tuple[TimerState, ...] = (TimerState.OPEN, TimerState.WARNED, TimerState.BREACHED)
"""States the scheduler still has work for."""
UNMET_STATES: tuple[TimerState, ...] = (*ACTIVE_STATES, TimerState.ESCALATED)
"""States a touch or qualification can still meet."""


def event_id(lead_id: str, clock: str, cycle: int, kind: str, step: int | str = 0) -> str:
    """Deterministic event id: a re-fired timer re-publishes the same id, which consumers dedupe."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{lead_id}|{clock}|{cycle}|{kind}|{step}"))


@dataclass(frozen=True, slots=True)
class Timer:
    lead_id: str
    clock: ClockName
    policy: str
    calendar: str
    timezone: str
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None
    next_fire_at: datetime | None
    state: TimerState = TimerState.OPEN
    cycle: int = 0
    escalation_step: int = 0
    owner_id: str | None = None
    team: str | None = None
    rating: str | None = None
    lead_source: str | None = None
    client_type: str | None = None
    met_by: str | None = None
    met_how: str | None = None
    met_at: datetime | None = None
    version: int = 0
    breached_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True, slots=True)
class Emission:
    """Something the service must publish: an SLA event (and, for some escalations, a reassignment)."""

    event_id: str
    kind: Literal["started", "warning", "breached", "met", "escalated", "cancelled"]
    at: datetime
    reason: str
    escalation_step: int = 0
    escalation_action: str | None = None
    reassign_target: Literal["any", "team_queue"] | None = None
    business_seconds: float | None = None
    wall_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    timer: Timer
    emissions: tuple[Emission, ...] = ()
    breached: bool = False
    reason: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.emissions) or self.breached


@dataclass(frozen=True, slots=True)
class Target:
    """Where a new clock's deadline comes from."""

    clock: ClockName
    due_at: datetime
    warn_at: datetime | None
    business: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    fires: bool = True
    """False for a clock that never warns or breaches by itself: a first touch that follows a
    requested callback (the callback clock warns, breaches and escalates for both)."""


def warn_time(
    calendar: BusinessCalendar, started_at: datetime, due_at: datetime, fraction: float, *, business: bool
) -> datetime | None:
    """The instant ``fraction`` of the way from start to due (in business time for business clocks)."""
    if due_at <= started_at:
        return None
    if not business:
        return started_at + (due_at - started_at) * fraction
    total = calendar.business_seconds_between(started_at, due_at)
    if total <= 0:
        return None
    return calendar.add_business_time(started_at, timedelta(seconds=total * fraction))


def first_touch_target(
    policy: SlaPolicy, calendar: BusinessCalendar, started_at: datetime, due_at: datetime | None = None
) -> Target:
    due = due_at or calendar.add_business_time(started_at, policy.first_touch)
    return Target("first_touch", due, warn_time(calendar, started_at, due, policy.warn_at, business=True))


def qualify_target(
    policy: SlaPolicy, calendar: BusinessCalendar, started_at: datetime, due_at: datetime | None = None
) -> Target:
    due = due_at or calendar.add_business_days(started_at, policy.qualify_days)
    return Target("qualify", due, warn_time(calendar, started_at, due, policy.warn_at, business=True))


def callback_target(policy: SlaPolicy, requested_start: datetime, requested_end: datetime | None) -> Target:
    """A requested callback is due at the end of the requested window (its start if it has no end)
    plus the tolerance, in wall time: the prospect chose it. The warning (a reminder for the owner)
    comes when the window opens minus the tolerance; a touch before that does not meet it."""
    due = (requested_end or requested_start) + policy.callback_tolerance
    warn = requested_start - policy.callback_tolerance
    return Target("callback", due, warn if warn < due else None, business=False)


def first_touch_for_callback(first_touch: Target, callback: Target, started_at: datetime) -> Target:
    """With a callback still ahead, the first touch follows it: due when the callback is (the
    window's tolerance applies to both), and silent. One missed callback is one miss, so only the
    callback clock warns, breaches and climbs the escalation ladder; the call that meets the
    callback meets the first touch too. A callback already past at routing leaves the first touch alone
    (and gets no clock of its own: see ``callback_is_ahead``)."""
    if not callback_is_ahead(callback, started_at):
        return first_touch
    return Target(
        "first_touch",
        callback.due_at,
        None,
        business=False,
        notes=(*first_touch.notes, "follows the requested callback"),
        fires=False,
    )


def callback_is_ahead(callback: Target, started_at: datetime) -> bool:
    """True if the requested callback can still be honoured when the clocks start."""
    return callback.due_at > started_at


def follows_callback(timer: Timer) -> bool:
    """A first-touch clock that waits for the callback clock (it has no instant of its own to fire)."""
    return timer.clock == "first_touch" and timer.next_fire_at is None and timer.state is TimerState.OPEN


def new_timer(
    lead_id: str,
    target: Target,
    *,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    started_at: datetime,
    cycle: int = 0,
    owner_id: str | None = None,
    team: str | None = None,
    rating: str | None = None,
    lead_source: str | None = None,
    client_type: str | None = None,
) -> tuple[Timer, Emission]:
    warn = target.warn_at if target.fires and target.warn_at is not None and target.warn_at < target.due_at else None
    timer = Timer(
        lead_id=lead_id,
        clock=target.clock,
        policy=policy.name,
        calendar=calendar.name,
        timezone=calendar.timezone,
        started_at=started_at,
        due_at=target.due_at,
        warn_at=warn,
        next_fire_at=(warn or target.due_at) if target.fires else None,
        cycle=cycle,
        owner_id=owner_id,
        team=team,
        rating=rating,
        lead_source=lead_source,
        client_type=client_type,
    )
    started = Emission(
        event_id(lead_id, target.clock, cycle, "started"),
        "started",
        started_at,
        reason=f"policy {policy.name}: {target.clock} due {target.due_at.isoformat()} ({calendar.name})"
        + "".join(f"; {note}" for note in target.notes),
    )
    return timer, started


def restart_for_new_owner(
    timer: Timer, target: Target, *, owner_id: str | None, team: str | None, started_at: datetime, cycle: int
) -> tuple[Timer, Emission]:
    """A reassigned lead's first-touch clock starts again for the new owner (policy ``reset_on_reassign``)."""
    warn = target.warn_at if target.fires and target.warn_at is not None and target.warn_at < target.due_at else None
    restarted = replace(
        timer,
        state=TimerState.OPEN,
        cycle=cycle,
        started_at=started_at,
        due_at=target.due_at,
        warn_at=warn,
        next_fire_at=(warn or target.due_at) if target.fires else None,
        escalation_step=0,
        owner_id=owner_id,
        team=team,
        breached_at=None,
    )
    started = Emission(
        event_id(timer.lead_id, timer.clock, cycle, "started"),
        "started",
        started_at,
        reason=f"reassigned to {owner_id}: {timer.clock} restarts, due {target.due_at.isoformat()}",
    )
    return restarted, started


def _step_time(calendar: BusinessCalendar, base: datetime, delay: timedelta) -> datetime:
    return calendar.add_business_time(base, delay) if delay > timedelta(0) else base


def ladder(timer: Timer, policy: SlaPolicy) -> tuple[EscalationStep, ...]:
    """The escalation steps for this clock: the policy's whole ladder. A callback clock carries it
    for the lead (the first touch follows the callback silently), so one miss escalates once."""
    return policy.escalation


def stop_ladder(timer: Timer) -> Timer:
    """A breached clock whose lead was reassigned: the rest of its ladder no longer applies."""
    if timer.state is not TimerState.BREACHED:
        return timer
    return replace(timer, state=TimerState.ESCALATED, next_fire_at=None)


def fire(timer: Timer, policy: SlaPolicy, calendar: BusinessCalendar, now: datetime) -> Transition:
    """Everything due on ``timer`` by ``now``: warning, breach and the escalation steps whose time has come.

    Steps are scheduled from the previous step's *scheduled* time (not from ``now``), so a late or
    repeated run computes the same instants and the same event ids.
    """
    current = timer
    emissions: list[Emission] = []
    breached = False
    steps = ladder(timer, policy)
    for _ in range(len(steps) + 3):
        at = current.next_fire_at
        if not current.active or at is None or at > now:
            break
        if current.state is TimerState.OPEN and current.warn_at is not None and now < current.due_at:
            emissions.append(
                Emission(
                    event_id(current.lead_id, current.clock, current.cycle, "warning"),
                    "warning",
                    at,
                    reason=f"{policy.warn_at:.0%} of the {current.clock} target used; due {current.due_at.isoformat()}",
                )
            )
            current = replace(current, state=TimerState.WARNED, next_fire_at=current.due_at)
            continue
        if current.state in (TimerState.OPEN, TimerState.WARNED):
            breached = True
            emissions.append(
                Emission(
                    event_id(current.lead_id, current.clock, current.cycle, "breached"),
                    "breached",
                    current.due_at,
                    reason=f"{current.clock} not met by {current.due_at.isoformat()} (policy {policy.name})",
                )
            )
            if steps:
                nxt: datetime | None = _step_time(calendar, current.due_at, steps[0].delay)
                state = TimerState.BREACHED
            else:
                nxt, state = None, TimerState.ESCALATED
            current = replace(current, state=state, next_fire_at=nxt, breached_at=current.due_at, escalation_step=0)
            continue
        # BREACHED: run ladder step number escalation_step (0-based).
        index = current.escalation_step
        step = steps[index] if index < len(steps) else None
        if step is None:
            current = replace(current, state=TimerState.ESCALATED, next_fire_at=None)
            break
        target: Literal["any", "team_queue"] | None = None
        if step.action is EscalationAction.REASSIGN:
            target = "any"
        elif step.action is EscalationAction.TEAM_QUEUE:
            target = "team_queue"
        emissions.append(
            Emission(
                event_id(current.lead_id, current.clock, current.cycle, "escalated", index + 1),
                "escalated",
                at,
                reason=f"escalation step {index + 1}/{len(steps)}: {step.action.value}",
                escalation_step=index + 1,
                escalation_action=step.action.value,
                reassign_target=target,
            )
        )
        if index + 1 < len(steps):
            current = replace(
                current,
                escalation_step=index + 1,
                next_fire_at=_step_time(calendar, at, steps[index + 1].delay),
            )
        else:
            current = replace(current, escalation_step=index + 1, state=TimerState.ESCALATED, next_fire_at=None)
    return Transition(current, tuple(emissions), breached, reason=",".join(e.kind for e in emissions))


def meet(
    timer: Timer,
    *,
    at: datetime,
    by: str | None,
    how: str,
    calendar: BusinessCalendar,
    not_before: datetime | None = None,
) -> Transition:
    """The clock is stopped by a touch or qualification at ``at``. Met late (after a breach) is still met.

    ``not_before``: activity earlier than this does not count. A merged lead or Contact follow-up passes
    the instant leadflow accepted it: the record it went into may have been worked long before, and only
    activity after the new inquiry answers it (``domain.merged.activity_floor``).
    """
    if timer.state not in UNMET_STATES:
        return Transition(timer, reason=f"already {timer.state.value}")
    if not_before is not None and at < not_before:
        return Transition(timer, reason="activity before the inquiry was submitted")
    if timer.clock == "callback" and timer.warn_at is not None and at < timer.warn_at:
        return Transition(timer, reason="touch before the requested callback window")
    wall = (at - timer.started_at).total_seconds()
    business = calendar.business_seconds_between(timer.started_at, at) if at > timer.started_at else 0.0
    late = at > timer.due_at
    met = replace(timer, state=TimerState.MET, next_fire_at=None, met_by=by, met_how=how, met_at=at)
    emission = Emission(
        event_id(timer.lead_id, timer.clock, timer.cycle, "met"),
        "met",
        at,
        reason=f"{timer.clock} met by {how}" + (" (late)" if late else ""),
        business_seconds=max(business, 0.0),
        wall_seconds=max(wall, 0.0),
    )
    return Transition(met, (emission,), reason="met_late" if late else "met_on_time")


def cancel(timer: Timer, *, at: datetime, reason: str) -> Transition:
    if timer.state not in UNMET_STATES:
        return Transition(timer, reason=f"already {timer.state.value}")
    cancelled = replace(timer, state=TimerState.CANCELLED, next_fire_at=None)
    emission = Emission(event_id(timer.lead_id, timer.clock, timer.cycle, "cancelled"), "cancelled", at, reason)
    return Transition(cancelled, (emission,), reason=reason)


def owner_unavailable(consecutive_breaches: int, policy: SlaPolicy) -> bool:
    """True exactly when an owner's run of breaches reaches the policy's threshold."""
    return policy.mark_unavailable_after is not None and consecutive_breaches == policy.mark_unavailable_after


def lead_status(timers: Iterable[Timer]) -> SlaLeadStatus:
    """A lead's SLA standing over all its clocks, each in its current cycle (``SlaEvent.lead_status``, what
    Salesforce's ``SLA_Status__c`` and the ops board's "breached" show).

    Breached while any clock is breached and not met since (``breached`` or ``escalated``: a reassignment
    restarts the first touch in a new cycle, so the new owner starts on track, while a breached qualify or
    callback clock stays breached until met); else warning while any clock is warned; else met once any
    clock is met; else on track. A cancelled clock does not count.
    """
    states = {t.state for t in timers}
    if states & {TimerState.BREACHED, TimerState.ESCALATED}:
        return SlaLeadStatus.BREACHED
    if TimerState.WARNED in states:
        return SlaLeadStatus.WARNING
    if TimerState.MET in states:
        return SlaLeadStatus.MET
    return SlaLeadStatus.ON_TRACK
