"""Lead state transitions and the pre-aggregated counter deltas they produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from leadflow_ops.domain.leads import (
    LeadState,
    Routed,
    Sla,
    Synced,
    on_routed,
    on_sla,
    on_synced,
    owner_deltas,
    team_deltas,
)

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(minutes=15)


def routed(owner: str = "R1", owner_type: str = "user", reassignment: int = 0, at: datetime = T0) -> Routed:
    return Routed(
        at,
        "DACH",
        "Hot",
        "web_form",
        owner,
        owner_type,
        "Rep",
        "hot-15m",
        T0 - timedelta(seconds=40),
        at + timedelta(minutes=15),
        reassignment,
    )


def sla(kind: str, at: datetime, clock: str = "first_touch", step: int = 0) -> Sla:
    return Sla(at, kind, clock, "hot-15m", DUE, T0 + timedelta(seconds=20), "R1", "DACH", "Hot", "web_form", step)


def test_routed_lead_is_open_and_counted_once() -> None:
    tr = on_routed(None, routed(), "L1")
    assert tr.new_arrival and tr.state.is_open and tr.state.due_at == DUE
    assert team_deltas(None, tr.state) == {("DACH", "Hot"): (1, 0, 0)}
    assert owner_deltas(None, tr.state) == {"R1": (1, 0)}
    again = on_routed(tr.state, routed(), "L1")
    assert not again.new_arrival
    assert team_deltas(tr.state, again.state) == {}


def test_breach_then_touch_moves_counters_and_records_one_miss() -> None:
    s0 = on_routed(None, routed(), "L1").state
    s1 = on_synced(s0, Synced(T0 + timedelta(seconds=20), "00Q1", "R1", None, None, None, None), "L1").state
    b = on_sla(s1, sla("breached", DUE + timedelta(seconds=1)), "L1")
    assert b.outcome == "missed" and b.state.is_breached
    assert team_deltas(s1, b.state) == {("DACH", "Hot"): (0, 1, 0)}
    met = on_sla(b.state, sla("met", DUE + timedelta(minutes=5)), "L1")
    assert met.outcome is None  # already counted as missed
    assert not met.state.is_open and met.state.touched_at == DUE + timedelta(minutes=5)
    assert team_deltas(b.state, met.state) == {("DACH", "Hot"): (-1, -1, 0)}
    assert owner_deltas(b.state, met.state) == {"R1": (-1, -1)}
    sample = met.sample
    assert sample is not None
    assert sample.system == pytest.approx(60)  # submitted T0-40s → in Salesforce with owner T0+20s
    assert sample.human == pytest.approx((DUE + timedelta(minutes=5) - (T0 + timedelta(seconds=20))).total_seconds())
    assert sample.total == pytest.approx(sample.system + sample.human)


def test_touch_in_time_is_on_time_and_a_second_met_changes_nothing() -> None:
    s0 = on_routed(None, routed(), "L1").state
    met = on_sla(s0, sla("met", T0 + timedelta(minutes=3)), "L1")
    assert met.outcome == "on_time" and met.state.outcome == "on_time"
    twice = on_sla(met.state, sla("met", T0 + timedelta(minutes=4)), "L1")
    assert twice.state == met.state and twice.sample is None and twice.outcome is None


def test_met_before_routed_does_not_reopen_the_lead() -> None:
    met = on_sla(None, sla("met", T0 + timedelta(minutes=2)), "L9")
    assert not met.state.is_open and met.outcome == "on_time"
    late_routing = on_routed(met.state, routed(), "L9")
    assert not late_routing.state.is_open
    assert team_deltas(met.state, late_routing.state) == {}


def test_queue_owner_counts_as_unassigned_and_reassignment_moves_it() -> None:
    queued = on_routed(None, routed("Q-DACH", "queue"), "L2").state
    assert queued.is_queued and team_deltas(None, queued) == {("DACH", "Hot"): (1, 0, 1)}
    moved = on_routed(queued, routed("R2", "user", reassignment=1, at=T0 + timedelta(minutes=5)), "L2")
    assert not moved.new_arrival and moved.state.owner_id == "R2"
    assert moved.state.due_at == T0 + timedelta(minutes=20)  # the reassignment's new due time
    assert team_deltas(queued, moved.state) == {("DACH", "Hot"): (0, 0, -1)}
    assert owner_deltas(queued, moved.state) == {"Q-DACH": (-1, 0), "R2": (1, 0)}


def test_other_clocks_do_not_close_the_first_touch() -> None:
    s0 = on_routed(None, routed(), "L3").state
    q = on_sla(s0, sla("breached", DUE, clock="qualify"), "L3")
    assert q.outcome is None and q.state.is_open and q.state.touched_at is None and q.state.due_at == s0.due_at
    assert q.state.open_breaches == ("qualify",)  # counted as a breach of its own clock
    cancelled = on_sla(s0, sla("cancelled", T0 + timedelta(minutes=1)), "L3")
    assert not cancelled.state.is_open and cancelled.outcome is None


def test_escalation_keeps_the_highest_step() -> None:
    s = LeadState("L4", routed_at=T0, due_at=DUE)
    s = on_sla(s, sla("escalated", DUE, step=2), "L4").state
    s = on_sla(s, sla("escalated", DUE, step=1), "L4").state
    assert s.escalation_step == 2


def test_a_missed_callback_counts_once_in_attainment() -> None:
    """The callback clock breaches for the lead (its first touch follows the callback silently): one miss,
    and the late call afterwards (first touch met late) does not count a second one."""
    s0 = on_routed(None, routed(), "L1").state
    warned = on_sla(s0, sla("warning", DUE - timedelta(minutes=5), clock="callback"), "L1")
    assert warned.outcome is None
    breach = on_sla(warned.state, sla("breached", DUE, clock="callback"), "L1")
    assert breach.outcome == "missed" and breach.state.is_breached
    step = on_sla(breach.state, sla("escalated", DUE, clock="callback", step=1), "L1")
    assert step.outcome is None and step.state.escalation_step == 1
    late_call = DUE + timedelta(hours=1)
    met_cb = on_sla(step.state, sla("met", late_call, clock="callback"), "L1")
    met_ft = on_sla(met_cb.state, sla("met", late_call), "L1")
    outcomes = [t.outcome for t in (warned, breach, step, met_cb, met_ft) if t.outcome is not None]
    assert outcomes == ["missed"]
    assert met_ft.state.closed and not met_ft.state.is_breached
