"""The score use case for a batch of ``LeadEnriched`` (parsed once by the consumer runtime): rules + the
optional model, blended; one ``LeadScored`` per lead.

The model runs in a worker thread (off the event loop, so the consumer keeps fetching and heart-beating);
a model failure falls back to rules only. A lead the domain code fails on raises: the runtime isolates it
and dead-letters it when it fails the same way twice. The scored event id is derived from the enriched
event id (replays are no-ops downstream).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from leadflow_contracts import LeadEnriched, LeadScored, ModelScore
from leadflow_platform.consumer import Batch, Outgoing
from leadflow_platform.logging import get_logger

from leadflow_score.adapters.model import ModelScorer
from leadflow_score.domain.engine import blend, score_rules, scored_event
from leadflow_score.domain.ruleset import Ruleset

log = get_logger(__name__)


@dataclass
class ScoreService:
    ruleset: Ruleset
    scored_topic: str
    model: ModelScorer | None = None
    model_weight: float = 0.0
    model_in_thread: bool = True

    def _model_scores(self, events: Sequence[LeadEnriched]) -> list[ModelScore | None]:
        if self.model is None or not events:
            return [None] * len(events)
        try:
            out = list(self.model.score_batch(list(events)))
        except Exception as e:
            log.warning("model_failed", error=type(e).__name__, detail=str(e)[:300], leads=len(events))
            return [None] * len(events)
        if len(out) != len(events):
            log.warning("model_wrong_length", expected=len(events), got=len(out))
            return [None] * len(events)
        return out

    async def __call__(self, batch: Batch) -> list[Outgoing]:
        """LeadEnriched -> LeadScored (fit, decayed engagement, grade, rating, optional model blend)."""
        events: list[LeadEnriched] = [item.event for item in batch.items]
        if self.model is not None and self.model_in_thread and events:
            models = await asyncio.to_thread(self._model_scores, events)
        else:
            models = self._model_scores(events)
        out: list[LeadScored] = []
        for ev, model in zip(events, models, strict=True):
            rules = score_rules(ev, self.ruleset)
            out.append(scored_event(ev, blend(rules, model, self.model_weight, self.ruleset), rules, batch.now))
        log.debug(
            "leads_scored",
            scored=len(out),
            hot=sum(1 for x in out if x.score.rating.value == "Hot"),
            ruleset=self.ruleset.version,
        )
        return [Outgoing.of(self.scored_topic, e) for e in out]
