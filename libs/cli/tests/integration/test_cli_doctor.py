"""`leadflow doctor` against the real emulator over HTTPS: green on the demo org, red with the right
messages on an org that lacks a field, a picklist value and a permission, exit 2 when it cannot log in."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from leadflow_cli.doctor.command import run
from leadflow_cli.main import main
from pydantic import SecretStr

pytestmark = pytest.mark.integration


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(
        **{"service": "crm-sync", "metadata": None, "routing": None, "policy": None, "json": True, **kw}
    )


@pytest.fixture
def demo_org(sf_emulator):
    sf_emulator.seed("demo")
    yield sf_emulator
    sf_emulator.configure(hiddenFields=[], readOnlyFields=[], removedPicklistValues={})


def test_demo_org_is_ready_using_the_services_own_environment(demo_org, monkeypatch, capsys) -> None:
    settings = demo_org.salesforce_settings()
    env = {
        "LOGIN_URL": settings.login_url,
        "USERNAME": settings.username,
        "PASSWORD": settings.password.get_secret_value(),
        "SECURITY_TOKEN": settings.security_token.get_secret_value(),
        "CA_BUNDLE": str(settings.ca_bundle),
    }
    for key, value in env.items():
        monkeypatch.setenv(f"CRMSYNC_SALESFORCE__{key}", value)
    assert main(["doctor", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["blocking"] == 0
    levels = {f["check"]: f["level"] for f in out["findings"] if f["level"] in ("ok", "block")}
    for check in ("Login", "API version", "Custom fields", "Field access", "Queues", "Users", "API allocation"):
        assert levels.get(check) == "ok", (check, out["findings"])
    assert "leadflow-pass" not in json.dumps(out)  # the password never reaches the output


def test_an_org_missing_a_field_a_picklist_value_and_a_permission_is_blocked(demo_org) -> None:
    demo_org.configure(
        hiddenFields=["Lead.Score__c"],
        readOnlyFields=["Lead.SLA_Due__c"],
        removedPicklistValues={"Lead.SLA_Status__c": ["Breached"], "Lead.Status": ["Closed - Converted"]},
    )
    buf = io.StringIO()
    assert run(_args(), out=buf, settings=demo_org.salesforce_settings()) == 1
    found = {(f["check"], f["level"]): f for f in json.loads(buf.getvalue())["findings"]}
    field = found[("Custom fields", "block")]
    assert "Lead.Score__c" in field["message"] and "sf project deploy start" in field["fix"]
    values = found[("Picklist values", "block")]
    assert "Lead.SLA_Status__c lacks 'Breached'" in values["message"]
    access = found[("Field access", "block")]
    assert (
        "Lead.SLA_Due__c" in access["message"] and "sf org assign permset --name Leadflow_Integration" in access["fix"]
    )
    status = found[("Lead Status", "block")]
    assert "'Closed - Converted'" in status["message"] and "Converted" in status["fix"]
    assert ("Queues", "ok") in found and ("Users", "ok") in found  # the rest of the org is still fine


def test_an_exhausted_api_allocation_and_missing_queue_block(demo_org, tmp_path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "finance_queue: Queue_Finance\nkey_accounts: {queue: Queue_Key_Accounts}\n"
        "teams:\n  Nordics: {queue: Queue_Nordics}\n  Iberia: {queue: Queue_Iberia}\n",
        encoding="utf-8",
    )
    buf = io.StringIO()
    demo_org.configure(dailyApiLimit=1_000_000, apiUsage=999_990)  # 10 calls left: enough to read, not to run
    rc = run(_args(routing=routing), out=buf, settings=demo_org.salesforce_settings())
    findings = json.loads(buf.getvalue())["findings"]
    blocks = {f["check"]: f["message"] for f in findings if f["level"] == "block"}
    assert rc == 1
    assert "Iberia → Queue_Iberia" in blocks["Queues"]
    assert "Team__c = Iberia" in blocks["Users"]
    assert any(f["check"] == "API allocation" and f["level"] in ("warn", "block") for f in findings)


def test_bad_credentials_are_one_clear_finding_and_exit_2(demo_org) -> None:
    buf = io.StringIO()
    settings = demo_org.salesforce_settings(password=SecretStr("wrong"))
    assert run(_args(json=False), out=buf, settings=settings) == 2
    text = buf.getvalue()
    assert "BLOCK Login" in text and "CRMSYNC_SALESFORCE__PASSWORD" in text
    assert "wrong" not in text
