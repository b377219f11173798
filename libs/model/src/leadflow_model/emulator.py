"""Load an export's history into the Salesforce emulator, and check an org has the Lead fields a mapping needs.

A real org already holds its history; the emulator gets it through its control plane (``/__emulator__/seed``),
which keeps CreatedDate, IsConverted and Status as given: the API cannot set those (CreatedDate needs the
"Set Audit Fields" permission; IsConverted only comes from convertLead). Training then reads the history
back through the same Bulk 2.0 path as for a real org.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from leadflow_model.history import History
from leadflow_model.mapping import Mapping

# The custom Lead fields of deploy/model/lead-history-fields.json (a test keeps the two equal).
LEAD_HISTORY_FIELDS: list[dict[str, Any]] = [
    {"name": "Lead_Origin__c", "type": "string", "length": 80, "label": "Lead Origin"},
    {"name": "Web_Visits__c", "type": "double", "precision": 10, "scale": 2, "label": "Web Visits"},
    {"name": "Web_Time_On_Site__c", "type": "double", "precision": 12, "scale": 2, "label": "Time on Website (s)"},
    {
        "name": "Web_Page_Views_Per_Visit__c",
        "type": "double",
        "precision": 8,
        "scale": 2,
        "label": "Page Views per Visit",
    },
    {"name": "Content_Downloads__c", "type": "double", "precision": 8, "scale": 0, "label": "Content Downloads"},
]


class OrgFieldsMissing(RuntimeError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"the org's Lead object lacks field(s) {missing} that the mapping uses; create them (definitions in "
            "deploy/model/lead-history-fields.json; for the emulator start it with "
            "SFEMU_SCHEMA_PATH=<file written by `leadflow scoring emulator-schema`>)"
        )
        self.missing = missing


def extended_schema(out: Path) -> Path:
    """Write the emulator's bundled schema plus the history fields to ``out`` (for SFEMU_SCHEMA_PATH)."""
    from leadflow_sf_emulator.resources import schema_file

    data = json.loads(schema_file().read_text(encoding="utf-8"))
    fields = data["objects"]["Lead"]["fields"]
    have = {f["name"] for f in fields}
    fields.extend(f for f in LEAD_HISTORY_FIELDS if f["name"] not in have)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return out


def check_org_fields(sf: Any, mapping: Mapping) -> None:
    """Raise OrgFieldsMissing naming each mapped Lead field the org does not have."""
    names = {f["name"].lower() for f in sf.Lead.describe()["fields"]}
    missing = [f for f in mapping.fields if f.lower() not in names]
    if missing:
        raise OrgFieldsMissing(missing)


def history_lead_records(history: History, mapping: Mapping) -> list[dict[str, Any]]:
    """History → emulator seed records (Lead with audit fields, outcome and status set)."""
    out = []
    for rec, label, created in zip(history.records, history.labels, history.created, strict=True):
        row = {k: v for k, v in rec.items() if k not in ("Id", "CreatedDate") and v is not None}
        ext = str(rec["Id"])
        row.update(
            {
                "LastName": f"History {ext[:8]}",
                "Company": f"{mapping.name} history",
                "Leadflow_Id__c": f"hist-{ext}"[:64],
                "CreatedDate": created.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "LastModifiedDate": (created + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "SystemModstamp": (created + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "IsConverted": bool(label),
                "Status": mapping.history.converted_status if label else mapping.history.lost_status,
            }
        )
        if label:
            row["ConvertedDate"] = (created + timedelta(days=7)).date().isoformat()
        out.append(row)
    return out


def seed_history(
    control: requests.Session,
    base_url: str,
    history: History,
    mapping: Mapping,
    *,
    chunk: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """POST the history to ``{base_url}/__emulator__/seed`` in chunks; returns records loaded."""
    rows = history_lead_records(history, mapping)
    done = 0
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        r = control.post(f"{base_url.rstrip('/')}/__emulator__/seed", json={"records": {"Lead": part}}, timeout=120)
        if r.status_code >= 400:
            raise RuntimeError(f"emulator seed failed ({r.status_code}): {r.text[:500]}")
        done += len(part)
        if progress:
            progress(done, len(rows))
    return done
