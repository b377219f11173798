"""The custom answers' Lead fields as crm-sync maps them are accepted by the emulator over HTTPS and read
back as written (the emulator schema comes from deploy/custom-answers.yaml via make salesforce-metadata)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from leadflow_crm_sync.domain.ids import lead_external_id
from leadflow_crm_sync.domain.mapping import lead_fields
from leadflow_crm_sync.domain.policy import load_custom_answers_file, load_policy
from leadflow_crm_sync.testing import routed
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.integration

ANSWERS = Path(__file__).resolve().parents[4] / "deploy" / "custom-answers.yaml"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        handle.seed("demo")
        yield handle


def test_every_declared_answer_field_round_trips_through_salesforce(emu: EmulatorHandle) -> None:
    config = load_custom_answers_file(ANSWERS)
    policy = load_policy().with_custom_answers(config)
    sf = connect(emu.salesforce_settings())
    # one answer per declared question, the last allowed value (a picklist value Salesforce must accept)
    answers = {key: spec.values[-1] for key, spec in config.answers.items() if spec.values}
    ev = routed("it-answers")
    ev = ev.model_copy(update={"lead": ev.lead.model_copy(update={"custom_answers": answers})})
    fields = lead_fields(ev, policy)
    fields.pop("OwnerId", None)  # owner routing is not what this test is about
    ext = lead_external_id(ev.lead_id)
    sf.Lead.upsert(f"Leadflow_Id__c/{ext}", {k: v for k, v in fields.items() if v is not None})
    want = config.salesforce_fields(answers)
    row = sf.query(f"SELECT {', '.join(want)} FROM Lead WHERE Leadflow_Id__c = '{ext}'")["records"][0]
    assert {k: row[k] for k in want} == want
