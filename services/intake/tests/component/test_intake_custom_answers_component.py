"""Custom form answers through FastStream's in-memory broker: intake configured with the org's
custom-answers file publishes canonical answers on leads.accepted and traces (or rejects) the rest."""

from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from leadflow_contracts import LeadAccepted, LeadRejected
from leadflow_intake.app import create_app
from leadflow_intake.settings import IntakeSettings
from leadflow_intake.testing import demo_registry, lead_bytes
from leadflow_platform.clock import FakeClock

pytestmark = pytest.mark.component

ANSWERS = Path(__file__).resolve().parents[4] / "deploy" / "custom-answers.yaml"


async def _run(sqlite_url: str, tmp_path: Path, bodies: list[bytes], *, reject: bool = False) -> tuple[list, list]:
    answers_file = ANSWERS
    if reject:
        answers_file = tmp_path / "answers.yaml"
        answers_file.write_text(ANSWERS.read_text().replace("on_invalid: drop", "on_invalid: reject"))
    settings = IntakeSettings(
        database_url=sqlite_url, create_topics=False, kafka_bootstrap="127.0.0.1:1", custom_answers_file=answers_file
    )
    app = create_app(settings, clock=FakeClock(), sources=demo_registry())
    intake = app.state.intake
    accepted: list[Any] = []
    rejected: list[Any] = []

    @intake.broker.subscriber("leads.accepted")
    async def on_accepted(msg: KafkaMessage) -> None:
        accepted.append(LeadAccepted.model_validate_json(msg.raw_message.value))

    @intake.broker.subscriber("leads.rejected")
    async def on_rejected(msg: KafkaMessage) -> None:
        rejected.append(LeadRejected.model_validate_json(msg.raw_message.value))

    await intake.repository.create_tables()
    try:
        async with TestKafkaBroker(intake.broker):
            for body in bodies:
                await intake.broker.publish(body, "leads.inbound")
    finally:
        await intake.engine.dispose()
    return accepted, rejected


async def test_answers_are_published_canonically_and_bad_ones_traced(sqlite_url: str, tmp_path: Path) -> None:
    body = lead_bytes(1, custom_answers={"occupation": "STUDENT", "heard_from": "Carrier pigeon", "x": "1"})
    accepted, rejected = await _run(sqlite_url, tmp_path, [body])
    assert rejected == []
    [event] = accepted
    assert event.lead.custom_answers == {"occupation": "Student"}
    step = event.trace[-1]
    assert step.data["dropped_custom_answers"] == "heard_from,x"
    assert "custom_answers.heard_from ('Carrier pigeon' is not one of" in step.reason


async def test_reject_mode_sends_the_lead_to_leads_rejected(sqlite_url: str, tmp_path: Path) -> None:
    body = lead_bytes(2, custom_answers={"occupation": "Astronaut"})
    accepted, rejected = await _run(sqlite_url, tmp_path, [body], reject=True)
    assert accepted == []
    [event] = rejected
    assert event.reason.value == "invalid_custom_answer" and event.field == "custom_answers.occupation"
