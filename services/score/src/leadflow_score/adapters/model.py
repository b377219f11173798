"""The ``ModelScorer`` port: a predictive model that scores a batch of enriched leads.

Implementations (issue 7) are passed to ``create_app(settings, model=…)``. Contract:
- ``score_batch`` gets the batch in order and returns one entry per lead, in the same order:
  a ``ModelScore`` or None when the model has nothing to say about that lead (rules alone then).
- It is called once per consumed batch, on the event loop: keep it CPU-bound and quick (vectorised), or
  do the slow part ahead of time. An exception or a wrong-length result is logged and the batch is
  scored by the rules alone (nothing is lost, the trace says so).
- The final score is ``(1 - w) x rules + w x 100 x probability`` with ``w`` = ``SCORE_MODEL_WEIGHT``;
  grade and rating stay rule-based (fit and engagement), so routing policies keep their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from leadflow_contracts import LeadEnriched, ModelScore


@runtime_checkable
class ModelScorer(Protocol):
    def score_batch(self, leads: Sequence[LeadEnriched]) -> list[ModelScore | None]: ...
