"""What leadflow needs from an org, read from the repository's own sources of truth:
deploy/salesforce (SFDX custom fields), crm-sync's policy (Lead Status values) and route's routing.yaml
(teams and their queues)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from defusedxml import ElementTree as SafeET

from leadflow_cli.doctor.checks import FieldSpec, Needs

_NS = "{http://soap.sforce.com/2006/04/metadata}"
SFDX_TYPES = {
    "Text": "string",
    "Number": "double",
    "Checkbox": "boolean",
    "Picklist": "picklist",
    "MultiselectPicklist": "multipicklist",
    "DateTime": "datetime",
    "Date": "date",
    "Lookup": "reference",
    "Email": "email",
    "Phone": "phone",
    "Url": "url",
    "LongTextArea": "textarea",
    "TextArea": "textarea",
}
METADATA_OBJECT = {"Activity": "Task"}
WRITTEN_OBJECTS = ("Lead", "Task")  # crm-sync writes these; Account, Contact and User fields are read
STANDARD_WRITES = {
    "Lead": ("LastName", "Company", "Email", "Phone", "Status", "OwnerId", "LeadSource"),
    "Task": ("WhoId", "Subject", "ActivityDate", "OwnerId", "Status", "Priority"),
}


def find_repo_file(relative: str) -> Path:
    """`relative` from the working directory, else from the checkout this package lives in."""
    here = Path(relative)
    if here.exists():
        return here
    for parent in Path(__file__).resolve().parents:
        candidate = parent / relative
        if candidate.exists():
            return candidate
    return here


def field_specs(force_app: Path) -> list[FieldSpec]:
    objects = force_app / "main" / "default" / "objects"
    if not objects.is_dir():
        raise FileNotFoundError(f"no SFDX objects under {force_app} (expected main/default/objects)")
    specs = []
    for path in sorted(objects.glob("*/fields/*.field-meta.xml")):
        root = SafeET.parse(path).getroot()

        def text(tag: str, el: Any = root) -> str:
            found = el.find(f"{_NS}{tag}")
            return (found.text or "").strip() if found is not None else ""

        sobject = METADATA_OBJECT.get(path.parent.parent.name, path.parent.parent.name)
        sfdx_type = text("type")
        restricted = (
            text("restricted", root.find(f"{_NS}valueSet")) == "true"
            if root.find(f"{_NS}valueSet") is not None
            else False
        )
        values = tuple(
            (v.findtext(f"{_NS}fullName") or "").strip()
            for v in root.iterfind(f"{_NS}valueSet/{_NS}valueSetDefinition/{_NS}value")
        )
        specs.append(
            FieldSpec(
                sobject=sobject,
                name=text("fullName"),
                type=SFDX_TYPES.get(sfdx_type, sfdx_type.lower()),
                picklist_values=values if restricted else (),
                restricted=restricted,
                written=sobject in WRITTEN_OBJECTS,
            )
        )
    return specs


def routing_queues(routing_file: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    data = yaml.safe_load(routing_file.read_text(encoding="utf-8")) or {}
    teams = {str(name): str(team["queue"]) for name, team in (data.get("teams") or {}).items() if team.get("queue")}
    others = [data.get("finance_queue"), (data.get("key_accounts") or {}).get("queue")]
    return teams, tuple(str(q) for q in others if q)


def load_needs(
    *,
    api_version: str,
    force_app: Path | None = None,
    routing_file: Path | None = None,
    policy_file: Path | None = None,
    settings_prefix: str = "CRMSYNC_SALESFORCE__",
) -> Needs:
    from leadflow_crm_sync.domain.policy import load_policy

    policy = load_policy(policy_file)
    teams, others = routing_queues(routing_file or find_repo_file("services/route/config/routing.yaml"))
    return Needs(
        api_version=api_version,
        fields=field_specs(force_app or find_repo_file("deploy/salesforce/force-app")),
        standard_writes={k: v for k, v in STANDARD_WRITES.items()},
        new_status=policy.lead.new_status,
        converted_status=policy.conversion.converted_status,
        qualified_statuses=tuple(policy.conversion.qualified_statuses),
        team_queues=teams,
        other_queues=others,
        settings_prefix=settings_prefix,
    )
