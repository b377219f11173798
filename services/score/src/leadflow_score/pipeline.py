"""The score use case for a batch of ``leads.enriched`` records: parse, score (rules + optional model), publish.

Invalid records go to ``leads.deadletter`` with the reason and their bytes; publish failures propagate so
the batch is redelivered. The scored event id is derived from the enriched event id (replays are no-ops
downstream).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from leadflow_contracts import DeadLetter, LeadEnriched, LeadScored, ModelScore
from leadflow_platform.clock import Clock
from leadflow_platform.kafka_io import Publisher, RawRecord, dead_letter, publish_events
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN, EVENTS_OUT, HANDLER_SECONDS
from pydantic import ValidationError

from leadflow_score.adapters.model import ModelScorer
from leadflow_score.domain.engine import SERVICE, blend, score_rules, scored_event
from leadflow_score.domain.ruleset import Ruleset

log = get_logger(__name__)


@dataclass
class ScorePipeline:
    ruleset: Ruleset
    clock: Clock
    scored: Publisher
    deadletter: Publisher
    model: ModelScorer | None = None
    model_weight: float = 0.0
    source_topic: str = "leads.enriched"

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

    async def handle(self, records: Sequence[RawRecord]) -> list[LeadScored]:
        started = time.perf_counter()
        now = self.clock.now()
        EVENTS_IN.labels(SERVICE, self.source_topic).inc(len(records))
        parsed: list[tuple[RawRecord, LeadEnriched]] = []
        dead: list[DeadLetter] = []
        for rec in records:
            try:
                parsed.append((rec, LeadEnriched.model_validate_json(rec.value)))
            except ValidationError as e:
                dead.append(dead_letter(SERVICE, rec, "invalid_event", _summary(e), now))
        models = self._model_scores([ev for _, ev in parsed])
        out: list[LeadScored] = []
        for (rec, ev), model in zip(parsed, models, strict=True):
            try:
                rules = score_rules(ev, self.ruleset)
                score = blend(rules, model, self.model_weight, self.ruleset)
                out.append(scored_event(ev, score, rules, now))
            except Exception as e:  # one lead's failure must not stop the partition
                log.exception("score_failed", lead_id=ev.lead_id, event_id=ev.event_id)
                dead.append(dead_letter(SERVICE, rec, "processing_error", f"{type(e).__name__}: {e}", now,
                                        lead_id=ev.lead_id))
        await publish_events(self.scored, out)
        if dead:
            await publish_events(self.deadletter, dead)
            for d in dead:
                EVENTS_FAILED.labels(SERVICE, self.source_topic, d.reason).inc()
                log.warning("lead_dead_lettered", lead_id=d.lead_id, reason=d.reason, detail=d.message[:300])
        EVENTS_OUT.labels(SERVICE, "leads.scored").inc(len(out))
        HANDLER_SECONDS.labels(SERVICE, "enriched_batch").observe(time.perf_counter() - started)
        log.debug("leads_scored", received=len(records), published=len(out), dead_lettered=len(dead),
                  hot=sum(1 for x in out if x.score.rating.value == "Hot"), ruleset=self.ruleset.version)
        return out


def _summary(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()[:5])
