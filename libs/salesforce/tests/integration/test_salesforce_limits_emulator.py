"""Every call through `connect(..., metrics_service=…)` exports the org's API usage as Salesforce reports it
(emulator over HTTPS), in the Prometheus text ops' Org health reads."""

from __future__ import annotations

import pytest
from leadflow_platform.metrics import render
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration


def exported(service: str) -> dict[str, float]:
    text = render()[0].decode()
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("leadflow_salesforce_api_") and s.labels.get("service") == service
    }


def test_api_usage_is_exported_from_every_response(sf_emulator: EmulatorHandle) -> None:
    sf_emulator.configure(dailyApiLimit=15000, apiUsage=4200)
    sf = connect(sf_emulator.salesforce_settings(), metrics_service="limits-it")
    sf.query("SELECT Id FROM User LIMIT 1")
    org = sf_emulator.configure()
    values = exported("limits-it")
    assert values["leadflow_salesforce_api_used"] == org["apiUsage"] >= 4201
    assert values["leadflow_salesforce_api_limit"] == 15000
    assert values["leadflow_salesforce_api_remaining"] == 15000 - org["apiUsage"]
    for _ in range(3):
        sf.query("SELECT Id FROM User LIMIT 1")
    assert exported("limits-it")["leadflow_salesforce_api_used"] == sf_emulator.configure()["apiUsage"]


def test_without_a_service_name_nothing_is_exported(sf_emulator: EmulatorHandle) -> None:
    sf = connect(sf_emulator.salesforce_settings())
    sf.query("SELECT Id FROM User LIMIT 1")
    assert exported("") == {}
