"""Cursor arithmetic: when may the feed stop re-reading a change?

A Salesforce transaction stamps SystemModstamp when it writes and commits later (up to
``overlap`` seconds later, by assumption). So after a poll has read up to stamp F, a version
stamped at or before F may still appear. Each poll therefore reads from the *settled* stamp S
(every version ≤ S has been read), not from F. A poll that read up to F leaves a checkpoint
(t, F), t being when its first page arrived (the result set was fixed by then: later pages come
from the same query locator); every version stamped ≤ F had been stamped by t and so committed by
t + overlap. A later poll whose query started at or after t + overlap, reading from S (below every
unread version ≤ F), saw all of them: S may then move to F.

Besides, Salesforce stamps with its own clock and a query sees everything committed before it
ran, so a version stamped ≤ F − overlap (committed by F ≤ the query's time, in Salesforce's clock)
was visible to the poll that read F: S may also move to F − overlap at once (the classic rule).

Consequences: an idle org settles one overlap after its last change and then costs one query per
object per poll; a burst is re-read (and de-duplicated) for one overlap, not forever; a restart
loses the in-memory checkpoints and re-reads from the persisted S, which has no gaps.
The checkpoint rule compares local durations only and the classic one Salesforce stamps only, so a
Salesforce clock offset from ours
(the emulator's settable clock) does not matter; one moved *backwards* does (documented).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Checkpoint:
    at: datetime
    """Local time when the first page of the poll that read up to ``frontier`` arrived."""
    frontier: datetime


@dataclass(frozen=True)
class CursorState:
    settled: datetime | None = None
    """Every version stamped at or before this has been read (None: read from the beginning)."""
    frontier: datetime | None = None
    """The newest SystemModstamp read so far."""
    pending: tuple[Checkpoint, ...] = field(default=())

    @property
    def query_after(self) -> datetime | None:
        """The next poll reads versions stamped strictly after this."""
        return self.settled


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def after_poll(
    state: CursorState,
    *,
    query_started_at: datetime,
    answered_at: datetime,
    read_up_to: datetime | None,
    overlap: timedelta,
) -> CursorState:
    """The state after a poll that read every version after ``state.settled`` (all its pages) completed.

    ``query_started_at``: when the poll's query was sent; ``answered_at``: when its first page arrived;
    ``read_up_to``: the newest stamp the poll read (None if it read nothing).
    """
    settled = state.settled
    keep: list[Checkpoint] = []
    for cp in state.pending:
        if cp.at + overlap <= query_started_at:
            settled = _max(settled, cp.frontier)
        else:
            keep.append(cp)
    frontier = _max(state.frontier, read_up_to)
    if read_up_to is not None:
        settled = _max(settled, read_up_to - overlap)
    if frontier is not None:
        keep.append(Checkpoint(answered_at, frontier))
    keep = [cp for cp in keep if settled is None or cp.frontier > settled]
    return CursorState(settled=settled, frontier=frontier, pending=tuple(keep))


def restored(settled: datetime | None, frontier: datetime | None) -> CursorState:
    """The state after a restart: checkpoints are gone, so the unsettled window is read again (de-duplicated)."""
    return CursorState(settled=settled, frontier=frontier)
