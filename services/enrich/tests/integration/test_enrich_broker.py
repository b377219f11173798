"""enrich over the real embedded broker: CrmChange events fill the mirror, accepted leads come out enriched."""

import base64
from datetime import UTC, datetime

import pytest
from leadflow_contracts import ChangeType, ClientType, CrmChange, DeadLetter, LeadEnriched, MatchMethod, topics
from leadflow_enrich.app import create_app
from leadflow_enrich.settings import EnrichSettings
from leadflow_enrich.testing import accepted
from leadflow_platform.broker import make_broker
from leadflow_platform.testing.fixtures import consume, wait_for

pytestmark = pytest.mark.integration
T = datetime(2026, 1, 5, 8, tzinfo=UTC)


def change(record_id: str, obj: str, record: dict, kind: ChangeType = ChangeType.CREATED) -> CrmChange:
    return CrmChange(
        event_id=f"chg-{record_id}-{kind.value}",
        lead_id=record_id,
        occurred_at=T,
        object=obj,
        record_id=record_id,
        change_type=kind,
        changed_at=T,
        system_modstamp=T,
        record=record,
    )


async def test_changes_then_leads_over_the_real_broker(kafka_bootstrap: str, topic_namespace, sqlite_url: str) -> None:
    settings = EnrichSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_namespace.prefix,
        database_url=sqlite_url,
        instance_id="it",
        batch_timeout_ms=20,
    )
    app = create_app(settings)
    producer = make_broker(settings)
    async with app.router.lifespan_context(app), producer:
        await producer.start()
        for ch in (
            change(
                "001KEY",
                "Account",
                {
                    "Name": "Alpen Robotics GmbH",
                    "Website": "alpen-robotics.example",
                    "OwnerId": "005KAM",
                    "Key_Account__c": True,
                    "Client_Type__c": "Key Account",
                },
            ),
            change("003C", "Contact", {"AccountId": "001KEY", "Email": "anna@alpen-robotics.example"}),
            change("00QD", "Lead", {"Email": "dup@example.org", "Status": "Open - Not Contacted", "OwnerId": "005S"}),
        ):
            await producer.publish(ch.to_json_bytes(), topic_namespace(topics.CRM_CHANGES), key=ch.kafka_key())
        await wait_for(lambda: app.state.mirror.stats.changes_applied >= 3, timeout=30)

        leads = [accepted(f"L{i}", email=f"p{i}@alpen-robotics.example", phone_e164="+4930123456") for i in range(20)]
        leads.append(accepted("L-dup", email="dup@example.org"))
        for ev in leads:
            await producer.publish(ev.to_json_bytes(), topic_namespace(topics.LEADS_ACCEPTED), key=ev.kafka_key())
        await producer.publish(b"garbage", topic_namespace(topics.LEADS_ACCEPTED), key=b"L-garbage")

        records = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_ENRICHED), len(leads), timeout=40)
        dead = await consume(kafka_bootstrap, topic_namespace(topics.LEADS_DEADLETTER), 1, timeout=20)

    out = {r.key.decode(): LeadEnriched.model_validate_json(r.value) for r in records}
    assert set(out) == {ev.lead_id for ev in leads}
    e = out["L3"].enrichment
    assert (e.match.account_id, e.match.method, e.client_type) == (
        "001KEY",
        MatchMethod.EMAIL_DOMAIN,
        ClientType.KEY_ACCOUNT,
    )
    assert e.timezone == "Europe/Berlin"
    assert out["L-dup"].enrichment.duplicate_of is not None
    assert out["L-dup"].enrichment.duplicate_of.record_id == "00QD"
    [d] = [DeadLetter.model_validate_json(r.value) for r in dead]
    assert d.lead_id == "L-garbage" and base64.b64decode(d.original_base64) == b"garbage"
