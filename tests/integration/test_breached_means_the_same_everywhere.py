""" "Breached" means one thing in sla-monitor, on the ops board and in Salesforce (issue 12).

Any story of one lead — time passing (warnings, breaches, the escalation ladder), a touch, a qualification, a
reassignment that restarts the first touch for a new owner — is played through sla-monitor's own timer state
machine; every event it would publish carries the lead's standing (``lead_status``). The same events are fed
to ops' read model and to crm-sync's ``SLA_Status__c`` decision. After every step the three agree: the board
counts the lead as breached exactly when Salesforce shows ``Breached``, exactly when sla-monitor's clocks say so.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_contracts.sla import SlaEvent, SlaLeadStatus
from leadflow_crm_sync.domain.mapping import sla_status_write
from leadflow_crm_sync.domain.policy import load_policy
from leadflow_crm_sync.domain.state import LeadState as SyncState
from leadflow_ops.domain.leads import LeadState as BoardState
from leadflow_ops.domain.leads import Sla, on_sla
from leadflow_sla_monitor.domain.timers import (
    UNMET_STATES,
    Timer,
    fire,
    first_touch_target,
    lead_status,
    meet,
    new_timer,
    qualify_target,
    restart_for_new_owner,
)
from leadflow_sla_monitor.service import Calendars, sla_event
from leadflow_sla_monitor.testing import MONDAY_9, test_calendars, test_policies

pytestmark = pytest.mark.integration

POLICY = test_policies().by_name("hot")  # warning at 80 %, notify → reassign → team queue, restarts on reassign
assert POLICY is not None
CALENDAR = Calendars(test_calendars()).for_lead(POLICY, "Nordics", None)
SYNC_POLICY = load_policy(None)

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=3 * 24 * 60)),
        st.tuples(st.just("touch"), st.just(0)),
        st.tuples(st.just("qualify"), st.just(0)),
        st.tuples(st.just("reassign"), st.just(0)),
    ),
    max_size=14,
)


def ops_event(ev: SlaEvent) -> Sla:
    return Sla(
        ev.occurred_at,
        ev.kind.value,
        ev.clock,
        ev.policy,
        ev.due_at,
        ev.started_at,
        ev.owner_id,
        ev.team,
        ev.rating,
        ev.lead_source,
        ev.escalation_step,
    )


@settings(max_examples=150, deadline=None)
@given(ACTIONS)
def test_board_salesforce_and_sla_monitor_agree_on_breached(actions: list[tuple[str, int]]) -> None:
    now = MONDAY_9
    timers: dict[str, Timer] = {}
    events: list[SlaEvent] = []
    for target in (first_touch_target(POLICY, CALENDAR, now), qualify_target(POLICY, CALENDAR, now)):
        timer, started = new_timer(
            "L", target, policy=POLICY, calendar=CALENDAR, started_at=now, owner_id="005A", team="Nordics"
        )
        timers[timer.clock] = timer
        events.append(sla_event(timer, started))
    board = BoardState("L", routed_at=now, due_at=timers["first_touch"].due_at, team="Nordics", owner_id="005A")
    synced = SyncState(lead_id="L", salesforce_id="00Q000000000001AAA", sla_status="On Track")
    cycle = 0

    def publish(batch: list[SlaEvent]) -> None:
        """As sla-monitor publishes a batch: each event stamped with the lead's standing after it."""
        nonlocal board, synced
        standing = lead_status(timers.values())
        for ev in batch:
            ev = ev.model_copy(update={"lead_status": standing})
            board = on_sla(board, ops_event(ev), "L").state
            status, write = sla_status_write(ev, synced, SYNC_POLICY)
            if write is not None:
                synced = synced.with_(sla_status=status)

    publish(events)
    for action, minutes in actions:
        batch: list[SlaEvent] = []
        if action == "advance":
            now += timedelta(minutes=minutes)
            for clock, timer in list(timers.items()):
                transition = fire(timer, POLICY, CALENDAR, now)
                timers[clock] = transition.timer
                batch += [sla_event(transition.timer, e) for e in transition.emissions]
        elif action in ("touch", "qualify"):
            for clock in ("first_touch", "qualify") if action == "qualify" else ("first_touch",):
                transition = meet(timers[clock], at=now, by="005A", how="test", calendar=CALENDAR)
                timers[clock] = transition.timer
                batch += [sla_event(transition.timer, e) for e in transition.emissions]
        elif timers["first_touch"].state in UNMET_STATES:  # reassign: route answers, the first touch restarts
            cycle += 1
            target = first_touch_target(POLICY, CALENDAR, now)
            restarted, started = restart_for_new_owner(
                timers["first_touch"], target, owner_id=f"005R{cycle}", team="Nordics", started_at=now, cycle=cycle
            )
            timers["first_touch"] = restarted
            timers["qualify"] = replace(timers["qualify"], owner_id=f"005R{cycle}")
            batch.append(sla_event(restarted, started))
        publish(batch)

        breached_in_monitor = lead_status(timers.values()) is SlaLeadStatus.BREACHED
        assert bool(board.open_breaches) == breached_in_monitor, (action, board.breached_clocks, timers)
        assert (synced.sla_status == "Breached") == breached_in_monitor, (action, synced.sla_status)
