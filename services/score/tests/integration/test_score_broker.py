"""score over the real embedded broker."""

import pytest
from leadflow_contracts import LeadScored, LeadSourceKind, topics
from leadflow_platform.broker import make_broker
from leadflow_platform.testing.fixtures import consume
from leadflow_score.app import create_app
from leadflow_score.domain.engine import blend, score_rules, scored_event_id
from leadflow_score.settings import ScoreSettings
from leadflow_score.testing import enriched

pytestmark = pytest.mark.integration


async def test_enriched_to_scored_over_the_real_broker(kafka_bootstrap: str, topic_namespace) -> None:
    settings = ScoreSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_namespace.prefix, batch_timeout_ms=20)
    app = create_app(settings)
    producer = make_broker(settings)
    leads = [
        enriched(
            f"L{i}",
            job_title="CEO" if i % 2 else "Intern",
            country="NO",
            lead_source=LeadSourceKind.CALLBACK_REQUEST if i % 3 == 0 else LeadSourceKind.WEB_FORM,
        )
        for i in range(30)
    ]
    async with app.router.lifespan_context(app), producer:
        await producer.start()
        for ev in leads:
            await producer.publish(ev.to_json_bytes(), topic_namespace(topics.LEADS_ENRICHED), key=ev.kafka_key())
        records = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_SCORED), len(leads), timeout=40)
    out = {r.key.decode(): LeadScored.model_validate_json(r.value) for r in records}
    assert set(out) == {ev.lead_id for ev in leads}
    assert all(s.score.ruleset_version == "ruleset-v1" for s in out.values())
    assert out["L1"].score.score > out["L2"].score.score  # CEO vs intern, same source
    rs = app.state.ruleset
    for ev in leads:  # the service publishes exactly what the pure domain computes
        assert out[ev.lead_id].score == blend(score_rules(ev, rs), None, 0.0, rs)
        assert out[ev.lead_id].event_id == scored_event_id(ev.event_id)
