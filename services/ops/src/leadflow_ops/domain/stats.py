"""Speed-to-lead statistics: exact percentiles, histogram percentiles, windows and SLA attainment.

Pure functions. Durations are seconds (float). Windows are whole buckets ending with the current
one (``24h`` = this clock hour and the 23 before it), so they map onto pre-aggregated rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# --- exact percentiles ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    Same definition as NumPy's default ('linear', Hyndman & Fan type 7). ``None`` for no values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


# --- log-scaled histogram (pre-aggregated speed-to-lead) -------------------------------------------

BIN_GROWTH = 1.1
"""Bin ``i >= 1`` covers ``[BIN_GROWTH**(i-1), BIN_GROWTH**i)`` seconds; bin 0 covers ``[0, 1)``.

A percentile read from these bins is within ±10 % of the exact value."""
MAX_BIN = 200  # 1.1**200 s ≈ 6 000 years: everything fits


def bin_index(seconds: float) -> int:
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"duration must be a non-negative number of seconds, got {seconds}")
    if seconds < 1:
        return 0
    return min(MAX_BIN, math.floor(math.log(seconds) / math.log(BIN_GROWTH)) + 1)


def bin_bounds(index: int) -> tuple[float, float]:
    if index <= 0:
        return 0.0, 1.0
    return BIN_GROWTH ** (index - 1), BIN_GROWTH**index


def percentile_from_bins(counts: Mapping[int, int], q: float) -> float | None:
    """Estimate the ``q``-th percentile from bin counts, interpolating linearly inside the bin."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    total = sum(n for n in counts.values() if n > 0)
    if total == 0:
        return None
    target = total * q / 100
    seen = 0
    for index in sorted(i for i, n in counts.items() if n > 0):
        n = counts[index]
        if seen + n >= target:
            lo, hi = bin_bounds(index)
            fraction = (target - seen) / n
            return lo + (hi - lo) * fraction
        seen += n
    lo, hi = bin_bounds(max(i for i, n in counts.items() if n > 0))
    return hi


# --- windows --------------------------------------------------------------------------------------

GRAINS: dict[str, timedelta] = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(days=7)}
WRITE_GRAINS = ("h", "d", "w")
"""Every sample is added to an hourly, a daily and a weekly (Monday 00:00 UTC) bucket."""


@dataclass(frozen=True)
class Window:
    name: str
    grain: str
    buckets: int
    label: str


WINDOWS: dict[str, Window] = {
    w.name: w
    for w in (
        Window("1h", "h", 1, "this hour"),
        Window("24h", "h", 24, "last 24 hours"),
        Window("7d", "d", 7, "last 7 days"),
        Window("30d", "d", 30, "last 30 days"),
    )
}


def get_window(name: str) -> Window:
    try:
        return WINDOWS[name]
    except KeyError:
        raise ValueError(f"window must be one of {sorted(WINDOWS)}, got {name!r}") from None


def bucket_start(ts: datetime, grain: str) -> datetime:
    """The start of the ``grain`` bucket holding ``ts`` (UTC-aware in, UTC-aware out)."""
    if ts.tzinfo is None:
        raise ValueError("bucket_start needs a timezone-aware datetime")
    if grain == "h":
        return ts.replace(minute=0, second=0, microsecond=0)
    if grain == "d":
        return ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "w":
        day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    raise ValueError(f"grain must be one of {sorted(GRAINS)}, got {grain!r}")


def window_start(now: datetime, window: Window) -> datetime:
    """First bucket of ``window`` ending with the bucket that holds ``now``."""
    return bucket_start(now, window.grain) - GRAINS[window.grain] * (window.buckets - 1)


def window_segments(now: datetime, window: Window) -> list[tuple[str, datetime, datetime | None]]:
    """The buckets to read for ``window`` as (grain, from, until-exclusive or None = open).

    Long day windows read whole weeks where they can: 30 days = a few days + at most 5 weeks, so a
    page reads ~11 buckets per key instead of 30."""
    start = window_start(now, window)
    if window.grain != "d" or window.buckets < 14:
        return [(window.grain, start, None)]
    monday = bucket_start(start, "w")
    if monday < start:
        monday += GRAINS["w"]
    segments: list[tuple[str, datetime, datetime | None]] = []
    if monday > start:
        segments.append(("d", start, monday))
    segments.append(("w", monday, None))
    return segments


# --- attainment -----------------------------------------------------------------------------------


def attainment(on_time: int, missed: int) -> float | None:
    """Share (0..100 %) of concluded SLA clocks met on time; ``None`` when none concluded."""
    if on_time < 0 or missed < 0:
        raise ValueError("attainment counts must not be negative")
    total = on_time + missed
    return None if total == 0 else 100.0 * on_time / total


@dataclass(frozen=True)
class SpeedRow:
    """Speed to lead for one key (a team, rep, source or rating) over a window."""

    key: str
    touches: int
    total_p50: float | None
    total_p90: float | None
    system_p50: float | None
    system_p90: float | None
    human_p50: float | None
    human_p90: float | None
    on_time: int
    missed: int

    @property
    def attainment(self) -> float | None:
        return attainment(self.on_time, self.missed)


def speed_rows(
    bins: Mapping[tuple[str, str], Mapping[int, int]],
    outcomes: Mapping[str, tuple[int, int]],
) -> list[SpeedRow]:
    """Combine histogram bins keyed by (key, measure) and outcome counts keyed by key into rows."""
    keys = sorted({k for k, _ in bins} | set(outcomes))
    rows = []
    for key in keys:
        total = bins.get((key, "total"), {})
        system = bins.get((key, "system"), {})
        human = bins.get((key, "human"), {})
        on_time, missed = outcomes.get(key, (0, 0))
        rows.append(
            SpeedRow(
                key=key,
                touches=max(sum(total.values()), sum(human.values())),
                total_p50=percentile_from_bins(total, 50),
                total_p90=percentile_from_bins(total, 90),
                system_p50=percentile_from_bins(system, 50),
                system_p90=percentile_from_bins(system, 90),
                human_p50=percentile_from_bins(human, 50),
                human_p90=percentile_from_bins(human, 90),
                on_time=on_time,
                missed=missed,
            )
        )
    return rows


def pack_hist(counts: Mapping[int, int]) -> str:
    """Compact, stable text form of a histogram: ``{"bin": count}`` JSON sorted by bin."""
    return json.dumps({str(k): counts[k] for k in sorted(counts) if counts[k]}, separators=(",", ":"))


def unpack_hist(text: str) -> dict[int, int]:
    return {int(k): int(v) for k, v in json.loads(text).items()}


def merge_hist(into: dict[int, int], other: Mapping[int, int]) -> dict[int, int]:
    for index, n in other.items():
        into[index] = into.get(index, 0) + n
    return into


def add_bins(target: dict[int, int], source: Iterable[tuple[int, int]]) -> dict[int, int]:
    for index, n in source:
        target[index] = target.get(index, 0) + n
    return target
