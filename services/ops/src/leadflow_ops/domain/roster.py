"""Reps as ops shows them, from Salesforce ``User`` records (and route's roster once it publishes one).

Pure. A rep's team is the one Salesforce gives: ``Team__c``, else the user's role (the head of sales
has no team, and is shown under "Head of Sales", never "(none)"), else the department.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

NO_TEAM = "No team in Salesforce"
CAP_FIELDS = ("Max_Open_Leads__c", "Open_Lead_Cap__c")
"""User fields that, when present, carry the rep's open-lead cap."""


def team_of(record: Mapping[str, Any]) -> str:
    for field in ("Team__c", "Role_Name__c", "Department"):
        value = record.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return NO_TEAM


def rep_row(user_id: str, record: Mapping[str, Any], change_type: str, at: datetime) -> dict[str, Any]:
    """The ``ops_reps`` row for one Salesforce User change."""
    name = record.get("Name") or " ".join(x for x in (record.get("FirstName"), record.get("LastName")) if x)
    cap = next((record[f] for f in CAP_FIELDS if record.get(f) is not None), None)
    return {
        "user_id": user_id,
        "name": name or None,
        "team": team_of(record),
        "role": record.get("Role_Name__c"),
        "weight": record.get("Weight__c"),
        "active": bool(record.get("IsActive", True)) and change_type != "deleted",
        "absent": bool(record.get("Is_Absent__c") or False),
        "updated_at": at,
        "cap": int(cap) if cap is not None else None,
        "queue": False,
    }
