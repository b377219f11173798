"""Cursor / overlap arithmetic: no gaps with late commits, no endless re-reads once idle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from leadflow_crm_changes.domain.cursor import CursorState, after_poll, restored

pytestmark = pytest.mark.unit

T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # local clock
S = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # Salesforce stamps: another clock, an hour behind
OVERLAP = timedelta(seconds=30)


def sec(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_classic_rule_settles_up_to_frontier_minus_overlap_at_once():
    st = after_poll(CursorState(settled=S), query_started_at=T, answered_at=T, read_up_to=S + sec(100), overlap=OVERLAP)
    assert st.settled == S + sec(70) and st.frontier == S + sec(100)
    assert st.query_after == S + sec(70)


def test_checkpoint_settles_only_after_a_poll_started_one_overlap_later():
    st = after_poll(
        CursorState(settled=S), query_started_at=T, answered_at=T + sec(1), read_up_to=S + sec(10), overlap=OVERLAP
    )
    assert st.settled == S  # S+10-30 < S: the classic rule does not help
    # polls inside the overlap window keep reading from S (a late commit stamped ≤ S+10 would be seen)
    st = after_poll(st, query_started_at=T + sec(20), answered_at=T + sec(20), read_up_to=S + sec(10), overlap=OVERLAP)
    assert st.settled == S
    # a poll whose query started ≥ 30 s after the first answer read from S: everything ≤ S+10 was seen
    st = after_poll(st, query_started_at=T + sec(31), answered_at=T + sec(31), read_up_to=None, overlap=OVERLAP)
    assert st.settled == S + sec(10)
    assert st.pending == ()  # idle from here: the query reads nothing new, one call per poll


def test_late_commit_inside_the_overlap_is_not_skipped():
    """A version stamped before the frontier but committed after the poll that read the frontier."""
    st = after_poll(CursorState(settled=S), query_started_at=T, answered_at=T, read_up_to=S + sec(10), overlap=OVERLAP)
    late_stamp = S + sec(5)  # commits at T+10: invisible to the first poll
    assert st.query_after is not None and st.query_after < late_stamp  # the next poll's query still covers it


def test_no_frontier_without_reads_and_restart_keeps_only_persisted_values():
    st = after_poll(CursorState(), query_started_at=T, answered_at=T, read_up_to=None, overlap=OVERLAP)
    assert st == CursorState()
    st = after_poll(CursorState(settled=S), query_started_at=T, answered_at=T, read_up_to=S + sec(10), overlap=OVERLAP)
    again = restored(st.settled, st.frontier)
    assert again.pending == () and again.query_after == st.settled  # re-read the unsettled window, no gap


def test_zero_overlap_settles_on_the_next_poll():
    st = after_poll(CursorState(), query_started_at=T, answered_at=T, read_up_to=S, overlap=timedelta(0))
    assert st.settled == S
