"""The round-robin ledger: per rep, the smooth-weighted credit and the load counters caps are checked against.

Pure values. The adapter loads it under a lock, the router changes it, the adapter writes the changed rows back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass(frozen=True)
class RepLoad:
    rep_id: str
    credit: float = 0.0
    assigned_total: int = 0
    hour_bucket: str = ""
    hour_count: int = 0
    day_bucket: str = ""
    day_count: int = 0
    open_leads: int = 0


def hour_bucket(local: datetime) -> str:
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}"


def day_bucket(local: datetime) -> str:
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"


@dataclass
class Ledger:
    """Rep loads by rep id; ``dirty`` holds the ids changed since loading."""

    loads: dict[str, RepLoad] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, loads: Iterable[RepLoad]) -> Ledger:
        return cls({load.rep_id: load for load in loads})

    def get(self, rep_id: str) -> RepLoad:
        return self.loads.get(rep_id) or RepLoad(rep_id)

    def _put(self, load: RepLoad) -> None:
        self.loads[load.rep_id] = load
        self.dirty.add(load.rep_id)

    def in_hour(self, rep_id: str, local: datetime) -> int:
        load = self.get(rep_id)
        return load.hour_count if load.hour_bucket == hour_bucket(local) else 0

    def in_day(self, rep_id: str, local: datetime) -> int:
        load = self.get(rep_id)
        return load.day_count if load.day_bucket == day_bucket(local) else 0

    def record_assignment(self, rep_id: str, local: datetime) -> None:
        load = self.get(rep_id)
        hb, db = hour_bucket(local), day_bucket(local)
        self._put(
            replace(
                load,
                assigned_total=load.assigned_total + 1,
                hour_bucket=hb,
                hour_count=(load.hour_count if load.hour_bucket == hb else 0) + 1,
                day_bucket=db,
                day_count=(load.day_count if load.day_bucket == db else 0) + 1,
                open_leads=load.open_leads + 1,
            )
        )

    def add_open(self, rep_id: str) -> None:
        """A lead was given to the rep outside routing (e.g. in Salesforce): it counts as open, not against caps."""
        load = self.get(rep_id)
        self._put(replace(load, open_leads=load.open_leads + 1))

    def snapshot(self) -> tuple[dict[str, RepLoad], set[str]]:
        return dict(self.loads), set(self.dirty)

    def restore(self, snapshot: tuple[dict[str, RepLoad], set[str]]) -> None:
        self.loads, self.dirty = dict(snapshot[0]), set(snapshot[1])

    def release(self, rep_id: str) -> None:
        """One of the rep's open leads was closed or taken away."""
        load = self.get(rep_id)
        self._put(replace(load, open_leads=max(0, load.open_leads - 1)))

    def pick_weighted(self, candidates: Sequence[tuple[str, float]]) -> str:
        """Smooth weighted round-robin (nginx style) over ``(rep_id, weight)`` with weight > 0.

        Every candidate's credit grows by its weight; the one with the most credit wins and pays the
        total. Over any run the picks follow the weights exactly, interleaved rather than in bursts.
        Reps that are not candidates this time keep their credit unchanged.
        """
        if not candidates:
            raise ValueError("pick_weighted needs at least one candidate")
        total = sum(w for _, w in candidates)
        credits = {rep_id: self.get(rep_id).credit + weight for rep_id, weight in candidates}
        weights = dict(candidates)
        # max() keeps the first of equals: walking ids in order makes the smallest id win a tie
        winner = max(sorted(credits), key=lambda r: (credits[r], weights[r]))
        for rep_id, credit in credits.items():
            if rep_id == winner:
                credit -= total
            self._put(replace(self.get(rep_id), credit=credit))
        return winner
