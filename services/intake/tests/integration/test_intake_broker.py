"""Intake over the real embedded broker and a real uvicorn socket: raw bytes in with aiokafka,
verdicts read back from leads.accepted / leads.rejected. One intake (one consumer-group join) for
the whole module."""

import asyncio
import base64
import contextlib
import json

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from leadflow_contracts import LeadAccepted, LeadRejected
from leadflow_intake.app import create_app
from leadflow_intake.settings import IntakeSettings
from leadflow_intake.testing import demo_registry, lead_bytes, signed
from leadflow_platform.embedded_kafka import free_port
from leadflow_platform.testing.fixtures import TopicNamespace, consume, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def live(kafka_bootstrap, tmp_path_factory):
    ns = TopicNamespace(kafka_bootstrap)
    await ns.create()
    port = free_port()
    db = tmp_path_factory.mktemp("intake") / "intake.db"
    settings = IntakeSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=ns.prefix,
        http_port=port,
        database_url=f"sqlite+aiosqlite:///{db}",
        consumer_group=f"{ns.prefix}intake",
        batch_timeout_ms=20,
    )
    app = create_app(settings, sources=demo_registry())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        await wait_for(lambda: server.started, timeout=30)
        # pay the consumer group's first assignment once, here
        await producer.send_and_wait(ns("leads.inbound"), lead_bytes(0), key=b"warm-up")
        await wait_for(lambda: app.state.intake.service.counts["accepted"] >= 1, timeout=60)
        yield ns, producer, client, app
    await producer.stop()
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)


async def verdicts(bootstrap, ns, accepted_n, rejected_n):
    accepted = await consume(bootstrap, ns("leads.accepted"), accepted_n)
    rejected = await consume(bootstrap, ns("leads.rejected"), rejected_n)
    return accepted, rejected


BAD = {
    "bad-json": b'{"event_id": "bad-json", "source": ',
    "bad-utf8": b'{"event_id": "bad-utf8", "person": {"first_name": "Ren\xe9"}}',
    "oversized": b'{"event_id": "oversized", "message": "' + b"y" * (65 * 1024) + b'"}',
    "missing": json.dumps({"event_id": "missing", "source": {"system": "web-forms"}}).encode(),
    "wrong-type": lead_bytes(77, engagement={"page_views": "many"}),
}


async def test_raw_kafka_bytes_land_on_accepted_or_rejected_with_originals(kafka_bootstrap, live):
    ns, producer, _client, _app = live
    good = [lead_bytes(i, lead_id=f"L-{i}") for i in range(1, 21)]
    futures = [
        await producer.send(ns("leads.inbound"), raw, key=f"L-{i}".encode()) for i, raw in enumerate(good, start=1)
    ]
    futures += [await producer.send(ns("leads.inbound"), raw, key=name.encode()) for name, raw in BAD.items()]
    await asyncio.gather(*futures)

    accepted, rejected = await verdicts(kafka_bootstrap, ns, 21, len(BAD))
    assert len(accepted) == 21  # 20 + the warm-up lead
    by_id = {LeadAccepted.model_validate_json(r.value).lead_id: r for r in accepted}
    assert {f"L-{i}" for i in range(1, 21)} <= set(by_id)
    assert all(r.key == lid.encode() for lid, r in by_id.items())
    events = [LeadRejected.model_validate_json(r.value) for r in rejected]
    originals = {base64.b64decode(e.original_base64): e for e in events}
    assert set(originals) == set(BAD.values())
    reasons = {name: originals[raw].reason.value for name, raw in BAD.items()}
    assert reasons == {
        "bad-json": "invalid_json",
        "bad-utf8": "invalid_utf8",
        "oversized": "too_large",
        "missing": "missing_field",
        "wrong-type": "schema_violation",
    }
    assert originals[BAD["missing"]].field == "occurred_at"
    assert originals[BAD["wrong-type"]].field == "engagement.page_views"
    assert all(r.key == e.lead_id.encode() for r, e in zip(rejected, events, strict=True))


async def test_replayed_event_on_the_same_partition_produces_nothing_new(kafka_bootstrap, live):
    ns, producer, _client, app = live
    key = b"replay-key"
    for raw in (lead_bytes(500, lead_id="L-500"), lead_bytes(500, lead_id="L-500"), lead_bytes(501)):
        await producer.send_and_wait(ns("leads.inbound"), raw, key=key)
    seen: list = []

    async def poll():  # the sentinel follows the replay on the same partition: once it is out, so is any copy
        seen[:] = await consume(kafka_bootstrap, ns("leads.accepted"), 10_000, timeout=1)
        return any(LeadAccepted.model_validate_json(r.value).lead.source_event_id == "evt-501" for r in seen)

    await wait_for(poll, timeout=30)
    ids = [LeadAccepted.model_validate_json(r.value).lead.source_event_id for r in seen]
    assert ids.count("evt-500") == 1 and ids.count("evt-501") == 1
    assert app.state.intake.service.counts["duplicate"] >= 1


async def test_http_over_a_real_socket(kafka_bootstrap, live):
    ns, _producer, client, _app = live
    import time

    good = lead_bytes(900, lead_id="L-900")
    response = await client.post("/v1/leads", content=good, headers=signed(good, int(time.time())))
    assert response.status_code == 202, response.text
    assert response.json()["lead_id"] == "L-900"

    bad = lead_bytes(901, lead_id="L-901", person={"email": "anna@", "phone": None})
    response = await client.post("/v1/leads", content=bad, headers=signed(bad, int(time.time())))
    assert response.status_code == 422 and response.json()["reason"] == "invalid_email"

    unsigned = lead_bytes(902)
    response = await client.post(
        "/v1/leads", content=unsigned, headers={"X-Leadflow-Source": "web-forms", "X-Leadflow-Key": "test-api-key"}
    )
    assert response.status_code == 401

    accepted = await consume(kafka_bootstrap, ns("leads.accepted"), 1000, timeout=2)
    assert any(r.key == b"L-900" for r in accepted)
    rejected = await consume(kafka_bootstrap, ns("leads.rejected"), 1000, timeout=2)
    http_rejections = [LeadRejected.model_validate_json(r.value) for r in rejected if r.key == b"L-901"]
    assert [e.channel for e in http_rejections] == ["http"]
    assert not any(
        b"evt-902" in base64.b64decode(LeadRejected.model_validate_json(r.value).original_base64) for r in rejected
    )
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "broker": True,
        "database": True,
        "consumer:intake": True,  # the fetch task of intake's subscriber runs
    }
