"""Regenerate the SFDX source for leadflow's custom fields from the emulator's schema file.

    python deploy/salesforce/generate.py [--schema services/salesforce-emulator/schema/sobjects.json]

Writes ``force-app/main/default/objects/<Object>/fields/<Field>.field-meta.xml`` for every custom field
(Task fields go under ``Activity``, where Salesforce keeps Task and Event custom fields) and the
``Leadflow_Integration`` permission set that gives the integration user access to them. The unit test
``services/crm-sync/tests/unit/test_crm_sync_sfdx_metadata.py`` checks the two stay in agreement.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_SCHEMA = ROOT / "services" / "salesforce-emulator" / "schema" / "sobjects.json"
OBJECTS_DIR = HERE / "force-app" / "main" / "default" / "objects"
PERMSET = HERE / "force-app" / "main" / "default" / "permissionsets" / "Leadflow_Integration.permissionset-meta.xml"
NS = "http://soap.sforce.com/2006/04/metadata"
METADATA_OBJECT = {"Task": "Activity", "Event": "Activity"}
CHILD_LABELS = {("Lead", "Matched_Account__c"): ("Matched Leads", "Matched_Leads")}


def _el(name: str, value: Any, indent: int = 4) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"{' ' * indent}<{name}>{escape(str(value))}</{name}>\n"


def _value_set(values: list[str], restricted: bool) -> str:
    out = "    <valueSet>\n"
    out += _el("restricted", restricted, 8)
    out += "        <valueSetDefinition>\n" + _el("sorted", False, 12)
    for v in values:
        out += "            <value>\n" + _el("fullName", v, 16) + _el("default", False, 16) + _el("label", v, 16)
        out += "            </value>\n"
    return out + "        </valueSetDefinition>\n    </valueSet>\n"


def field_xml(sobject: str, f: dict[str, Any]) -> str:
    t = f["type"]
    label = f.get("label") or f["name"][:-3].replace("_", " ")
    body = _el("fullName", f["name"])
    if t == "boolean":
        body += _el("defaultValue", bool(f.get("default", False)))
    if t == "reference":
        body += _el("deleteConstraint", "SetNull")
    if t in ("string",) and f.get("unique"):
        body += _el("caseSensitive", False)
    if t not in ("boolean", "reference", "picklist", "multipicklist", "textarea"):
        body += _el("externalId", bool(f.get("externalId")))
    body += _el("label", label)
    if t == "string":
        body += _el("length", f["length"])
    if t == "textarea":
        body += _el("length", f["length"])
    if t == "double":
        body += _el("precision", f.get("precision", 18))
    if t == "reference":
        target = f["referenceTo"][0]
        default = (f"{sobject}s", f"{sobject}s_{f['name'][:-3]}")
        child_label, child_name = CHILD_LABELS.get((sobject, f["name"]), default)
        body += _el("referenceTo", target) + _el("relationshipLabel", child_label)
        body += _el("relationshipName", child_name)
    if t not in ("boolean", "picklist", "multipicklist"):
        body += _el("required", bool(f.get("required")))
    if t == "double":
        body += _el("scale", f.get("scale", 0))
    if t not in ("textarea", "multipicklist", "reference"):
        body += _el("trackTrending", False)
    sf_type = {
        "string": "Text",
        "double": "Number",
        "boolean": "Checkbox",
        "picklist": "Picklist",
        "multipicklist": "MultiselectPicklist",
        "datetime": "DateTime",
        "date": "Date",
        "reference": "Lookup",
        "email": "Email",
        "phone": "Phone",
        "url": "Url",
    }.get(t)
    if t == "textarea":
        sf_type = "LongTextArea" if f["length"] > 255 else "TextArea"
    if sf_type is None:
        raise ValueError(f"{sobject}.{f['name']}: no SFDX type for {t!r}")
    body += _el("type", sf_type)
    if t in ("string",):
        body += _el("unique", bool(f.get("unique")))
    if t in ("picklist", "multipicklist"):
        body += _value_set(list(f["values"]), bool(f.get("restricted")))
    if t == "multipicklist" or sf_type == "LongTextArea":
        body += _el("visibleLines", 4 if t == "multipicklist" else 5)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<CustomField xmlns="{NS}">\n{body}</CustomField>\n'


def custom_fields(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(obj, f) for obj, raw in schema["objects"].items() for f in raw["fields"] if f["name"].endswith("__c")]


def permset_xml(fields: list[tuple[str, dict[str, Any]]]) -> str:
    body = _el(
        "description",
        "API, object and field access for the leadflow integration user (crm-sync, crm-changes, enrich, route).",
    )
    # Task fields are granted as Task.X (the platform adds the Event mirror), not Activity.X.
    perms = sorted(((f"{o}.{f['name']}", f) for o, f in fields), key=lambda p: p[0])
    for full, f in perms:
        editable = not f.get("readonly")
        body += "    <fieldPermissions>\n" + _el("editable", editable, 8) + _el("field", full, 8)
        body += _el("readable", True, 8) + "    </fieldPermissions>\n"
    body += _el("hasActivationRequired", False) + _el("label", "Leadflow Integration")
    for obj, (create, edit, delete, view_all, modify_all) in sorted(OBJECT_ACCESS.items()):
        body += "    <objectPermissions>\n" + _el("allowCreate", create, 8) + _el("allowDelete", delete, 8)
        body += _el("allowEdit", edit, 8) + _el("allowRead", True, 8) + _el("modifyAllRecords", modify_all, 8)
        body += _el("object", obj, 8) + _el("viewAllRecords", view_all, 8) + "    </objectPermissions>\n"
    for name in USER_PERMISSIONS:
        body += "    <userPermissions>\n" + _el("enabled", True, 8) + _el("name", name, 8) + "    </userPermissions>\n"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<PermissionSet xmlns="{NS}">\n{body}</PermissionSet>\n'


# object → (create, edit, delete, view all, modify all): crm-sync upserts and reassigns Leads owned by
# reps and writes Tasks on them (modify all), converts Leads (Account/Contact/Opportunity); crm-changes
# and enrich read Leads, Accounts, Contacts and Tasks everywhere (view all). Nothing is deleted.
OBJECT_ACCESS = {
    "Lead": (True, True, False, True, True),
    "Task": (True, True, False, True, True),
    "Account": (True, True, False, True, False),
    "Contact": (True, True, False, True, False),
    "Opportunity": (True, True, False, True, False),
}
USER_PERMISSIONS = ("ApiEnabled", "ConvertLeads")


DEFAULT_CUSTOM_ANSWERS = ROOT / "deploy" / "custom-answers.yaml"


def merge_custom_answer_fields(schema: dict[str, Any], config_path: Path) -> list[str]:
    """Add (or update) the Lead fields of the declared custom form answers in the emulator schema."""
    import yaml
    from leadflow_contracts.custom_answers import CustomAnswersConfig, salesforce_field_definitions

    config = CustomAnswersConfig.model_validate(yaml.safe_load(config_path.read_text(encoding="utf-8")))
    fields = schema["objects"]["Lead"]["fields"]
    index = {f["name"]: i for i, f in enumerate(fields)}
    changed = []
    for f in salesforce_field_definitions(config):
        i = index.get(str(f["name"]))
        if i is None:
            fields.append(f)
        elif fields[i] != f:
            fields[i] = f
        else:
            continue
        changed.append(str(f["name"]))
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA)
    p.add_argument(
        "--custom-answers",
        type=Path,
        default=DEFAULT_CUSTOM_ANSWERS,
        help="declared custom form answers: their Lead fields are merged into the emulator schema first",
    )
    args = p.parse_args(argv)
    schema = json.loads(args.schema.read_text(encoding="utf-8"))
    if args.custom_answers and args.custom_answers.exists():
        changed = merge_custom_answer_fields(schema, args.custom_answers)
        if changed:
            args.schema.write_text(json.dumps(schema, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"emulator schema: custom answer fields {changed} from {args.custom_answers}")
    fields = custom_fields(schema)
    for obj, f in fields:
        target = OBJECTS_DIR / METADATA_OBJECT.get(obj, obj) / "fields" / f"{f['name']}.field-meta.xml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(field_xml(obj, f), encoding="utf-8")
    PERMSET.parent.mkdir(parents=True, exist_ok=True)
    PERMSET.write_text(permset_xml(fields), encoding="utf-8")
    print(f"wrote {len(fields)} custom fields and the permission set under {HERE / 'force-app'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
