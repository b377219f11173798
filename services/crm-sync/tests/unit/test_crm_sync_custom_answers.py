"""Declared custom form answers are written to their Lead custom fields (deploy/custom-answers.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from leadflow_contracts import CustomAnswersConfig
from leadflow_crm_sync.domain.mapping import lead_fields
from leadflow_crm_sync.domain.policy import PolicyError, load_custom_answers_file, load_policy
from leadflow_crm_sync.testing import routed

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[4]
ANSWERS = ROOT / "deploy" / "custom-answers.yaml"
SCHEMA = ROOT / "services" / "salesforce-emulator" / "schema" / "sobjects.json"


def _with_answers(answers: dict[str, object]):
    ev = routed()
    return ev.model_copy(update={"lead": ev.lead.model_copy(update={"custom_answers": answers})})


def test_answers_go_to_their_declared_fields() -> None:
    policy = load_policy().with_custom_answers(load_custom_answers_file(ANSWERS))
    fields = lead_fields(_with_answers({"occupation": "Student", "heard_from": "Online Search"}), policy)
    assert fields["Occupation__c"] == "Student" and fields["Heard_From__c"] == "Online Search"
    assert "Specialization__c" not in fields  # not answered: nothing written, nothing cleared
    lead_schema = {f["name"] for f in json.loads(SCHEMA.read_text())["objects"]["Lead"]["fields"]}
    assert {"Occupation__c", "Heard_From__c"} <= lead_schema


def test_without_configuration_or_field_nothing_extra_is_written() -> None:
    base = lead_fields(routed(), load_policy())
    assert lead_fields(_with_answers({"occupation": "Student"}), load_policy()) == base
    no_field = CustomAnswersConfig.model_validate({"answers": {"occupation": {"label": "Occ", "values": ["Student"]}}})
    policy = load_policy().with_custom_answers(no_field)
    assert lead_fields(_with_answers({"occupation": "Student"}), policy) == base


def test_a_bad_answers_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "a.yaml"
    bad.write_text("answers: {q: {label: Q}}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"a\.yaml.*answers\.q"):
        load_custom_answers_file(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_custom_answers_file(tmp_path / "missing.yaml")
