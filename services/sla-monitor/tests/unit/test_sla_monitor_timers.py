"""The timer state machine and escalation ladder, with business hours, holidays and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from leadflow_sla_monitor.domain.timers import (
    TimerState,
    callback_is_ahead,
    callback_target,
    event_id,
    fire,
    first_touch_for_callback,
    first_touch_target,
    meet,
    new_timer,
    owner_unavailable,
    qualify_target,
    restart_for_new_owner,
)
from leadflow_sla_monitor.testing import MONDAY_9, test_calendars, test_policies

pytestmark = pytest.mark.unit

OSLO = ZoneInfo("Europe/Oslo")
NEW_YORK = ZoneInfo("America/New_York")
CALS = test_calendars().calendars
POLICIES = test_policies()
HOT = POLICIES.by_name("hot")
assert HOT is not None


def hot_timer(start: datetime = MONDAY_9, lead: str = "L1"):
    cal = CALS["oslo"]
    timer, started = new_timer(
        lead,
        first_touch_target(HOT, cal, start),
        policy=HOT,
        calendar=cal,
        started_at=start,
        owner_id="005REP1",
        team="Nordics",
    )
    return timer, started, cal


def test_new_first_touch_timer_is_due_in_business_minutes() -> None:
    timer, started, _ = hot_timer()
    assert timer.due_at == datetime(2026, 3, 2, 10, 0, tzinfo=OSLO)
    assert timer.warn_at == datetime(2026, 3, 2, 9, 48, tzinfo=OSLO)  # 80 % of 60 minutes
    assert timer.next_fire_at == timer.warn_at
    assert started.kind == "started" and started.event_id == event_id("L1", "first_touch", 0, "started")


def test_deadline_pauses_over_lunch_weekend_and_holiday() -> None:
    cal = CALS["oslo"]
    friday = datetime(2026, 5, 15, 15, 30, tzinfo=OSLO)  # 18 May 2026 is a Monday; 14 May was Ascension
    target = first_touch_target(HOT, cal, friday)
    assert target.due_at == datetime(2026, 5, 18, 8, 30, tzinfo=OSLO)
    # Whit Monday (25 May 2026) is a Norwegian holiday: Friday 22 May 15:30 + 60 min → Tuesday 08:30.
    assert first_touch_target(HOT, cal, datetime(2026, 5, 22, 15, 30, tzinfo=OSLO)).due_at == datetime(
        2026, 5, 26, 8, 30, tzinfo=OSLO
    )
    lunch = first_touch_target(HOT, cal, datetime(2026, 3, 2, 11, 30, tzinfo=OSLO))
    assert lunch.due_at == datetime(2026, 3, 2, 13, 0, tzinfo=OSLO)


def test_qualify_target_in_business_days_across_time_zones() -> None:
    berlin = CALS["berlin"]
    # Thursday 24 Dec 2026 10:00 Berlin + 2 business days: 25 Dec holiday, weekend, 28 Dec, 29 Dec.
    target = qualify_target(HOT, berlin, datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    assert target.due_at == datetime(2026, 12, 29, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_warning_then_breach_then_whole_ladder() -> None:
    timer, _, cal = hot_timer()
    assert fire(timer, HOT, cal, MONDAY_9 + timedelta(minutes=47)).emissions == ()

    warned = fire(timer, HOT, cal, timer.warn_at)
    assert [e.kind for e in warned.emissions] == ["warning"]
    assert warned.timer.state is TimerState.WARNED and warned.timer.next_fire_at == timer.due_at

    breached = fire(warned.timer, HOT, cal, timer.due_at)
    assert [(e.kind, e.escalation_action) for e in breached.emissions] == [
        ("breached", None),
        ("escalated", "notify_team_leader"),  # delay 0: same round
    ]
    assert breached.breached and breached.timer.state is TimerState.BREACHED
    assert breached.timer.next_fire_at == datetime(2026, 3, 2, 10, 30, tzinfo=OSLO)

    reassign = fire(breached.timer, HOT, cal, datetime(2026, 3, 2, 10, 30, tzinfo=OSLO))
    assert [(e.escalation_step, e.escalation_action, e.reassign_target) for e in reassign.emissions] == [
        (2, "reassign", "any")
    ]
    assert not reassign.breached
    # team_queue 60 business minutes later: 11:30.
    assert reassign.timer.next_fire_at == datetime(2026, 3, 2, 11, 30, tzinfo=OSLO)
    queue = fire(reassign.timer, HOT, cal, datetime(2026, 3, 2, 11, 30, tzinfo=OSLO))
    assert [(e.escalation_step, e.reassign_target) for e in queue.emissions] == [(3, "team_queue")]
    assert queue.timer.state is TimerState.ESCALATED and queue.timer.next_fire_at is None
    assert fire(queue.timer, HOT, cal, datetime(2026, 3, 9, tzinfo=UTC)).emissions == ()


def test_a_late_run_catches_up_with_the_same_event_ids() -> None:
    timer, _, cal = hot_timer()
    step_by_step = []
    current = timer
    for at in (
        timer.warn_at,
        timer.due_at,
        datetime(2026, 3, 2, 10, 30, tzinfo=OSLO),
        datetime(2026, 3, 2, 11, 30, tzinfo=OSLO),
    ):
        t = fire(current, HOT, cal, at)
        step_by_step.extend(e.event_id for e in t.emissions)
        current = t.timer
    late = fire(timer, HOT, cal, datetime(2026, 3, 3, 12, 0, tzinfo=OSLO))
    # No warning once the deadline has passed, otherwise the same events with the same ids.
    assert [e.kind for e in late.emissions] == ["breached", "escalated", "escalated", "escalated"]
    assert [e.event_id for e in late.emissions] == step_by_step[1:]
    assert late.timer.state is TimerState.ESCALATED


def test_ladder_steps_wait_for_business_hours() -> None:
    cal = CALS["oslo"]
    friday = datetime(2026, 3, 6, 14, 50, tzinfo=OSLO)
    timer, _, _ = hot_timer(friday)
    assert timer.due_at == datetime(2026, 3, 6, 15, 50, tzinfo=OSLO)
    breached = fire(timer, HOT, cal, timer.due_at)
    # reassign 30 business minutes after the breach: 10 minutes on Friday, 20 on Monday.
    assert breached.timer.next_fire_at == datetime(2026, 3, 9, 8, 20, tzinfo=OSLO)
    assert fire(breached.timer, HOT, cal, datetime(2026, 3, 7, 12, 0, tzinfo=OSLO)).emissions == ()


def test_meet_reports_business_and_wall_time() -> None:
    friday = datetime(2026, 3, 6, 15, 30, tzinfo=OSLO)
    timer, _, cal = hot_timer(friday)
    touched = datetime(2026, 3, 9, 8, 15, tzinfo=OSLO)  # Monday
    t = meet(timer, at=touched, by="005REP1", how="task:Call", calendar=cal)
    (emission,) = t.emissions
    assert t.timer.state is TimerState.MET and t.timer.next_fire_at is None
    assert t.reason == "met_on_time"
    assert emission.business_seconds == 45 * 60
    assert emission.wall_seconds == (touched - friday).total_seconds()
    assert t.timer.met_by == "005REP1" and t.timer.met_how == "task:Call"
    assert meet(t.timer, at=touched, by="x", how="again", calendar=cal).emissions == ()


def test_met_after_breach_is_late_and_stops_the_ladder() -> None:
    timer, _, cal = hot_timer()
    breached = fire(timer, HOT, cal, timer.due_at)
    t = meet(breached.timer, at=timer.due_at + timedelta(minutes=5), by="005REP1", how="status:Working", calendar=cal)
    assert t.reason == "met_late" and t.timer.next_fire_at is None
    assert fire(t.timer, HOT, cal, datetime(2026, 3, 3, tzinfo=UTC)).emissions == ()


def test_restart_for_new_owner_is_a_new_cycle() -> None:
    timer, _, cal = hot_timer()
    breached = fire(timer, HOT, cal, timer.due_at).timer
    later = datetime(2026, 3, 2, 10, 30, tzinfo=OSLO)
    restarted, started = restart_for_new_owner(
        breached, first_touch_target(HOT, cal, later), owner_id="005REP2", team="Nordics", started_at=later, cycle=1
    )
    assert restarted.state is TimerState.OPEN and restarted.owner_id == "005REP2"
    assert restarted.due_at == datetime(2026, 3, 2, 11, 30, tzinfo=OSLO)
    assert (
        started.event_id == event_id("L1", "first_touch", 1, "started") != event_id("L1", "first_touch", 0, "started")
    )
    # The new cycle's events have ids of their own.
    again = fire(restarted, HOT, cal, restarted.due_at)
    assert all(
        e.event_id not in {x.event_id for x in fire(timer, HOT, cal, timer.due_at).emissions} for e in again.emissions
    )


def test_callback_in_the_prospects_time_zone() -> None:
    policy = POLICIES.by_name("callback")
    assert policy is not None
    prospect = policy.resolve_calendar(CALS, "America/New_York")
    # The prospect asked for a call at 10:00 New York time on Tuesday.
    requested = datetime(2026, 3, 3, 10, 0, tzinfo=NEW_YORK)
    target = callback_target(policy, requested, None)
    assert target.due_at == datetime(2026, 3, 3, 10, 15, tzinfo=NEW_YORK)
    assert target.warn_at == datetime(2026, 3, 3, 9, 45, tzinfo=NEW_YORK)
    routed_at = datetime(2026, 3, 2, 20, 0, tzinfo=NEW_YORK)  # Monday evening in New York, 02:00 Oslo
    timer, _ = new_timer("L9", target, policy=policy, calendar=prospect, started_at=routed_at)
    assert timer.timezone == "America/New_York"
    # A call before the window does not meet the callback; one inside it does.
    early = meet(timer, at=datetime(2026, 3, 3, 9, 0, tzinfo=NEW_YORK), by="r", how="task:Call", calendar=prospect)
    assert early.emissions == ()
    on_time = meet(timer, at=datetime(2026, 3, 3, 10, 5, tzinfo=NEW_YORK), by="r", how="task:Call", calendar=prospect)
    assert on_time.reason == "met_on_time"
    # Business time counted in the prospect's hours: Tuesday 08:00 → 10:05 New York = 125 minutes.
    assert on_time.emissions[0].business_seconds == 125 * 60
    # First touch for that lead, in the prospect's zone: Monday 20:00 NY is after hours → Tuesday 09:00 NY.
    assert first_touch_target(policy, prospect, routed_at).due_at == datetime(2026, 3, 3, 9, 0, tzinfo=NEW_YORK)


def test_reminder_and_breach_of_a_callback_use_wall_time() -> None:
    policy = POLICIES.by_name("callback")
    assert policy is not None
    cal = CALS["oslo"]
    requested = datetime(2026, 3, 7, 11, 0, tzinfo=OSLO)  # a Saturday: the prospect's choice wins
    timer, _ = new_timer(
        "L8", callback_target(policy, requested, None), policy=policy, calendar=cal, started_at=MONDAY_9
    )
    reminder = fire(timer, policy, cal, datetime(2026, 3, 7, 10, 45, tzinfo=OSLO))
    assert [e.kind for e in reminder.emissions] == ["warning"]
    breach = fire(reminder.timer, policy, cal, datetime(2026, 3, 7, 11, 15, tzinfo=OSLO))
    assert [e.kind for e in breach.emissions] == ["breached", "escalated"]


def test_a_missed_callback_is_one_breach_with_the_whole_ladder() -> None:
    hot = POLICIES.by_name("hot")
    assert hot is not None and len(hot.escalation) == 3
    cal = CALS["oslo"]
    requested = datetime(2026, 3, 2, 14, 0, tzinfo=OSLO)
    callback = callback_target(hot, requested, requested + timedelta(minutes=30))
    assert callback.due_at == datetime(2026, 3, 2, 14, 45, tzinfo=OSLO)  # window end + 15 min tolerance
    # Route stamps first touch at the requested minute; the first touch follows the callback.
    stamped = first_touch_target(hot, cal, MONDAY_9, requested)
    ft_target = first_touch_for_callback(stamped, callback, MONDAY_9)
    assert ft_target.due_at == callback.due_at and not ft_target.fires
    cb, _ = new_timer("L7", callback, policy=hot, calendar=cal, started_at=MONDAY_9)
    ft, ft_started = new_timer("L7", ft_target, policy=hot, calendar=cal, started_at=MONDAY_9)
    assert ft.next_fire_at is None and ft.warn_at is None and "follows the requested callback" in ft_started.reason
    # Nobody calls: over the whole afternoon and the next day, only the callback clock speaks.
    emitted = []
    for timer in (cb, ft):
        current = timer
        for minutes in range(0, 60 * 30, 5):
            transition = fire(current, hot, cal, requested + timedelta(minutes=minutes))
            emitted.extend((current.clock, e.kind, e.escalation_action) for e in transition.emissions)
            current = transition.timer
    assert [e for e in emitted if e[1] == "breached"] == [("callback", "breached", None)]
    assert [e[2] for e in emitted if e[1] == "escalated"] == ["notify_team_leader", "reassign", "team_queue"]
    assert all(clock == "callback" for clock, _kind, _action in emitted)
    # The call that meets the callback meets the first touch as well (late here, so counted as missed).
    late = datetime(2026, 3, 2, 15, 0, tzinfo=OSLO)
    assert meet(ft, at=late, by="r", how="task:Call", calendar=cal).reason == "met_late"
    # A callback already past when the lead is routed leaves the business-time target alone.
    past = callback_target(hot, MONDAY_9 - timedelta(hours=2), None)
    normal = first_touch_target(hot, cal, MONDAY_9)
    assert first_touch_for_callback(normal, past, MONDAY_9) is normal
    assert not callback_is_ahead(past, MONDAY_9)


def test_owner_unavailable_exactly_at_threshold() -> None:
    assert [owner_unavailable(n, HOT) for n in range(4)] == [False, False, True, False]
    default = POLICIES.by_name("default")
    assert default is not None and not owner_unavailable(2, default)


def test_event_ids_are_deterministic() -> None:
    assert event_id("L1", "qualify", 0, "breached") == event_id("L1", "qualify", 0, "breached")
    assert (
        len({event_id("L1", "qualify", 0, k, s) for k in ("warning", "breached", "escalated") for s in (0, 1, 2)}) == 9
    )
