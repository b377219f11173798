"""Intake through FastStream's in-memory broker: the Kafka subscriber and the HTTP endpoint share
the same service, database (SQLite) and publisher."""

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from leadflow_contracts import LeadAccepted, LeadRejected
from leadflow_intake.app import create_app
from leadflow_intake.domain.suppression import SuppressionList
from leadflow_intake.settings import IntakeSettings
from leadflow_intake.testing import (
    SECRETLESS_KEY,
    SECRETLESS_SOURCE,
    TEST_KEY,
    TEST_SOURCE,
    UNSIGNED_KEY,
    UNSIGNED_SOURCE,
    demo_registry,
    lead_bytes,
    sample_lead,
    signed,
)
from leadflow_platform.clock import FakeClock

pytestmark = pytest.mark.component


@dataclass
class Harness:
    app: Any
    broker: Any
    clock: FakeClock
    client: httpx.AsyncClient
    accepted: list = field(default_factory=list)
    rejected: list = field(default_factory=list)

    def accepted_events(self) -> list[LeadAccepted]:
        return [LeadAccepted.model_validate_json(r.value) for r in self.accepted]

    def rejected_events(self) -> list[LeadRejected]:
        return [LeadRejected.model_validate_json(r.value) for r in self.rejected]

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        if headers is None:
            headers = signed(body, int(self.clock.now().timestamp()))
        return await self.client.post("/v1/leads", content=body, headers=headers)


class FlakyPublisher:
    """Fails the first ``failures`` batches, then forwards to the real publisher."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inner: Any = None

    async def publish_all(self, messages):
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("broker unavailable")
        await self.inner.publish_all(messages)


async def make_harness(sqlite_url: str, **app_kwargs: Any):
    settings = IntakeSettings(
        database_url=sqlite_url, create_topics=False, kafka_bootstrap="127.0.0.1:1", retry_backoff_initial_seconds=0
    )
    clock = FakeClock()
    app = create_app(settings, clock=clock, sources=demo_registry(), **app_kwargs)
    intake = app.state.intake
    harness = Harness(
        app, intake.broker, clock, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")
    )

    @intake.broker.subscriber("leads.accepted")
    async def on_accepted(msg: KafkaMessage) -> None:
        harness.accepted.append(msg.raw_message)

    @intake.broker.subscriber("leads.rejected")
    async def on_rejected(msg: KafkaMessage) -> None:
        harness.rejected.append(msg.raw_message)

    await intake.repository.create_tables()
    return harness


@pytest.fixture
async def intake(sqlite_url):
    harness = await make_harness(sqlite_url, suppression=SuppressionList.of_values(["blocked@example.com"]))
    async with TestKafkaBroker(harness.broker):
        yield harness
    await harness.client.aclose()
    await harness.app.state.intake.engine.dispose()


# -- Kafka -----------------------------------------------------------------------------------------


async def test_kafka_lead_is_accepted_keyed_by_lead_id(intake):
    await intake.broker.publish(lead_bytes(1, lead_id="L-1"), "leads.inbound")
    [record] = intake.accepted
    assert record.key == b"L-1"
    event = LeadAccepted.model_validate_json(record.value)
    assert event.lead_id == "L-1"
    assert event.lead.first_name == "Anna" and event.lead.last_name == "Schmidt"
    assert event.lead.phone_e164 == "+49301234567"
    assert event.trace[-1].service == "intake" and event.trace[-1].data["channel"] == "kafka"
    assert intake.rejected == []


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b'{"event_id": "x", ', "invalid_json", None),
        (b'{"event_id": "caf\xe9"}', "invalid_utf8", None),
        (b'{"pad": "' + b"x" * 70_000 + b'"}', "too_large", None),
        (json.dumps({"event_id": "e", "source": {"system": "s"}}).encode(), "missing_field", "occurred_at"),
        (lead_bytes(2, person={"email": 7}), "schema_violation", "person.email"),
        (lead_bytes(3, person={"email": "nope", "phone": None}), "invalid_email", "person.email"),
        (lead_bytes(4, person={"email": None, "phone": None}), "no_contact", "person.email"),
        (lead_bytes(5, person={"email": "Blocked@Example.com"}), "suppressed", "person.email"),
    ],
)
async def test_kafka_bad_input_goes_to_rejected_with_the_original_bytes(intake, body, reason, field):
    await intake.broker.publish(body, "leads.inbound")
    assert intake.accepted == []
    [event] = intake.rejected_events()
    assert event.reason.value == reason
    assert event.field == field
    assert event.channel == "kafka"
    assert base64.b64decode(event.original_base64) == body
    assert event.message


async def test_kafka_replay_of_the_same_event_produces_nothing_new(intake):
    await intake.broker.publish(lead_bytes(1), "leads.inbound")
    await intake.broker.publish(lead_bytes(1, message="changed but same event id"), "leads.inbound")
    await intake.broker.publish(lead_bytes(2), "leads.inbound")
    assert [e.lead.source_event_id for e in intake.accepted_events()] == ["evt-1", "evt-2"]


async def test_kafka_replay_of_identical_bad_bytes_is_rejected_once(intake):
    await intake.broker.publish(b"not json", "leads.inbound")
    await intake.broker.publish(b"not json", "leads.inbound")
    await intake.broker.publish(b"not json either", "leads.inbound")
    assert len(intake.rejected) == 2


async def test_fixed_resubmission_of_a_rejected_event_is_accepted(intake):
    await intake.broker.publish(lead_bytes(9, person={"email": "nope", "phone": None}), "leads.inbound")
    await intake.broker.publish(lead_bytes(9), "leads.inbound")
    assert len(intake.rejected) == 1 and len(intake.accepted) == 1


async def test_do_not_call_is_accepted_and_flagged(intake):
    await intake.broker.publish(lead_bytes(1, consent={"may_call": False}), "leads.inbound")
    [event] = intake.accepted_events()
    assert event.lead.do_not_call is True
    assert "do_not_call" in event.trace[-1].reason


# -- the shared service: batches, failures -------------------------------------------------------


async def test_duplicates_inside_one_batch_are_published_once(intake):
    from leadflow_intake.service import Submission

    outcomes = await intake.app.state.intake.service.process(
        [Submission(lead_bytes(1)), Submission(lead_bytes(1)), Submission(b"{"), Submission(b"{")]
    )
    assert [o.status for o in outcomes] == ["accepted", "duplicate", "rejected", "duplicate"]
    assert len(intake.accepted) == 1 and len(intake.rejected) == 1


async def test_huge_payloads_are_rejected_with_a_bounded_original_and_a_pointer(sqlite_url):
    from leadflow_intake.service import Submission

    harness = await make_harness(sqlite_url)
    service = harness.app.state.intake.service
    service.policy = dataclasses.replace(service.policy, max_original_bytes=100_000)
    body = b'{"pad": "' + b"z" * 300_000 + b'"}'
    async with TestKafkaBroker(harness.broker):
        [outcome] = await service.process([Submission(body, origin="leads.inbound/2/41")])
    [event] = harness.rejected_events()
    assert outcome.status == "rejected" and event.reason.value == "too_large"
    assert base64.b64decode(event.original_base64) == body[:100_000]
    assert "truncated" in event.message and "leads.inbound/2/41" in event.message
    assert event.trace[-1].data["sha256"] == hashlib.sha256(body).hexdigest()
    await harness.client.aclose()
    await harness.app.state.intake.engine.dispose()


async def test_a_failed_publish_commits_no_claim_so_the_retry_publishes(sqlite_url):
    from leadflow_intake.service import Submission

    flaky = FlakyPublisher(failures=1)
    harness = await make_harness(sqlite_url, publisher=flaky)
    from leadflow_intake.adapters.publisher import KafkaLeadPublisher

    flaky.inner = KafkaLeadPublisher(harness.broker)
    async with TestKafkaBroker(harness.broker):
        service = harness.app.state.intake.service
        with pytest.raises(ConnectionError):
            await service.process([Submission(lead_bytes(1))])
        assert harness.accepted == []
        [outcome] = await service.process([Submission(lead_bytes(1))])
        assert outcome.status == "accepted"
        assert len(harness.accepted) == 1
        # and the kafka subscriber rewinds instead of committing past a failed batch
        flaky.failures = 1
        with pytest.raises(ConnectionError):
            await harness.broker.publish(lead_bytes(2), "leads.inbound")
    await harness.client.aclose()
    await harness.app.state.intake.engine.dispose()


# -- HTTP ------------------------------------------------------------------------------------------


async def test_http_signed_post_is_accepted_202(intake):
    body = lead_bytes(1)
    response = await intake.post(body)
    assert response.status_code == 202, response.text
    data = response.json()
    assert data["status"] == "accepted" and data["event_id"] == "evt-1"
    [event] = intake.accepted_events()
    assert event.lead_id == data["lead_id"]
    assert event.trace[-1].data["channel"] == "http"


async def test_http_response_says_what_was_not_taken_as_given(intake):
    body = lead_bytes(
        1,
        person={"email": "chloé.garcía@exemple.fr", "phone": "0721 234 567"},
        company={"country": "România"},
    )
    response = await intake.post(body)
    assert response.status_code == 202, response.text
    data = response.json()
    assert data["contact"] == {"email": "not_storable", "phone": "verified"}
    assert data["dropped_fields"] == ["person.email"]
    assert any("Email Address Internationalization" in note for note in data["notes"])
    [event] = intake.accepted_events()
    assert (event.lead.email, event.lead.email_original) == (None, "chloé.garcía@exemple.fr")
    assert (event.lead.country, event.lead.phone_e164) == ("RO", "+40721234567")


async def test_http_bearer_key_works_too(intake):
    body = lead_bytes(1)
    headers = signed(body, int(intake.clock.now().timestamp()))
    headers["Authorization"] = "Bearer " + headers.pop("X-Leadflow-Key")
    assert (await intake.post(body, headers)).status_code == 202


async def test_http_replay_answers_duplicate_and_publishes_nothing_new(intake):
    body = lead_bytes(1)
    first = await intake.post(body)
    second = await intake.post(body)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {**first.json(), "status": "duplicate"}
    assert len(intake.accepted) == 1


@pytest.mark.parametrize("nulls", [{}, {"occurred_at": None, "source": None}])
async def test_http_defaults_source_and_time_for_web_forms(intake, nulls):
    """Left out or sent as null: a web form's time is the receipt time and its source the authenticated one."""
    body = json.dumps({"person": {"email": "anna@acme-industries.de"}, **nulls}).encode()
    response = await intake.post(body)
    assert response.status_code == 202, response.text
    [event] = intake.accepted_events()
    assert event.lead.source.system == TEST_SOURCE
    assert event.lead.submitted_at == intake.clock.now()


async def test_http_and_kafka_read_null_as_not_given_and_lead_source_in_any_spelling(intake):
    """What a form tool or a Jackson/.NET writer sends: every key, null where nothing was entered."""
    nulls = {"company": None, "consent": None, "engagement": None, "callback": None, "lead_id": None}
    body = lead_bytes(1, lead_source="Callback Request", **nulls)
    response = await intake.post(body)
    assert response.status_code == 202, response.text
    await intake.broker.publish(
        lead_bytes(2, lead_source=None, person={"email": "b@acme-industries.de", "phone": None}, **nulls),
        "leads.inbound",
    )
    first, second = intake.accepted_events()
    assert first.lead.lead_source.value == "callback_request" and second.lead.lead_source.value == "web_form"
    assert second.lead.phone_e164 is None and second.lead.email == "b@acme-industries.de"


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: {**h, "X-Leadflow-Key": "wrong"}, "invalid_api_key"),
        (lambda h: _without(h, "X-Leadflow-Key"), "missing_api_key"),
        (lambda h: {**h, "X-Leadflow-Source": "nobody"}, "invalid_api_key"),  # same answer: no probing
        (lambda h: _without(h, "X-Leadflow-Source"), "invalid_api_key"),
        (lambda h: {**h, "X-Leadflow-Signature": "sha256=" + "0" * 64}, "invalid_signature"),
        (lambda h: _without(h, "X-Leadflow-Signature"), "missing_signature"),
        (
            lambda h: {**h, "X-Leadflow-Source": SECRETLESS_SOURCE, "X-Leadflow-Key": SECRETLESS_KEY},
            "no_secret_configured",
        ),
    ],
)
async def test_http_without_valid_credentials_is_401_and_publishes_nothing(intake, mutate, code):
    body = lead_bytes(1)
    response = await intake.post(body, mutate(signed(body, int(intake.clock.now().timestamp()))))
    assert response.status_code == 401
    assert response.json()["reason"] == code
    assert TEST_KEY not in response.text
    assert intake.accepted == [] and intake.rejected == []


async def test_http_old_or_future_signature_is_401(intake):
    body = lead_bytes(1)
    headers = signed(body, int(intake.clock.now().timestamp()))
    intake.clock.advance(timedelta(minutes=5, seconds=1))
    assert (await intake.post(body, headers)).json()["reason"] == "stale_timestamp"
    future = signed(body, int((intake.clock.now() + timedelta(minutes=6)).timestamp()))
    response = await intake.post(body, future)
    assert response.status_code == 401 and response.json()["reason"] == "stale_timestamp"
    assert intake.accepted == []


async def test_http_signature_is_bound_to_the_body(intake):
    headers = signed(lead_bytes(1), int(intake.clock.now().timestamp()))
    response = await intake.post(lead_bytes(2), headers)
    assert response.status_code == 401
    assert intake.accepted == [] and intake.rejected == []


async def test_http_source_that_opted_out_of_signatures_needs_only_its_key(intake):
    body = lead_bytes(
        1,
        source={"system": UNSIGNED_SOURCE},
        company={"country": None},
        person={"email": None, "phone": "020 7946 0958"},
    )
    response = await intake.post(body, {"X-Leadflow-Source": UNSIGNED_SOURCE, "X-Leadflow-Key": UNSIGNED_KEY})
    assert response.status_code == 202, response.text
    assert intake.accepted_events()[0].lead.phone_e164 == "+442079460958"  # the source's default region


@pytest.mark.parametrize(
    ("body", "status", "reason", "field"),
    [
        (b'{"person": ', 400, "invalid_json", None),
        (b'{"person": "\xff"}', 400, "invalid_utf8", None),
        (lead_bytes(1, occurred_at="yesterday"), 422, "schema_violation", "occurred_at"),  # null: receipt time
        (
            json.dumps({"event_id": "e", "person": {"email": "anna@acme.de"}, "source": {}}).encode(),
            422,
            "missing_field",
            "source.system",
        ),
        (lead_bytes(1, company={"employees": "lots"}), 422, "schema_violation", "company.employees"),
        (lead_bytes(1, person={"email": "anna@", "phone": None}), 422, "invalid_email", "person.email"),
        (lead_bytes(1, person={"email": "blocked@example.com"}), 422, "suppressed", "person.email"),
        (lead_bytes(1, source={"system": "someone-else"}), 422, "schema_violation", "source.system"),
        (lead_bytes(1, message="x" * 70_000), 413, "too_large", None),
        (
            lead_bytes(1, original={"a": json.loads("[" * 40 + "]" * 40)}),
            422,
            "too_deep",
            "original.a" + ".0" * 30,
        ),  # the path where the 33rd level starts
        (b"[" * 20_000 + b"]" * 20_000, 422, "too_deep", None),  # beyond what a JSON parser recurses into
        (
            lead_bytes(1, person={"first_name": "x" * 5000, "email": "a@b.de"}),
            422,
            "string_too_long",
            "person.first_name",
        ),
        (lead_bytes(1, original={"rows": list(range(5000))}), 422, "too_many_items", "original.rows"),
    ],
)
async def test_http_bad_leads_get_4xx_with_the_reason_and_are_published_as_rejected(
    intake, body, status, reason, field
):
    response = await intake.post(body)
    assert response.status_code == status, response.text
    data = response.json()
    assert (data["status"], data["reason"], data["field"]) == ("rejected", reason, field)
    assert data["message"]
    [event] = intake.rejected_events()
    assert event.reason.value == reason and event.channel == "http"
    assert base64.b64decode(event.original_base64) == body
    assert intake.accepted == []


async def test_http_body_beyond_the_read_limit_is_413_without_reading_or_publishing(intake):
    body = b"x" * (1024 * 1024 + 1)
    response = await intake.post(body)
    assert response.status_code == 413
    assert intake.rejected == [] and intake.accepted == []


async def test_http_answers_503_when_the_broker_fails_and_commits_nothing(sqlite_url):
    flaky = FlakyPublisher(failures=1)
    harness = await make_harness(sqlite_url, publisher=flaky)
    from leadflow_intake.adapters.publisher import KafkaLeadPublisher

    flaky.inner = KafkaLeadPublisher(harness.broker)
    async with TestKafkaBroker(harness.broker):
        body = lead_bytes(1)
        first = await harness.post(body)
        assert first.status_code == 503 and first.headers["retry-after"]
        second = await harness.post(body)
        assert second.status_code == 202 and second.json()["status"] == "accepted"
    await harness.client.aclose()
    await harness.app.state.intake.engine.dispose()


async def test_metrics_count_in_out_and_failed(intake):
    from leadflow_platform.metrics import EVENTS_FAILED, EVENTS_IN

    before_in = EVENTS_IN.labels("intake", "leads.inbound")._value.get()
    before_failed = EVENTS_FAILED.labels("intake", "leads.inbound", "invalid_json")._value.get()
    await intake.broker.publish(lead_bytes(1), "leads.inbound")
    await intake.broker.publish(b"{", "leads.inbound")
    assert EVENTS_IN.labels("intake", "leads.inbound")._value.get() == before_in + 2
    assert EVENTS_FAILED.labels("intake", "leads.inbound", "invalid_json")._value.get() == before_failed + 1
    text = (await intake.client.get("/metrics")).text
    assert "leadflow_events_out_total" in text


def test_sample_lead_matches_the_contract():
    from leadflow_contracts import LeadSubmitted

    LeadSubmitted.model_validate(sample_lead())
