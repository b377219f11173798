"""Custom form answers: the bounded map on LeadSubmitted, the declared configuration, and the agreement
between deploy/custom-answers.yaml, the emulator's Lead schema and the SFDX metadata."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from leadflow_contracts import CustomAnswersConfig, LeadSubmitted
from leadflow_contracts.custom_answers import MAX_CUSTOM_ANSWERS, salesforce_field_definitions
from pydantic import ValidationError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[4]
CONFIG = ROOT / "deploy" / "custom-answers.yaml"
SCHEMA = ROOT / "services" / "salesforce-emulator" / "schema" / "sobjects.json"
SFDX = ROOT / "deploy" / "salesforce" / "force-app" / "main" / "default" / "objects" / "Lead" / "fields"
NS = {"m": "http://soap.sforce.com/2006/04/metadata"}


def _config() -> CustomAnswersConfig:
    return CustomAnswersConfig.model_validate(yaml.safe_load(CONFIG.read_text(encoding="utf-8")))


def _submitted(answers: object) -> LeadSubmitted:
    return LeadSubmitted.model_validate(
        {
            "event_id": "e1",
            "occurred_at": "2026-11-26T09:00:00Z",
            "source": {"system": "web"},
            "custom_answers": answers,
        }
    )


def test_the_map_is_bounded_in_keys_and_value_length() -> None:
    assert _submitted({"occupation": "Student", "age": 31, "newsletter": True}).custom_answers == {
        "occupation": "Student",
        "age": 31.0,
        "newsletter": True,
    }
    with pytest.raises(ValidationError, match="custom_answers"):
        _submitted({f"q{i}": "x" for i in range(MAX_CUSTOM_ANSWERS + 1)})
    with pytest.raises(ValidationError, match="custom_answers"):
        _submitted({"occupation": "x" * 256})
    with pytest.raises(ValidationError, match="custom_answers"):
        _submitted({"Bad Key!": "x"})
    with pytest.raises(ValidationError, match="custom_answers"):
        _submitted({"nested": {"a": 1}})


def test_declared_choices_are_canonicalised_and_the_rest_named() -> None:
    config = _config()
    ok, problems = config.validate_answers(
        {"occupation": "  working professional ", "heard_from": "Television", "shoe_size": "44", "specialization": ""}
    )
    assert ok == {"occupation": "Working Professional"}
    assert {p.key: p.problem for p in problems} == {
        "heard_from": "'Television' is not one of " + str(list(config.answers["heard_from"].values)),
        "shoe_size": "not a declared custom answer",
    }
    assert [p.field for p in problems] == ["custom_answers.heard_from", "custom_answers.shoe_size"]


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.text(max_size=30), max_size=8))
def test_every_answer_is_either_accepted_canonically_or_named_as_a_problem(answers: dict[str, str]) -> None:
    config = _config()
    ok, problems = config.validate_answers(answers)
    named = {p.key for p in problems}
    for key, value in answers.items():
        if key in ok:
            assert key not in named
            assert ok[key] in config.answers[key].values  # canonical spelling only
        else:
            assert key in named or not value.strip()


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ({"type": "number", "label": "Budget", "minimum": 0}, "1200.5", 1200.5),
        ({"type": "number", "label": "Budget", "minimum": 0}, -1, ValueError),
        ({"type": "number", "label": "Budget"}, "lots", ValueError),
        ({"type": "boolean", "label": "Has degree"}, "yes", True),
        ({"type": "boolean", "label": "Has degree"}, "perhaps", ValueError),
        ({"type": "text", "label": "Goal", "max_length": 5}, "grow", "grow"),
        ({"type": "text", "label": "Goal", "max_length": 5}, "grow fast", ValueError),
    ],
)
def test_typed_answers(spec: dict[str, object], value: object, expected: object) -> None:
    config = CustomAnswersConfig.model_validate({"answers": {"q": spec}})
    ok, problems = config.validate_answers({"q": value})  # type: ignore[dict-item]
    if expected is ValueError:
        assert not ok and problems[0].key == "q"
    else:
        assert ok == {"q": expected} and not problems


def test_a_bad_declaration_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="choice needs its allowed values"):
        CustomAnswersConfig.model_validate({"answers": {"q": {"label": "Q"}}})
    with pytest.raises(ValidationError, match="not a custom field API name"):
        CustomAnswersConfig.model_validate({"answers": {"q": {"label": "Q", "values": ["a"], "salesforce_field": "Q"}}})
    with pytest.raises(ValidationError, match="used by more than one answer"):
        CustomAnswersConfig.model_validate(
            {
                "answers": {
                    "a": {"label": "A", "values": ["x"], "salesforce_field": "Same__c"},
                    "b": {"label": "B", "values": ["y"], "salesforce_field": "Same__c"},
                }
            }
        )


def test_every_declared_field_is_in_the_emulator_schema_and_the_sfdx_metadata() -> None:
    """`make salesforce-metadata` merges them; this fails when the three disagree."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    lead = {f["name"]: f for f in schema["objects"]["Lead"]["fields"]}
    defs = salesforce_field_definitions(_config())
    assert defs, "the shipped configuration declares Salesforce fields"
    for d in defs:
        name = str(d["name"])
        assert lead.get(name) == d, f"emulator schema Lead.{name} differs from deploy/custom-answers.yaml"
        xml = ET.parse(SFDX / f"{name}.field-meta.xml").getroot()
        assert xml.findtext("m:label", namespaces=NS) == d["label"]
        if d["type"] == "picklist":
            assert xml.findtext("m:type", namespaces=NS) == "Picklist"
            values = [v.findtext("m:fullName", namespaces=NS) for v in xml.iterfind(".//m:value", NS)]
            assert values == d["values"]
