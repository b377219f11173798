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
SELLING_ROLES: tuple[str, ...] = ("Seller", "Key Account Manager", "Team Leader")
"""Salesforce roles (``Role_Name__c``) of the users who sell: route's round-robin members (sellers, a team leader
who sells), its key account managers. The integration user, the head of sales and finance are users, not reps:
Staffing's available reps and Team load's reps are these (a user without a role is taken to sell)."""


def sells(role: str | None, queue: bool = False) -> bool:
    """Is this owner a rep (one of the selling roles), as Staffing and Team load count reps?"""
    return not queue and (role is None or role in SELLING_ROLES)


def queue_team(name: str | None, queue_id: str) -> str:
    """What a queue routed to without a team is filed under: the queue itself, as Salesforce names it."""
    return f"{name or queue_id} (queue)"


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
