"""Merged leads and Contact follow-ups: only activity after the inquiry answers them, and their escalation
ladder never moves the record away from the rep working it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_contracts.pipeline import DuplicateOf, LeadRouted
from leadflow_sla_monitor.domain.merged import activity_floor, hold_the_record
from leadflow_sla_monitor.domain.timers import TimerState, event_id, fire, first_touch_target, meet, new_timer
from leadflow_sla_monitor.service import Calendars
from leadflow_sla_monitor.testing import MONDAY_9, make_routed, test_calendars, test_policies

pytestmark = pytest.mark.unit

DUPLICATES = [
    DuplicateOf(object="Lead", record_id="00QOLD", matched_on="email"),
    DuplicateOf(object="Lead", record_id="first", matched_on="phone", leadflow_id="first"),
    DuplicateOf(object="Contact", record_id="003C", matched_on="email"),
]


def merged(dup: DuplicateOf | None, *, accepted_delta: timedelta = timedelta(0)) -> LeadRouted:
    ev = make_routed("dup", MONDAY_9)
    lead = ev.lead.model_copy(update={"accepted_at": MONDAY_9 - accepted_delta})
    return ev.model_copy(update={"lead": lead, "enrichment": ev.enrichment.model_copy(update={"duplicate_of": dup})})


def hot_timer():  # type: ignore[no-untyped-def]
    policy = test_policies().by_name("hot")
    assert policy is not None
    calendar = Calendars(test_calendars()).for_lead(policy, "Nordics", None)
    timer, _ = new_timer(
        "dup", first_touch_target(policy, calendar, MONDAY_9), policy=policy, calendar=calendar, started_at=MONDAY_9
    )
    return timer, policy, calendar


def test_the_floor_is_when_leadflow_accepted_the_inquiry() -> None:
    assert activity_floor(merged(DUPLICATES[0], accepted_delta=timedelta(seconds=3))) == MONDAY_9 - timedelta(seconds=3)
    # a routing stamped before acceptance (clock skew between services) lowers the floor, never raises it
    skewed = merged(DUPLICATES[0]).model_copy(update={"occurred_at": MONDAY_9 - timedelta(seconds=1)})
    assert activity_floor(skewed) == MONDAY_9 - timedelta(seconds=1)


@given(offset=st.integers(min_value=-7 * 24 * 3600, max_value=7 * 24 * 3600))
def test_activity_counts_exactly_from_the_floor(offset: int) -> None:
    timer, _, calendar = hot_timer()
    at = MONDAY_9 + timedelta(seconds=offset)
    t = meet(timer, at=at, by="005A", how="status:Working", calendar=calendar, not_before=MONDAY_9)
    assert (t.timer.state is TimerState.MET) == (offset >= 0)
    assert bool(t.emissions) == (offset >= 0)
    # without a floor (a lead's own record) any touch meets, as before
    assert meet(timer, at=at, by="005A", how="status:Working", calendar=calendar).timer.state is TimerState.MET


@pytest.mark.parametrize("dup", DUPLICATES)
def test_a_merged_leads_reassign_and_team_queue_rungs_notify_the_team_leader(dup: DuplicateOf) -> None:
    timer, policy, calendar = hot_timer()
    # the test ladder: notify the team leader, reassign after 30 min, team queue after 60 more
    transition = fire(timer, policy, calendar, MONDAY_9 + timedelta(days=2))
    rungs = [e for e in transition.emissions if e.kind == "escalated"]
    assert [e.reassign_target for e in rungs] == [None, "any", "team_queue"]
    held = [hold_the_record(e, merged(dup)) for e in transition.emissions]
    assert all(e.reassign_target is None for e in held)
    assert [e.escalation_action for e in held if e.kind == "escalated"] == ["notify_team_leader"] * 3
    assert all(dup.record_id in e.reason for e in held if e.kind == "escalated" and e.escalation_step > 1)
    # same ids as the ladder's (a re-fire after a crash dedupes), same steps
    assert [(e.event_id, e.escalation_step) for e in held] == [
        (e.event_id, e.escalation_step) for e in transition.emissions
    ]
    assert held[-1].event_id == event_id("dup", "first_touch", 0, "escalated", 3)


def test_a_lead_of_its_own_is_reassigned_as_the_ladder_says() -> None:
    timer, policy, calendar = hot_timer()
    transition = fire(timer, policy, calendar, MONDAY_9 + timedelta(days=2))
    own = make_routed("dup", MONDAY_9)
    assert [hold_the_record(e, own) for e in transition.emissions] == list(transition.emissions)


STATES = list(TimerState)


@given(st.lists(st.sampled_from(STATES), min_size=1, max_size=3))
def test_a_leads_standing_over_its_clocks(states: list[TimerState]) -> None:
    """Breached while any clock is breached/escalated and unmet; else warning; else met; else on track."""
    from dataclasses import replace

    from leadflow_contracts.sla import SlaLeadStatus
    from leadflow_sla_monitor.domain.timers import lead_status

    timer, _, _ = hot_timer()
    status = lead_status(replace(timer, state=s) for s in states)
    if TimerState.BREACHED in states or TimerState.ESCALATED in states:
        assert status is SlaLeadStatus.BREACHED
    elif TimerState.WARNED in states:
        assert status is SlaLeadStatus.WARNING
    elif TimerState.MET in states:
        assert status is SlaLeadStatus.MET
    else:
        assert status is SlaLeadStatus.ON_TRACK and set(states) <= {TimerState.OPEN, TimerState.CANCELLED}


def test_merged_record_names_the_record() -> None:
    from leadflow_sla_monitor.domain.merged import merged_record

    assert [merged_record(merged(d)) for d in DUPLICATES] == ["Lead 00QOLD", "Lead first", "Contact 003C"]
    assert merged_record(make_routed("own", MONDAY_9)) is None
