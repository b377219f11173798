"""One time base: wall-clock stamps mapped onto the SLA clocks' time keep every consistent story in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_ops.domain import leads as L
from leadflow_ops.domain import timeline
from leadflow_ops.domain.timebase import identity, to_pipeline_time
from leadflow_platform.clock import FakeClock, ScaledClock

pytestmark = pytest.mark.unit

WALL0 = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


@given(
    scale=st.sampled_from([1.0, 2.0, 60.0, 600.0, 3600.0]),
    start_offset_days=st.integers(-400, 400),
    to_route=st.floats(0, 30),
    to_sync=st.floats(0, 30),
    to_touch=st.floats(0, 3600),
    submitted_after_wall0=st.floats(0, 86_400),
)
def test_a_consistent_run_never_shows_clock_skew_and_delays_add_up(
    scale: float, start_offset_days: int, to_route: float, to_sync: float, to_touch: float, submitted_after_wall0: float
) -> None:
    demo = ScaledClock(scale, WALL0, start=WALL0 + timedelta(days=start_offset_days))
    to_pipeline = to_pipeline_time(demo)
    submitted = WALL0 + timedelta(seconds=submitted_after_wall0)  # wall clock (the source)
    routed = demo.from_wall(submitted + timedelta(seconds=to_route))  # demo clock (route)
    synced = submitted + timedelta(seconds=to_route + to_sync)  # wall clock (crm-sync)
    touched = demo.from_wall(synced + timedelta(seconds=to_touch))  # demo clock (sla-monitor)
    due = routed + timedelta(hours=1)
    state = L.on_routed(
        None,
        L.Routed(routed, "T", "Hot", "web_form", "005A", "user", "Rep", "p", to_pipeline(submitted), due, 0),
        "X",
    ).state
    state = L.on_synced(state, L.Synced(to_pipeline(synced), "00Q1", "005A", None, None, None, None), "X").state
    tr = L.on_sla(state, L.Sla(touched, "met", "first_touch", "p", due, routed, "005A", "T", "Hot", None, 0), "X")
    sample = tr.sample
    assert sample is not None and sample.total is not None and sample.system is not None and sample.human is not None
    tolerance = 1e-3 * scale + 1e-3
    assert sample.total == pytest.approx((to_route + to_sync + to_touch) * scale, abs=tolerance)
    assert sample.system == pytest.approx((to_route + to_sync) * scale, abs=tolerance)
    assert sample.total == pytest.approx(sample.system + sample.human, abs=tolerance)
    lead = {**tr.state.__dict__}
    events = [{"clock": "first_touch", "kind": "met", "occurred_at": touched, "met_by": "005A", "policy": "p"}]
    steps = timeline.build(lead, events, [], {})
    assert not any(s.skewed for s in steps) and steps[0].what == "submitted"


@given(ahead=st.floats(1, 86_400), scale=st.sampled_from([1.0, 60.0]))
def test_a_producer_clock_that_is_really_ahead_still_shows_as_skew(ahead: float, scale: float) -> None:
    demo = ScaledClock(scale, WALL0, start=datetime(2026, 12, 1, 8, tzinfo=UTC))
    to_pipeline = to_pipeline_time(demo)
    routed = demo.from_wall(WALL0)
    submitted = to_pipeline(WALL0 + timedelta(seconds=ahead))  # stamped by a clock running ahead
    lead = {"submitted_at": submitted, "routed_at": routed, "source": "web_form", "owner_id": "005A"}
    steps = timeline.build(lead, [], [], {})
    assert [s.skewed for s in steps] == [False, True]


def test_the_wall_clock_is_its_own_time_base() -> None:
    assert to_pipeline_time(FakeClock())(WALL0) == WALL0 and identity(WALL0) == WALL0


FIELDS = st.sampled_from(["Email", "Title", "Phone", "Company", "Industry", "Custom_Answer__c"])
CODES = st.sampled_from(["INVALID_EMAIL_ADDRESS", "STRING_TOO_LONG", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"])


@given(
    syncs=st.lists(
        st.tuples(
            st.sampled_from(["Lead", "Contact"]),
            st.lists(st.tuples(FIELDS, CODES, st.text(max_size=20), st.booleans()), max_size=4),
        ),
        max_size=5,
    )
)
def test_every_refused_value_is_listed_once_with_where_it_went(
    syncs: list[tuple[str, list[tuple[str, str, str, bool]]]],
) -> None:
    stored: str | None = None
    for obj, dropped in syncs + syncs:  # every sync delivered twice
        ev = L.Synced(WALL0, f"{obj[:3]}-1", None, None, None, None, None, object=obj, dropped=tuple(dropped))
        stored = L.merge_dropped(stored, ev)
    view = L.dropped_view(stored)
    expected = {(obj, f, r) for obj, dropped in syncs for f, r, _, _ in dropped}
    assert sorted((d["object"], d["field"], d["reason"]) for d in view) == sorted(expected)
    for d in view:
        kept_in_note = "Leadflow_Dropped_Fields__c" in d["kept_in"]
        assert kept_in_note == (d["object"] == "Lead")
        first_cut = next(
            c
            for obj, dropped in syncs
            for f, r, _, c in dropped
            if (obj, f, r) == (d["object"], d["field"], d["reason"])
        )
        assert ("written cut to fit" in d["kept_in"]) == (first_cut and d["object"] == "Lead")
