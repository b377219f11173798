"""score over TestKafkaBroker: the app as create_app builds it, with and without a (fake) model."""

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import DeadLetter, Grade, LeadScored, LeadSourceKind
from leadflow_platform.clock import FakeClock
from leadflow_score.app import create_app
from leadflow_score.settings import ScoreSettings
from leadflow_score.testing import FakeModel, enriched

pytestmark = pytest.mark.component

NOW = datetime(2026, 1, 5, 9, 0, 5, tzinfo=UTC)


def make_app(model: FakeModel | None = None, weight: float = 0.3):
    settings = ScoreSettings(kafka_bootstrap="127.0.0.1:1", model_weight=weight)
    app = create_app(settings, clock=FakeClock(NOW), model=model, ensure_kafka_topics=False)
    broker = app.state.broker
    out: dict[str, list[Any]] = {"scored": [], "dead": []}

    @broker.subscriber("leads.scored")
    async def scored_sink(body: dict) -> None:
        out["scored"].append(LeadScored.model_validate(body))

    @broker.subscriber("leads.deadletter")
    async def dead_sink(body: dict) -> None:
        out["dead"].append(DeadLetter.model_validate(body))

    return app, broker, out


async def test_enriched_leads_are_scored_and_poison_is_dead_lettered() -> None:
    app, broker, out = make_app()
    hot = enriched(
        "L-hot",
        event_id="enr-hot",
        job_title="CEO",
        country="NO",
        lead_source=LeadSourceKind.CALLBACK_REQUEST,
        engagement={"visits": 7},
    )
    cold = enriched("L-cold", job_title="Student", lead_source=LeadSourceKind.LIST_UPLOAD)
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        for ev in (hot, cold):
            await br.publish(ev.to_json_bytes(), "leads.enriched", key=ev.kafka_key())
        await br.publish(b'{"lead_id": "L-bad"}', "leads.enriched", key=b"L-bad")
    by_id = {s.lead_id: s for s in out["scored"]}
    assert set(by_id) == {"L-hot", "L-cold"}
    h = by_id["L-hot"]
    assert h.score.ruleset_version == "ruleset-v1" and h.score.model is None
    assert h.score.score > by_id["L-cold"].score.score
    assert h.score.reasons and all(r.reason for r in h.score.reasons)
    assert h.trace[-1].service == "score" and h.occurred_at == NOW
    assert h.lead == hot.lead and h.enrichment == hot.enrichment
    assert by_id["L-cold"].score.grade is Grade.D
    [dead] = out["dead"]
    assert (dead.lead_id, dead.reason, dead.service) == ("L-bad", "invalid_event", "score")
    assert base64.b64decode(dead.original_base64) == b'{"lead_id": "L-bad"}'


async def test_a_model_is_blended_per_lead_and_none_means_rules_only() -> None:
    model = FakeModel({"L-1": 0.95, "L-2": None})
    app, broker, out = make_app(model, weight=0.5)
    rules_app, rules_broker, rules_out = make_app()
    leads = [enriched("L-1", job_title="Engineer"), enriched("L-2", job_title="Engineer")]
    for a, b, o in ((app, broker, out), (rules_app, rules_broker, rules_out)):
        async with TestKafkaBroker(b) as br, a.router.lifespan_context(a):
            for ev in leads:
                await br.publish(ev.to_json_bytes(), "leads.enriched", key=ev.kafka_key())
    assert model.calls == [["L-1"], ["L-2"]]
    blended = {s.lead_id: s.score for s in out["scored"]}
    plain = {s.lead_id: s.score for s in rules_out["scored"]}
    assert blended["L-1"].model is not None and blended["L-1"].model.probability == 0.95
    assert blended["L-1"].score == pytest.approx(round(0.5 * plain["L-1"].score + 0.5 * 95, 1))
    assert blended["L-1"].reasons[-1].component == "model"
    assert blended["L-2"] == plain["L-2"]


async def test_a_failing_model_falls_back_to_the_rules() -> None:
    model = FakeModel({}, fail=RuntimeError("model server down"))
    app, broker, out = make_app(model, weight=0.5)
    async with TestKafkaBroker(broker) as br, app.router.lifespan_context(app):
        ev = enriched("L-x", job_title="CTO")
        await br.publish(ev.to_json_bytes(), "leads.enriched", key=ev.kafka_key())
    [s] = out["scored"]
    assert s.score.model is None and out["dead"] == []
    assert model.calls == [["L-x"]]
