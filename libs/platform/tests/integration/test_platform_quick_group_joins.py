"""The embedded broker holds a JoinGroup for half the member's session timeout, so the test fixture
``quick_group_joins`` gives every service settings class of a broker test module a short session."""

from __future__ import annotations

import os
import time

import pytest
from aiokafka import AIOKafkaConsumer
from leadflow_platform.consumer import group_options
from leadflow_platform.settings import ServiceSettings
from leadflow_platform.testing.fixtures import TEST_SESSION_TIMEOUT_MS, TopicNamespace, wait_for
from pydantic import Field
from pydantic_settings import SettingsConfigDict

pytestmark = pytest.mark.integration


class StrictSettings(ServiceSettings):
    """A service whose settings refuse a session below 6 s (as crm-sync's do)."""

    model_config = SettingsConfigDict(env_prefix="QGJSTRICT_", extra="ignore")
    session_timeout_ms: int | None = Field(default=45_000, ge=6_000)


async def _join_seconds(bootstrap: str, topic: str, settings: ServiceSettings, group: str) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, **group_options(settings))
    started = time.perf_counter()
    await consumer.start()
    try:
        await wait_for(lambda: bool(consumer.assignment()), timeout=60)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def test_every_settings_class_of_a_broker_module_gets_the_short_session(kafka_bootstrap: str) -> None:
    assert ServiceSettings().session_timeout_ms == TEST_SESSION_TIMEOUT_MS
    assert StrictSettings().session_timeout_ms == 6_000  # the smallest it accepts, not a validation error
    assert ServiceSettings(session_timeout_ms=30_000).session_timeout_ms == 30_000  # the test's own value wins


def test_a_member_this_module_never_imports_gets_it_too(kafka_bootstrap: str) -> None:
    """A test module may import its service only inside a fixture (tests/e2e/test_pipeline_end_to_end.py):
    every installed member's settings are found, here crm-sync's (its floor is 6 s)."""
    pytest.importorskip("leadflow_crm_sync")
    assert os.environ["CRMSYNC_SESSION_TIMEOUT_MS"] == "6000"
    assert os.environ["INTAKE_SESSION_TIMEOUT_MS"] == str(TEST_SESSION_TIMEOUT_MS)


async def test_a_join_waits_half_the_session_so_the_short_one_joins_sooner(
    kafka_bootstrap: str, topic_namespace: TopicNamespace
) -> None:
    topic = topic_namespace("leads.inbound")
    short = await _join_seconds(kafka_bootstrap, topic, ServiceSettings(), f"{topic_namespace.prefix}short")
    longer = await _join_seconds(
        kafka_bootstrap, topic, ServiceSettings(session_timeout_ms=6_000), f"{topic_namespace.prefix}long"
    )
    assert longer >= 2.9  # Tansu sleeps until half of 6 s has passed
    assert short < longer
