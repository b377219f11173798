"""docs/connect-your-org.md stays true: every setting it names exists, and so do the permission set,
the queues and the doctor's checks it describes."""

from __future__ import annotations

import re

import pytest
from leadflow_cli.doctor.command import SERVICE_PREFIXES
from leadflow_cli.doctor.needs import find_repo_file, routing_queues
from leadflow_crm_sync.settings import CrmSyncSettings
from leadflow_salesforce import SalesforceSettings

pytestmark = pytest.mark.unit

GUIDE = find_repo_file("docs/connect-your-org.md")


@pytest.fixture(scope="module")
def text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_every_salesforce_setting_in_the_guide_exists(text: str) -> None:
    named = set(re.findall(r"\b[A-Z]+_SALESFORCE__([A-Z_]+)", text))
    assert {"AUTH", "USERNAME", "CONSUMER_KEY", "PRIVATE_KEY_FILE", "DOMAIN"} <= named
    assert {n.lower() for n in named} <= set(SalesforceSettings.model_fields)
    prefixes = set(re.findall(r"`([A-Z]+_)SALESFORCE__", text)) | set(re.findall(r"\b([A-Z]+_)SALESFORCE__", text))
    assert prefixes <= set(SERVICE_PREFIXES.values())


def test_shadow_mode_setting_is_crm_syncs(text: str) -> None:
    assert "CRMSYNC_SHADOW_MODE=true" in text
    assert "shadow_mode" in CrmSyncSettings.model_fields


def test_permission_set_and_queues_named_in_the_guide_exist(text: str) -> None:
    assert "--name Leadflow_Integration" in text
    permset = find_repo_file(
        "deploy/salesforce/force-app/main/default/permissionsets/Leadflow_Integration.permissionset-meta.xml"
    )
    xml = permset.read_text(encoding="utf-8")
    for perm in ("ApiEnabled", "ConvertLeads"):
        assert f"<name>{perm}</name>" in xml
    teams, others = routing_queues(find_repo_file("services/route/config/routing.yaml"))
    for queue in re.findall(r"`(Queue_\w+)`", text):
        assert queue in {*teams.values(), *others}


def test_the_guide_walks_every_step(text: str) -> None:
    for heading in (
        "integration user",
        "Deploy the metadata",
        "connected app",
        "leadflow doctor",
        "Shadow mode",
        "Switching on",
        "Rollback",
    ):
        assert re.search(rf"^## \d\. .*{re.escape(heading)}", text, re.IGNORECASE | re.MULTILINE), heading
    assert "sf project deploy start --source-dir force-app" in text
