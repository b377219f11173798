"""Erlang C against published worked examples."""

from __future__ import annotations

import math

import pytest
from leadflow_ops.domain.erlang import (
    agents_needed,
    average_speed_of_answer,
    erlang_c,
    plan,
    service_level,
    traffic_intensity,
)

pytestmark = pytest.mark.unit


def test_classic_call_centre_example_traffic_and_occupancy() -> None:
    """The classic Erlang-C walk-through ("The Erlang-C Formula", Westbay/erlang.com style, reproduced
    in many call-centre texts): 360 calls per half hour, average call duration 4 minutes, 55 agents,
    target answer time 15 seconds. Published steps: traffic intensity = 48 Erlangs, occupancy 0.873."""
    intensity = traffic_intensity(arrivals_per_hour=720, aht_seconds=240)
    assert intensity == pytest.approx(48.0)
    assert intensity / 55 == pytest.approx(0.873, abs=5e-4)
    # Our numbers for the remaining steps, cross-checked against the direct factorial formula below:
    wait = erlang_c(55, intensity)
    assert wait == pytest.approx(_erlang_c_by_factorials(55, 48.0), rel=1e-12)
    assert wait == pytest.approx(0.2387, abs=1e-4)
    assert average_speed_of_answer(55, intensity, 240) == pytest.approx(wait * 240 / 7)
    assert service_level(55, intensity, 240, 15) == pytest.approx(1 - wait * math.exp(-7 * 15 / 240))
    assert 0.84 < service_level(55, intensity, 240, 15) < 0.85


def test_erlang_c_calculator_example_600_calls_per_hour() -> None:
    """Worked example of the Erlang C calculator at personal.telefonica.terra.es/web/vr/erlang/eng/mcerlc.htm:
    "If in one hour there are 600 calls with call length of 120 seconds, that is a traffic of 20 erlangs.
    For a target delay probability of 15% the number of circuits needed are 26. The average delay is
    … 3 seconds per call. If circuits are incremented to 30, delay is reduced to 2.5%.\""""
    a = traffic_intensity(600, 120)
    assert a == pytest.approx(20.0)
    fewest = next(n for n in range(21, 60) if erlang_c(n, a) <= 0.15)
    assert fewest == 26
    assert round(average_speed_of_answer(26, a, 120)) == 3
    assert round(erlang_c(30, a) * 100, 1) == 2.5


def test_public_safety_answering_example() -> None:
    """Footbridge 'Call Calc' application note (al911.org/qos_calc.htm): 2 call takers, 60-second calls
    at 30 per hour → fewer than 8 % of callers wait more than 10 seconds; with 80-second calls the
    share rises to 14 %."""
    short = 1 - service_level(2, traffic_intensity(30, 60), 60, 10)
    long = 1 - service_level(2, traffic_intensity(30, 80), 80, 10)
    assert short < 0.08
    assert round(long * 100) == 14


def test_agents_needed_is_the_smallest_roster_meeting_the_target() -> None:
    n = agents_needed(720, 240, 15, 0.8)
    a = traffic_intensity(720, 240)
    assert service_level(n, a, 240, 15) >= 0.8 > service_level(n - 1, a, 240, 15)


def test_unstable_and_empty_queues() -> None:
    assert erlang_c(5, 5.0) == 1.0 and service_level(4, 5.0, 300, 60) == 0.0
    assert math.isinf(average_speed_of_answer(3, 5.0, 300))
    assert erlang_c(3, 0.0) == 0.0 and agents_needed(0, 300, 60, 0.8) == 0
    with pytest.raises(ValueError, match="aht_seconds"):
        traffic_intensity(10, 0)
    with pytest.raises(ValueError, match="target_level"):
        agents_needed(10, 300, 60, 1.2)


def test_erlang_c_stays_finite_for_big_rosters() -> None:
    a = traffic_intensity(60000, 360)  # 6000 Erlangs: factorials would overflow a float
    assert 0 <= erlang_c(6100, a) < 1


def test_plan_reports_needed_and_roster_outcome() -> None:
    p = plan(arrivals_per_hour=40, aht_seconds=360, target_seconds=300, target_level=0.8, roster=3)
    assert p.intensity == pytest.approx(4.0)
    assert p.needed == agents_needed(40, 360, 300, 0.8)
    assert p.roster_service_level == 0.0 and p.roster_occupancy == pytest.approx(4 / 3)
    assert any(n == p.needed for n, _ in p.curve) and any(n == 3 for n, _ in p.curve)
    levels = [sl for _, sl in p.curve]
    assert levels == sorted(levels)  # more reps never hurt


def _erlang_c_by_factorials(n: int, a: float) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)
