"""Erlang C (M/M/N queue) for the lead queue: leads are the calls, reps the agents.

Assumptions: Poisson arrivals, exponential handling times, nobody abandons, first come first served.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def traffic_intensity(arrivals_per_hour: float, aht_seconds: float) -> float:
    """Offered load in Erlangs: arrival rate × average handling time (same time unit)."""
    if arrivals_per_hour < 0:
        raise ValueError(f"arrivals_per_hour must be >= 0, got {arrivals_per_hour}")
    if aht_seconds <= 0:
        raise ValueError(f"aht_seconds must be > 0, got {aht_seconds}")
    return arrivals_per_hour * aht_seconds / 3600.0


def erlang_c(agents: int, intensity: float) -> float:
    """Probability that an arrival has to wait (all ``agents`` busy). 1.0 when the queue is unstable.

    Computed with the Erlang B recurrence (no factorials, stable for hundreds of agents):
    B(0)=1, B(n)=A·B(n-1)/(n + A·B(n-1)); C = N·B / (N − A·(1 − B)).
    """
    if agents < 0:
        raise ValueError(f"agents must be >= 0, got {agents}")
    if intensity < 0:
        raise ValueError(f"intensity must be >= 0, got {intensity}")
    if intensity == 0:
        return 0.0
    if agents <= intensity:
        return 1.0
    b = 1.0
    for n in range(1, agents + 1):
        b = intensity * b / (n + intensity * b)
    return agents * b / (agents - intensity * (1 - b))


def service_level(agents: int, intensity: float, aht_seconds: float, target_seconds: float) -> float:
    """Share (0..1) of arrivals answered within ``target_seconds``: 1 − C·e^(−(N−A)·t/AHT)."""
    if target_seconds < 0:
        raise ValueError(f"target_seconds must be >= 0, got {target_seconds}")
    if intensity == 0:
        return 1.0
    if agents <= intensity:
        return 0.0
    wait = erlang_c(agents, intensity)
    return 1.0 - wait * math.exp(-(agents - intensity) * target_seconds / aht_seconds)


def average_speed_of_answer(agents: int, intensity: float, aht_seconds: float) -> float:
    """Mean wait in seconds: C·AHT/(N−A); infinity for an unstable queue."""
    if intensity == 0:
        return 0.0
    if agents <= intensity:
        return math.inf
    return erlang_c(agents, intensity) * aht_seconds / (agents - intensity)


def agents_needed(
    arrivals_per_hour: float,
    aht_seconds: float,
    target_seconds: float,
    target_level: float,
    max_agents: int = 2000,
) -> int:
    """Fewest agents whose service level reaches ``target_level`` (0..1)."""
    if not 0 < target_level < 1:
        raise ValueError(f"target_level must be within (0, 1), got {target_level}")
    intensity = traffic_intensity(arrivals_per_hour, aht_seconds)
    if intensity == 0:
        return 0
    n = max(1, math.floor(intensity) + 1)
    while n <= max_agents:
        if service_level(n, intensity, aht_seconds, target_seconds) >= target_level:
            return n
        n += 1
    raise ValueError(f"more than {max_agents} agents needed for {arrivals_per_hour}/h at {aht_seconds}s")


@dataclass(frozen=True)
class StaffingPlan:
    arrivals_per_hour: float
    aht_seconds: float
    target_seconds: float
    target_level: float
    roster: int
    intensity: float
    needed: int
    roster_service_level: float
    roster_wait_probability: float
    roster_asa_seconds: float
    roster_occupancy: float | None
    curve: tuple[tuple[int, float], ...]
    """(agents, service level) around the answer, for the chart."""


def curve_points(lo: int, hi: int, needed: int, roster: int, most: int = 160) -> list[int]:
    """Agent counts to plot between ``lo`` and ``hi``: every one when few, else evenly spaced ones plus
    the needed and roster counts and their neighbours (a roster of 2,000 plots ~160 points, not 2,000)."""
    if hi - lo + 1 <= most:
        return list(range(lo, hi + 1))
    step = (hi - lo) / (most - 1)
    points = {lo + round(i * step) for i in range(most)}
    for n in (needed, roster):
        points.update(x for x in (n - 1, n, n + 1) if lo <= x <= hi)
    return sorted(points)


def plan(
    arrivals_per_hour: float, aht_seconds: float, target_seconds: float, target_level: float, roster: int
) -> StaffingPlan:
    if roster < 0:
        raise ValueError(f"roster must be >= 0, got {roster}")
    intensity = traffic_intensity(arrivals_per_hour, aht_seconds)
    needed = agents_needed(arrivals_per_hour, aht_seconds, target_seconds, target_level)
    lo = max(1, min(needed, roster) - 3)
    hi = max(needed, roster) + 3
    points = curve_points(lo, hi, needed, roster)
    curve = tuple((n, service_level(n, intensity, aht_seconds, target_seconds)) for n in points)
    return StaffingPlan(
        arrivals_per_hour=arrivals_per_hour,
        aht_seconds=aht_seconds,
        target_seconds=target_seconds,
        target_level=target_level,
        roster=roster,
        intensity=intensity,
        needed=needed,
        roster_service_level=service_level(roster, intensity, aht_seconds, target_seconds) if roster else 0.0,
        roster_wait_probability=erlang_c(roster, intensity) if roster else 1.0,
        roster_asa_seconds=average_speed_of_answer(roster, intensity, aht_seconds) if roster else math.inf,
        roster_occupancy=(intensity / roster) if roster else None,
        curve=curve,
    )
