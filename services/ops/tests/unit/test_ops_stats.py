"""Speed-to-lead math: exact percentiles, histogram percentiles, windows, attainment."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_ops.domain.stats import (
    WINDOWS,
    attainment,
    bin_bounds,
    bin_index,
    bucket_start,
    get_window,
    merge_hist,
    pack_hist,
    percentile,
    percentile_from_bins,
    speed_rows,
    unpack_hist,
    window_segments,
    window_start,
)

pytestmark = pytest.mark.unit


def test_percentile_matches_the_linear_interpolation_worked_example() -> None:
    """Wikipedia, 'Percentile' → 'The linear interpolation between closest ranks method' (C = 1, the
    NumPy/Excel PERCENTILE.INC definition): for 15, 20, 35, 40, 50 the 40th percentile is 29."""
    assert percentile([15, 20, 35, 40, 50], 40) == pytest.approx(29.0)
    assert percentile([50, 15, 40, 35, 20], 40) == pytest.approx(29.0)  # order does not matter


def test_percentile_edges() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert percentile([7], 90) == 7
    assert percentile([3, 9], 0) == 3 and percentile([3, 9], 100) == 9
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1], 101)


def test_bins_cover_the_line_without_gaps() -> None:
    assert bin_index(0) == 0 and bin_index(0.99) == 0 and bin_index(1.0) == 1
    for i in range(1, 120):
        lo, hi = bin_bounds(i)
        assert bin_index(lo * 1.000001) == i
        assert bin_index(hi * 0.999999) == i
        assert bin_bounds(i + 1)[0] == pytest.approx(hi)
    with pytest.raises(ValueError, match="non-negative"):
        bin_index(-1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=1, max_value=7 * 86400, allow_nan=False), min_size=20, max_size=400),
    st.sampled_from([50, 90]),
)
def test_histogram_percentile_is_within_ten_percent_of_the_exact_one(values: list[float], q: int) -> None:
    counts: dict[int, int] = {}
    for v in values:
        counts[bin_index(v)] = counts.get(bin_index(v), 0) + 1
    exact = percentile(values, q)
    estimate = percentile_from_bins(counts, q)
    assert exact is not None and estimate is not None
    # the estimate lies within the bin holding the exact rank neighbours: ±10 % (bin width) plus the
    # interpolation difference between the two definitions at small n
    lo = percentile(values, max(0, q - 100 / len(values)))
    hi = percentile(values, min(100, q + 100 / len(values)))
    assert lo is not None and hi is not None
    assert lo / 1.1 - 1e-9 <= estimate <= hi * 1.1 + 1e-9


def test_histogram_percentile_on_a_large_known_sample() -> None:
    rng = random.Random(7)
    values = [rng.expovariate(1 / 300) + 1 for _ in range(20000)]
    counts: dict[int, int] = {}
    for v in values:
        counts[bin_index(v)] = counts.get(bin_index(v), 0) + 1
    for q in (50, 90, 99):
        exact = percentile(values, q)
        assert exact is not None
        assert percentile_from_bins(counts, q) == pytest.approx(exact, rel=0.1)
    assert percentile_from_bins({}, 50) is None


def test_windows_are_whole_buckets_ending_now() -> None:
    now = datetime(2026, 3, 10, 14, 37, 12, tzinfo=UTC)
    assert window_start(now, get_window("1h")) == datetime(2026, 3, 10, 14, tzinfo=UTC)
    assert window_start(now, get_window("24h")) == datetime(2026, 3, 9, 15, tzinfo=UTC)
    assert window_start(now, get_window("7d")) == datetime(2026, 3, 4, tzinfo=UTC)
    assert window_start(now, get_window("30d")) == datetime(2026, 2, 9, tzinfo=UTC)
    assert bucket_start(now, "d") == datetime(2026, 3, 10, tzinfo=UTC)
    assert set(WINDOWS) == {"1h", "24h", "7d", "30d"}
    with pytest.raises(ValueError, match="window must be one of"):
        get_window("2h")
    with pytest.raises(ValueError, match="timezone-aware"):
        bucket_start(datetime(2026, 1, 1), "h")


def test_long_windows_read_whole_weeks_and_cover_every_day_once() -> None:
    now = datetime(2026, 3, 12, 9, 5, tzinfo=UTC)  # a Thursday
    assert bucket_start(now, "w") == datetime(2026, 3, 9, tzinfo=UTC)  # Monday
    segments = window_segments(now, get_window("30d"))
    assert segments == [
        ("d", datetime(2026, 2, 11, tzinfo=UTC), datetime(2026, 2, 16, tzinfo=UTC)),
        ("w", datetime(2026, 2, 16, tzinfo=UTC), None),
    ]
    covered = [datetime(2026, 2, 11, tzinfo=UTC) + timedelta(days=i) for i in range(30)]
    for day in covered:
        hits = [
            g
            for g, since, until in segments
            if since <= bucket_start(day, g) and (until is None or bucket_start(day, g) < until)
        ]
        assert len(hits) == 1, day
    assert window_segments(now, get_window("7d")) == [("d", datetime(2026, 3, 6, tzinfo=UTC), None)]
    monday = datetime(2026, 3, 31, 12, tzinfo=UTC)  # the window starts on Monday 2 March: weeks only
    assert window_segments(monday, get_window("30d"))[0] == ("w", datetime(2026, 3, 2, tzinfo=UTC), None)


def test_packed_histograms_roundtrip_and_merge() -> None:
    packed = pack_hist({12: 3, 3: 1, 7: 0})
    assert packed == '{"3":1,"12":3}'
    assert merge_hist(unpack_hist(packed), {12: 2, 40: 1}) == {3: 1, 12: 5, 40: 1}


def test_attainment() -> None:
    assert attainment(8, 2) == pytest.approx(80.0)
    assert attainment(0, 3) == 0.0
    assert attainment(0, 0) is None
    with pytest.raises(ValueError):
        attainment(-1, 2)


def test_speed_rows_combine_measures_and_outcomes_per_key() -> None:
    bins = {
        ("DACH", "total"): {bin_index(100): 3, bin_index(1000): 1},
        ("DACH", "system"): {bin_index(10): 4},
        ("DACH", "human"): {bin_index(90): 3, bin_index(990): 1},
    }
    rows = speed_rows(bins, {"DACH": (3, 1), "Nordics": (0, 2)})
    dach, nordics = rows
    assert dach.key == "DACH" and dach.touches == 4
    assert dach.total_p50 == pytest.approx(100, rel=0.1)
    assert dach.total_p90 is not None and dach.total_p90 > 500
    assert dach.system_p50 == pytest.approx(10, rel=0.1)
    assert dach.attainment == pytest.approx(75.0)
    assert nordics.touches == 0 and nordics.total_p50 is None and nordics.attainment == 0.0
