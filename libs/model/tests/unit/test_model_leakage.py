from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from leadflow_model.emulator import LEAD_HISTORY_FIELDS
from leadflow_model.leakage import LeakageError, column_leak_reason
from leadflow_model.mapping import MappingError, load_mapping, parse_mapping

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[4]
MAPPING = REPO / "deploy" / "model" / "x-education-mapping.yaml"


def parse_mapping_here(data: dict[str, object]) -> object:
    return parse_mapping(data, base_dir=MAPPING.parent)


def _mapping_with(extra_columns: dict[str, object]) -> dict[str, object]:
    data = yaml.safe_load(MAPPING.read_text())
    data["columns"].update(extra_columns)
    return data


@pytest.mark.parametrize(
    "column",
    [
        "Tags",
        "Lead Quality",
        "Lead Profile",
        "Last Activity",
        "Last Notable Activity",
        "Asymmetrique Activity Index",
        "Asymmetrique Profile Score",
        "Lead Status",
    ],
)
def test_a_post_contact_column_in_the_mapping_is_refused_naming_it(column: str) -> None:
    with pytest.raises(LeakageError) as err:
        parse_mapping_here(_mapping_with({column: {"field": "City"}}))
    assert err.value.column == column
    assert repr(column) in str(err.value)
    assert "after contact" in str(err.value)


@pytest.mark.parametrize("field", ["Status", "Rating", "LastActivityDate", "IsConverted", "Score__c"])
def test_a_post_contact_lead_field_as_target_is_refused(field: str) -> None:
    with pytest.raises(LeakageError) as err:
        parse_mapping_here(_mapping_with({"City": {"field": field}}))
    assert err.value.column == field


def test_a_field_the_live_lead_cannot_fill_is_refused_as_train_serve_skew() -> None:
    with pytest.raises(MappingError, match=r"How did you hear.*cannot be derived from a live lead"):
        parse_mapping_here(_mapping_with({"How did you hear about X Education": {"field": "Heard_About__c"}}))


def test_an_undeclared_or_post_contact_custom_answer_is_refused() -> None:
    with pytest.raises(MappingError, match=r"custom answer 'budget'.*not declared"):
        parse_mapping_here(_mapping_with({"City": {"field": "Budget__c", "live": "answer:budget"}}))
    data = _mapping_with({})
    data["custom_answers"] = {
        "answers": {
            "call_outcome": {"label": "Call outcome", "values": ["Interested", "Not interested"], "intake_time": False}
        }
    }
    data["columns"]["City"] = {"field": "Call_Outcome__c", "live": "answer:call_outcome"}
    for col in (
        "Specialization",
        "What is your current occupation",
        "How did you hear about X Education",
        "What matters most to you in choosing a course",
    ):
        data["columns"].pop(col)
    with pytest.raises(LeakageError, match="not known at intake") as err:
        parse_mapping_here(data)
    assert err.value.column == "answer:call_outcome"


def test_an_unknown_live_source_is_refused() -> None:
    with pytest.raises(MappingError, match=r"unknown live source 'referrer'"):
        parse_mapping_here(_mapping_with({"City": {"field": "City", "live": "referrer"}}))


def test_the_outcome_cannot_be_a_feature() -> None:
    with pytest.raises(LeakageError, match="Converted"):
        parse_mapping_here(_mapping_with({"Converted": {"field": "City"}}))


def test_errors_name_the_bad_field() -> None:
    data = yaml.safe_load(MAPPING.read_text())
    data["columns"]["TotalVisits"]["type"] = "integer"
    with pytest.raises(MappingError, match=r"columns\.TotalVisits\.type"):
        parse_mapping_here(data)


def test_the_shipped_mapping_is_valid_and_uses_only_intake_time_columns() -> None:
    m = load_mapping(MAPPING)
    assert all(column_leak_reason(c) is None for c in m.columns)
    # every leakage column of the export is documented as ignored, with the word LEAKAGE
    for col in [
        "Tags",
        "Lead Quality",
        "Lead Profile",
        "Last Activity",
        "Last Notable Activity",
        "Asymmetrique Activity Index",
        "Asymmetrique Profile Index",
        "Asymmetrique Activity Score",
        "Asymmetrique Profile Score",
    ]:
        assert column_leak_reason(col) is not None
        assert "LEAKAGE" in m.ignored[col]


def test_deploy_files_match_the_package_copies() -> None:
    deployed = json.loads((REPO / "deploy" / "model" / "lead-history-fields.json").read_text())
    assert deployed["fields"] == LEAD_HISTORY_FIELDS
    pkg = REPO / "libs" / "model" / "src" / "leadflow_model" / "model_card_template.md"
    assert (REPO / "deploy" / "model" / "model_card_template.md").read_text() == pkg.read_text()
