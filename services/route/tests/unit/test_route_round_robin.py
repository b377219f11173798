"""Smooth weighted round-robin: the distribution follows the weights, interleaved, and the ledger buckets reset."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_route.domain.ledger import Ledger, RepLoad, day_bucket, hour_bucket
from leadflow_route.domain.roster import Roster
from leadflow_route.domain.routing import Router, RoutingRequest
from leadflow_route.testing import MONDAY_10_UTC, rep, sample_config, sample_queues

pytestmark = pytest.mark.unit


def test_distribution_over_many_leads_matches_the_weights() -> None:
    reps = [
        rep("A", weight=0.5),
        rep("B", weight=1.0),
        rep("C", weight=1.2),
        rep("D", weight=0.8),
        rep("LEAD", role="Team Leader", weight=0.3),
        rep("HEAD", team=None, role="Head of Sales"),
    ]
    router = Router(
        sample_config(
            teams={
                "Nordics": {"countries": ["NO"], "queue": "Queue_Nordics"},
                "DACH": {"countries": ["DE"], "queue": "Queue_DACH"},
            }
        )
    )
    ledger, roster = Ledger(), Roster(reps, sample_queues())
    counts = Counter(
        router.route(RoutingRequest(f"l{i}", country="NO"), roster, ledger, MONDAY_10_UTC).owner_id for i in range(7000)
    )
    total_weight = 3.5
    for rep_id, weight in {"A": 0.5, "B": 1.0, "C": 1.2, "D": 0.8}.items():
        expected = 7000 * weight / total_weight
        assert abs(counts[rep_id] - expected) <= 0.01 * expected, (rep_id, counts[rep_id], expected)
    assert "LEAD" not in counts


def test_picks_are_interleaved_not_bursty() -> None:
    ledger = Ledger()
    picks = [ledger.pick_weighted([("A", 5), ("B", 1), ("C", 1)]) for _ in range(7)]
    assert Counter(picks) == {"A": 5, "B": 1, "C": 1}
    assert picks != sorted(picks)  # B and C are not pushed to the end
    assert "AAAAA" not in "".join(picks)


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=6), rounds=st.integers(1, 5))
def test_every_full_cycle_gives_each_rep_exactly_its_weight(weights: list[int], rounds: int) -> None:
    ledger = Ledger()
    candidates = [(f"r{i}", float(w)) for i, w in enumerate(weights)]
    picks = Counter(ledger.pick_weighted(candidates) for _ in range(sum(weights) * rounds))
    assert picks == {rep_id: int(w) * rounds for rep_id, w in candidates}


def test_credit_survives_a_reload_so_a_restart_continues_the_sequence() -> None:
    candidates = [("A", 3.0), ("B", 1.0)]
    straight = Ledger()
    expected = [straight.pick_weighted(candidates) for _ in range(8)]
    ledger, got = Ledger(), []
    for _ in range(8):
        got.append(ledger.pick_weighted(candidates))
        ledger = Ledger.of(ledger.loads.values())  # as if written and read back
    assert got == expected


def test_empty_candidates_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Ledger().pick_weighted([])


def test_counters_reset_in_a_new_hour_and_day() -> None:
    ledger = Ledger()
    t = datetime(2026, 1, 5, 9, 15, tzinfo=UTC)
    ledger.record_assignment("A", t)
    ledger.record_assignment("A", t)
    assert ledger.in_hour("A", t) == 2 and ledger.in_day("A", t) == 2
    later = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert ledger.in_hour("A", later) == 0 and ledger.in_day("A", later) == 2
    ledger.record_assignment("A", later)
    load = ledger.get("A")
    assert (load.hour_bucket, load.hour_count, load.day_count, load.open_leads, load.assigned_total) == (
        hour_bucket(later),
        1,
        3,
        3,
        3,
    )
    assert ledger.in_day("A", datetime(2026, 1, 6, 8, 0, tzinfo=UTC)) == 0
    assert day_bucket(later) == "2026-01-05"


def test_release_never_goes_below_zero() -> None:
    ledger = Ledger.of([RepLoad("A", open_leads=1)])
    ledger.release("A")
    ledger.release("A")
    assert ledger.get("A").open_leads == 0 and ledger.dirty == {"A"}
