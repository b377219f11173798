"""Pure pieces behind issue 15: not-in-Salesforce, breaches of every clock, arrival rate over the covered
hours, readable chart ticks, fair-share significance, teams named from Salesforce, the lead timeline."""

from __future__ import annotations

import itertools
import math
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_ops.domain import timeline
from leadflow_ops.domain.arrivals import arrival_rate
from leadflow_ops.domain.erlang import curve_points, plan
from leadflow_ops.domain.fairness import Z_ATTENTION, attention, share_z
from leadflow_ops.domain.leads import (
    LeadState,
    Sla,
    Synced,
    metric_deltas,
    on_dead_letter,
    on_sla,
    on_synced,
    stops_before_salesforce,
)
from leadflow_ops.domain.roster import NO_TEAM, rep_row, team_of
from leadflow_ops.glossary import GLOSSARY
from leadflow_ops.web.charts import CHAR_W, axis_ticks, line_chart

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


# --- not in Salesforce ------------------------------------------------------------------------------


def test_dead_letter_not_in_salesforce_field_wins_when_the_record_carries_it() -> None:
    assert stops_before_salesforce("crm-sync", "leads.routed", "salesforce:X", {}, explicit=False) is False
    assert stops_before_salesforce("crm-sync", "sla.events", "salesforce:X", {}, explicit=True) is True


@pytest.mark.parametrize(
    ("service", "topic", "reason", "detail", "stops"),
    [
        ("crm-sync", "leads.routed", "salesforce:INVALID_EMAIL_ADDRESS", {"operation": "upsert Lead"}, True),
        ("crm-sync", "p.leads.routed", "invalid_event", {}, True),  # could not even read it
        ("crm-sync", "leads.routed", "salesforce:X", {"operation": "upsert Task (callback)"}, False),
        ("crm-sync", "sla.events", "salesforce:X", {"operation": "update Lead SLA_Status__c"}, False),
        ("crm-sync", "leads.routed", "salesforce:X", {"in_salesforce": "true"}, False),
        ("score", "leads.enriched", "schema_violation", {}, False),  # never routed: never open anyway
        ("anything", "leads.routed", "x", {"in_salesforce": "false"}, True),  # the explicit outcome
        ("crm-sync", "leads.routed", "not_in_salesforce", {}, True),
        ("crm-sync", "leads.routed", "x", {"outcome": "not_in_salesforce"}, True),
    ],
)
def test_which_dead_letters_mean_not_in_salesforce(
    service: str, topic: str, reason: str, detail: dict[str, str], stops: bool
) -> None:
    assert stops_before_salesforce(service, topic, reason, detail) is stops


def test_a_sync_wins_over_a_dead_letter_in_either_order() -> None:
    routed = LeadState("L1", routed_at=T0, due_at=T0 + timedelta(minutes=15), team="DACH")
    failed = on_dead_letter(routed, "L1", "dl-1").state
    assert failed.not_in_salesforce and not failed.is_open
    assert metric_deltas(routed, failed) == {("DACH", "not_in_salesforce"): (1,)}
    synced = on_synced(failed, Synced(T0, "00Q1", "R1", None, None, None, None), "L1").state
    assert synced.is_open and not synced.not_in_salesforce
    assert metric_deltas(failed, synced) == {("DACH", "not_in_salesforce"): (-1,)}
    # a task's dead letter after the lead is in Salesforce changes nothing
    assert on_dead_letter(synced, "L1", "dl-2").state == synced


CLOCKS = ("first_touch", "qualify", "callback")
KINDS = ("started", "warning", "breached", "escalated", "met", "cancelled")


@given(st.lists(st.tuples(st.sampled_from(CLOCKS), st.sampled_from(KINDS)), max_size=12))
def test_breached_clocks_are_those_whose_last_conclusion_is_a_breach(events: list[tuple[str, str]]) -> None:
    """A clock's breach stands until it is met, cancelled or the clock starts a new cycle (a reassignment)."""
    state = LeadState("L1", routed_at=T0, due_at=T0 + timedelta(minutes=15), team="T")
    total: dict[tuple[str, str], int] = {}
    for i, (clock, kind) in enumerate(events):
        ev = Sla(T0 + timedelta(minutes=i), kind, clock, "p", T0, T0, "R1", "T", "Hot", "web", 0)
        new = on_sla(state, ev, "L1").state
        for key, (n,) in metric_deltas(state, new).items():
            total[key] = total.get(key, 0) + n
        state = new
    expected = []
    for clock in CLOCKS:
        last = [k for c, k in events if c == clock and k in ("breached", "met", "cancelled", "started")]
        if last and last[-1] == "breached":
            expected.append(clock)
    assert list(state.open_breaches) == expected
    # the counters the deltas maintain agree with the state (no drift)
    assert {k: v for k, v in total.items() if v} == (
        {("T", "breached"): 1, **{("T", f"breached:{c}"): 1 for c in expected}} if expected else {}
    )


# --- arrival rate -----------------------------------------------------------------------------------


def test_arrival_rate_is_over_the_covered_hours_not_the_window() -> None:
    now = T0 + timedelta(hours=30)
    # the case: ~14,000/h for 1.5 h read as 906/h
    r = arrival_rate(21_000, now - timedelta(hours=1, minutes=30), now, 24)
    assert r.per_hour == pytest.approx(14_000) and r.hours == pytest.approx(1.5)
    old = arrival_rate(48, now - timedelta(days=3), now, 24)  # data older than the window: the window
    assert old.hours == pytest.approx(24) and old.per_hour == pytest.approx(2)
    assert arrival_rate(0, None, now, 24).per_hour == 0.0
    assert arrival_rate(5, now, now, 24).hours == pytest.approx(1 / 60)  # never divides by zero


@given(
    n=st.integers(min_value=1, max_value=10**6),
    minutes_ago=st.integers(min_value=0, max_value=72 * 60),
    window=st.integers(min_value=1, max_value=48),
)
def test_arrival_rate_times_hours_gives_back_the_count(n: int, minutes_ago: int, window: int) -> None:
    now = T0 + timedelta(days=5)
    r = arrival_rate(n, now - timedelta(minutes=minutes_ago), now, window)
    assert r.per_hour * r.hours == pytest.approx(n)
    assert 1 / 60 <= r.hours <= window


# --- chart readability ------------------------------------------------------------------------------


@given(lo=st.integers(min_value=0, max_value=5000), span=st.integers(min_value=1, max_value=5000))
def test_axis_ticks_are_few_evenly_spaced_and_cover_the_range(lo: int, span: int) -> None:
    hi = lo + span
    ticks = axis_ticks(lo, hi, 12)
    assert 1 <= len(ticks) <= 12
    assert all(lo <= t <= hi for t in ticks)
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert len(steps) <= 1
    if len(ticks) > 1:
        (step,) = steps
        assert step >= 1 and step * 1.0 / 10 ** math.floor(math.log10(step)) in (1, 2, 5)


@pytest.mark.parametrize("roster", [1, 3, 40, 400, 2000, 5000])
def test_the_service_level_chart_stays_readable_at_any_roster_size(roster: int) -> None:
    p = plan(900, 300, 60, 0.8, roster)
    assert len(p.curve) <= 170 and any(n == roster for n, _ in p.curve) and any(n == p.needed for n, _ in p.curve)
    svg = str(line_chart(p.curve, target=0.8, marks=[(p.needed, "needed"), (p.roster, "roster")], width=1100))
    xs = [float(x) for x in re.findall(r'<text class="lbl tick" x="([0-9.]+)"', svg)]
    labels = re.findall(r'<text class="lbl tick"[^>]*>([^<]+)<', svg)
    for (xa, la), (xb, lb) in itertools.pairwise(zip(xs, labels, strict=True)):
        assert xb - xa >= (len(la) + len(lb)) / 2 * CHAR_W + 4  # no two tick labels touch


def test_curve_points_keep_needed_and_roster() -> None:
    pts = curve_points(1, 3000, 57, 2990)
    assert len(pts) <= 170 and pts == sorted(set(pts)) and {56, 57, 58, 2989, 2990} <= set(pts)
    assert curve_points(5, 20, 8, 10) == list(range(5, 21))


# --- team load --------------------------------------------------------------------------------------


def test_share_z_flags_only_shares_beyond_chance() -> None:
    rng = random.Random(7)
    flagged = 0
    for _ in range(500):  # a fair weighted draw is rarely flagged
        n = 200
        assigned = sum(rng.random() < 0.25 for _ in range(n))
        z = share_z(assigned, n, 0.25)
        flagged += z is not None and abs(z) > Z_ATTENTION
    assert flagged <= 3
    assert abs(share_z(90, 200, 0.25) or 0) > Z_ATTENTION  # 45 % where 25 % is fair
    assert share_z(3, 0, 0.25) is None


def test_attention_colours_only_over_cap_breaches_and_unfair_shares() -> None:
    assert attention(10, 25, 0, 0.5) == ()
    assert attention(30, 25, 0, 0.5) == ("over_cap",)
    assert attention(30, 25, 2, 0.5) == ("over_cap_breached",)
    assert attention(3, 25, 0, -4.0) == ("unfair_share",)


def test_teams_are_named_from_salesforce() -> None:
    assert team_of({"Team__c": "Nordics", "Role_Name__c": "Seller"}) == "Nordics"
    assert team_of({"Team__c": None, "Role_Name__c": "Head of Sales"}) == "Head of Sales"
    assert team_of({"Team__c": " ", "Department": "Sales"}) == "Sales"
    assert team_of({}) == NO_TEAM
    row = rep_row("005X", {"FirstName": "Ada", "LastName": "L", "Max_Open_Leads__c": 40}, "updated", T0)
    assert row["name"] == "Ada L" and row["cap"] == 40 and row["active"]


# --- lead timeline ----------------------------------------------------------------------------------


def test_timeline_starts_with_the_submission_and_names_each_actor() -> None:
    lead = {
        "submitted_at": T0,
        "routed_at": T0 + timedelta(seconds=5),
        "owner_at": T0 + timedelta(seconds=9),
        "salesforce_id": "00Q1",
        "owner_id": "005A",
        "owner_type": "user",
        "policy": "key-account",
        "source": "web_form",
    }
    events = [
        {"occurred_at": T0 - timedelta(minutes=1), "clock": "callback", "kind": "breached", "policy": "cb-15m"},
        {
            "occurred_at": T0 + timedelta(minutes=3),
            "clock": "first_touch",
            "kind": "met",
            "policy": "hot-15m",
            "met_by": "005A",
        },
    ]
    steps = timeline.build(lead, events, [], {"005A": "Greta Lind"})
    assert [s.what for s in steps] == ["submitted", "callback breached", "routed", "in Salesforce", "first touch met"]
    assert [s.actor for s in steps][2:] == ["route", "crm-sync", "Greta Lind"]
    assert steps[1].skewed and not steps[2].skewed
    assert "routing policy “key-account”" in steps[2].detail and "SLA policy “hot-15m”" in steps[4].detail
    orphan = timeline.build(
        None, [], [{"received_at": T0, "service": "intake", "reason": "invalid_email", "event_id": "a:b"}], {}
    )
    assert orphan[0].what == "dead-lettered" and orphan[0].link == "/deadletters/a%3Ab"


def test_every_page_has_a_glossary() -> None:
    for page in ("now", "speed", "breaches", "team", "pipeline", "deadletter", "staffing", "lead"):
        assert GLOSSARY[page], page
        assert all(t.counts and t.source and t.window for t in GLOSSARY[page])
