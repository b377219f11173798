"""The producer and poll settings reach the clients: linger and the batch subscriber's idle wait."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadflow_platform import broker as broker_module
from leadflow_platform.settings import ServiceSettings
from pydantic import ValidationError


def _kwargs(monkeypatch: pytest.MonkeyPatch, settings: ServiceSettings) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(broker_module, "KafkaBroker", lambda **kw: seen.update(kw) or seen)
    broker_module.make_broker(settings)
    return seen


def test_defaults_wait_on_nothing_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServiceSettings()
    assert _kwargs(monkeypatch, settings)["linger_ms"] == 0
    # an idle consumer's loop turns at most ten times a second; the poll itself wakes on a record (the
    # runtime's subscribers never sleep after an empty poll: test_platform_consumer, and the real-broker
    # test_a_record_reaching_an_idle_consumer_is_handled_without_waiting_out_its_poll_timeout)
    assert settings.batch_timeout_ms >= 100
    assert settings.fetch_max_wait_ms <= 50  # the broker's hold vs the CPU of idle fetches (see the setting)


@given(st.integers(min_value=0, max_value=1000))
def test_linger_comes_from_the_settings(linger: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        assert _kwargs(mp, ServiceSettings(kafka_linger_ms=linger))["linger_ms"] == linger


def test_linger_and_batch_timeout_from_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_KAFKA_LINGER_MS", "7")
    monkeypatch.setenv("LEADFLOW_BATCH_TIMEOUT_MS", "25")
    settings = ServiceSettings()
    assert (settings.kafka_linger_ms, settings.batch_timeout_ms) == (7, 25)


@pytest.mark.parametrize("field", ["kafka_linger_ms", "batch_timeout_ms"])
def test_bad_values_are_refused_with_the_field_named(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ServiceSettings(**{field: -1})


def test_zero_batch_timeout_is_refused() -> None:
    """0 would make the batch subscriber spin: an empty poll and a zero sleep, over and over."""
    with pytest.raises(ValidationError, match="batch_timeout_ms"):
        ServiceSettings(batch_timeout_ms=0)
