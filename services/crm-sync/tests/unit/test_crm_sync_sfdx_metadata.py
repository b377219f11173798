"""deploy/salesforce (SFDX source) and the emulator's schema file describe the same custom fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[4]
SCHEMA = ROOT / "services" / "salesforce-emulator" / "schema" / "sobjects.json"
DEFAULT = ROOT / "deploy" / "salesforce" / "force-app" / "main" / "default"
NS = {"m": "http://soap.sforce.com/2006/04/metadata"}
SF_TYPE = {
    "string": "Text",
    "double": "Number",
    "boolean": "Checkbox",
    "picklist": "Picklist",
    "multipicklist": "MultiselectPicklist",
    "datetime": "DateTime",
    "date": "Date",
    "reference": "Lookup",
}
METADATA_OBJECT = {"Task": "Activity"}


def _schema_fields() -> dict[tuple[str, str], dict[str, Any]]:
    doc = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return {
        (obj, f["name"]): f for obj, raw in doc["objects"].items() for f in raw["fields"] if f["name"].endswith("__c")
    }


def _sfdx_fields() -> dict[tuple[str, str], ET.Element]:
    out = {}
    for path in (DEFAULT / "objects").glob("*/fields/*.field-meta.xml"):
        out[(path.parts[-3], path.name.removesuffix(".field-meta.xml"))] = ET.parse(path).getroot()
    return out


def _text(el: ET.Element, name: str) -> str | None:
    found = el.find(f"m:{name}", NS)
    return None if found is None else (found.text or "")


def test_every_custom_field_has_exactly_one_sfdx_file() -> None:
    schema = {(METADATA_OBJECT.get(o, o), n) for o, n in _schema_fields()}
    assert schema == set(_sfdx_fields()), "run: python deploy/salesforce/generate.py"
    assert ("Lead", "Leadflow_Id__c") in schema and ("Activity", "Leadflow_Task_Id__c") in schema


@pytest.mark.parametrize("key", sorted(_schema_fields()), ids=lambda k: f"{k[0]}.{k[1]}")
def test_field_definition_agrees_with_the_schema(key: tuple[str, str]) -> None:
    f = _schema_fields()[key]
    el = _sfdx_fields()[(METADATA_OBJECT.get(key[0], key[0]), key[1])]
    assert _text(el, "fullName") == f["name"]
    assert _text(el, "label") == f.get("label", f["name"][:-3].replace("_", " "))
    expected_type = SF_TYPE.get(f["type"]) or ("LongTextArea" if f["length"] > 255 else "TextArea")
    assert _text(el, "type") == expected_type
    if f["type"] in ("string", "textarea"):
        assert int(_text(el, "length") or 0) == f["length"]
    if f["type"] == "double":
        assert (int(_text(el, "precision") or 0), int(_text(el, "scale") or 0)) == (f["precision"], f["scale"])
    if f["type"] == "string":
        assert _text(el, "externalId") == ("true" if f.get("externalId") else "false")
        assert _text(el, "unique") == ("true" if f.get("unique") else "false")
    if f["type"] in ("picklist", "multipicklist"):
        values = [v.text for v in el.findall("m:valueSet/m:valueSetDefinition/m:value/m:fullName", NS)]
        assert values == f["values"]
        assert _text(el.find("m:valueSet", NS), "restricted") == ("true" if f.get("restricted") else "false")  # type: ignore[arg-type]
    if f["type"] == "reference":
        assert [r.text for r in el.findall("m:referenceTo", NS)] == f["referenceTo"]
        # The parent relationship SOQL uses (X__r) follows from the field's API name.
        assert f["name"][:-3] + "__r" == f["relationshipName"]


def test_the_integration_permission_set_grants_every_field() -> None:
    root = ET.parse(DEFAULT / "permissionsets" / "Leadflow_Integration.permissionset-meta.xml").getroot()
    granted = {p.findtext("m:field", namespaces=NS): p for p in root.findall("m:fieldPermissions", NS)}
    expected = {f"{o}.{n}" for o, n in _schema_fields()}
    assert set(granted) == expected
    assert all(p.findtext("m:editable", namespaces=NS) == "true" for p in granted.values())


def test_sfdx_project_points_at_force_app() -> None:
    project = json.loads((ROOT / "deploy" / "salesforce" / "sfdx-project.json").read_text())
    assert project["packageDirectories"][0]["path"] == "force-app"
    assert (ROOT / "deploy" / "salesforce" / project["packageDirectories"][0]["path"]).is_dir()
