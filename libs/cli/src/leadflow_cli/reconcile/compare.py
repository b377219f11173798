"""leadflow's belief against Salesforce: every difference, by lead (pure).

``SalesforceView`` is what the SOQL queries returned (leadflow's Leads by external id, the records leads
were merged into, completed call/e-mail Tasks by the record they are on). ``compare`` lists:

| kind | meaning |
|---|---|
| ``missing_in_salesforce`` | a routed lead leadflow counts as written (or not dead-lettered) has no Lead |
| ``not_in_salesforce_but_present`` | leadflow dead-lettered it as "not in Salesforce", yet its Lead exists |
| ``duplicate_has_own_lead`` | a lead merged into another record got a Lead of its own (the person twice) |
| ``merged_target_missing`` | the Lead/Contact a lead was merged into does not exist |
| ``salesforce_id_differs`` | crm.synced names another record than the Lead holding the lead's external id |
| ``owner_differs`` | the owner leadflow routed to (or followed from Salesforce) is not the Lead's owner |
| ``clock_open_but_touched`` | first-touch clock open, but the record shows a touch (for a lead merged into a |
|  | record: a touch Task after its inquiry, as sla-monitor counts it) |
| ``clock_open_but_closed`` | qualify clock open, but the record is qualified, closed or converted |
| ``open_on_board_but_closed`` / ``closed_on_board_but_open`` | the board's open count disagrees for this lead |
| ``unknown_to_leadflow`` | a Lead carries a leadflow external id no routed lead has (Leads created before the |
|  | oldest routing on the topics are outside their history and not listed) |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadflow_cli.reconcile.belief import Belief, LeadBelief

UNTOUCHED_STATUSES = frozenset({"open - not contacted"})
CLOSED_STATUSES = frozenset({"qualified", "unqualified", "closed - converted", "closed - not converted"})
TOUCH_TASK_TYPES = ("call", "email")
FOLLOW_UP_SUBJECTS = ("follow up",)
"""A completed follow-up Task (crm-sync's "Follow up: new inquiry") is a first touch too (sla-monitor's rule)."""


@dataclass(frozen=True)
class Difference:
    lead_id: str
    kind: str
    leadflow: str
    salesforce: str

    def as_dict(self) -> dict[str, str]:
        return {"lead_id": self.lead_id, "kind": self.kind, "leadflow": self.leadflow, "salesforce": self.salesforce}


@dataclass
class SalesforceView:
    leads_by_ext: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Leadflow_Id__c → the Lead (Id, OwnerId, Status, IsConverted)."""
    records_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Leads and Contacts leads were merged into, by Id (Leads with Status, IsConverted)."""
    touched: set[str] = field(default_factory=set)
    """Ids of records (Lead/Contact) with a completed call or e-mail (or follow-up) Task."""
    touched_at: dict[str, list[datetime]] = field(default_factory=dict)
    """Record id → when each of those Tasks was last modified (completed), where Salesforce said."""


def is_touch_task(task: dict[str, Any]) -> bool:
    status = str(task.get("Status") or "").strip().lower()
    if status != "completed" and str(task.get("IsClosed")).lower() != "true":
        return False
    subtype = str(task.get("TaskSubtype") or "").strip().lower()
    subject = str(task.get("Subject") or "").strip().lower()
    return any(subtype == t or subject.startswith(t) for t in TOUCH_TASK_TYPES) or any(
        subject.startswith(f) for f in FOLLOW_UP_SUBJECTS
    )


def touched_since(record_id: str, view: SalesforceView, floor: datetime | None) -> bool:
    """A touch Task on the record at or after ``floor`` (any touch when there is no floor or no time)."""
    if record_id not in view.touched:
        return False
    times = view.touched_at.get(record_id)
    if floor is None or not times:
        return True
    return any(t >= floor for t in times)


def lead_is_open(lead: dict[str, Any]) -> bool:
    if lead.get("IsConverted") in (True, "true"):
        return False
    return str(lead.get("Status") or "").strip().lower() not in CLOSED_STATUSES


def lead_is_touched(lead: dict[str, Any], touched: set[str]) -> bool:
    status = str(lead.get("Status") or "").strip().lower()
    return lead.get("Id") in touched or (bool(status) and status not in UNTOUCHED_STATUSES)


def _record_of(b: LeadBelief, view: SalesforceView, ext: Callable[[str], str]) -> dict[str, Any] | None:
    """The Salesforce record a lead's clocks are met on: its own Lead, or the record it was merged into."""
    dup = b.duplicate_of
    if dup is None:
        return view.leads_by_ext.get(ext(b.lead_id))
    if dup.leadflow_id:
        return view.leads_by_ext.get(ext(dup.leadflow_id))
    return view.records_by_id.get(dup.record_id)


def compare(belief: Belief, view: SalesforceView, ext: Callable[[str], str]) -> list[Difference]:
    """Every difference, ordered by lead id then kind. ``ext`` maps a lead id to its ``Leadflow_Id__c``."""
    out: list[Difference] = []
    known_ext: set[str] = set()
    for b in belief.leads.values():
        if b.routed is None:
            continue
        known_ext.add(ext(b.lead_id))
        own = view.leads_by_ext.get(ext(b.lead_id))
        dup = b.duplicate_of
        if dup is None:
            out.extend(_own_lead(b, own))
        else:
            if own is not None:
                out.append(
                    Difference(
                        b.lead_id,
                        "duplicate_has_own_lead",
                        f"merged into {dup.object} {dup.leadflow_id or dup.record_id}",
                        f"Lead {own.get('Id')}",
                    )
                )
            if _record_of(b, view, ext) is None and not (dup.leadflow_id and _root_not_in_sf(belief, dup.leadflow_id)):
                out.append(
                    Difference(
                        b.lead_id,
                        "merged_target_missing",
                        f"merged into {dup.object} {dup.leadflow_id or dup.record_id}",
                        "no such record",
                    )
                )
        out.extend(_clocks(b, _record_of(b, view, ext), view, dup is not None and dup.object == "Contact"))
    board = belief.open_on_board()
    for b in belief.own_leads():
        own = view.leads_by_ext.get(ext(b.lead_id))
        if own is None:
            continue
        sf_open = lead_is_open(own)
        if b.lead_id in board and not sf_open:
            out.append(Difference(b.lead_id, "open_on_board_but_closed", "open", _status(own)))
        elif b.lead_id not in board and sf_open and b.in_salesforce and not b.converted:
            out.append(Difference(b.lead_id, "closed_on_board_but_open", "qualified/closed", _status(own)))
    earliest = belief.earliest
    for ext_id, lead in view.leads_by_ext.items():
        created = sf_time(lead.get("CreatedDate"))
        if earliest is not None and created is not None and created < earliest - timedelta(minutes=5):
            continue  # older than the history on the topics (e.g. before leadflow, or past retention)
        if ext_id not in known_ext:
            out.append(Difference(ext_id, "unknown_to_leadflow", "never routed", f"Lead {lead.get('Id')}"))
    return sorted(out, key=lambda d: (d.lead_id, d.kind))


def sf_time(value: Any) -> datetime | None:
    """``2026-12-04T17:00:00.000+0000`` → aware datetime (None when absent or unreadable)."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _root_not_in_sf(belief: Belief, root: str) -> bool:
    held = belief.leads.get(root)
    return held is not None and held.not_in_salesforce is not None and not held.in_salesforce


def _status(lead: dict[str, Any]) -> str:
    return f"Lead {lead.get('Id')} {lead.get('Status')}" + (" (converted)" if lead.get("IsConverted") is True else "")


def _own_lead(b: LeadBelief, own: dict[str, Any] | None) -> list[Difference]:
    out: list[Difference] = []
    if own is None:
        if b.not_in_salesforce is None or b.in_salesforce:
            said = f"written as {b.synced.salesforce_id}" if b.synced else "routed, not yet written"
            out.append(Difference(b.lead_id, "missing_in_salesforce", said, "no Lead with its external id"))
        return out
    if b.not_in_salesforce is not None and not b.in_salesforce:
        out.append(
            Difference(
                b.lead_id,
                "not_in_salesforce_but_present",
                f"dead-lettered: {b.not_in_salesforce.reason}",
                f"Lead {own.get('Id')}",
            )
        )
    if b.synced is not None and b.synced.object == "Lead" and b.synced.salesforce_id != own.get("Id"):
        out.append(Difference(b.lead_id, "salesforce_id_differs", b.synced.salesforce_id, str(own.get("Id"))))
    owner = b.owner_id
    if owner and not b.converted and own.get("OwnerId") != owner:
        out.append(Difference(b.lead_id, "owner_differs", owner, str(own.get("OwnerId"))))
    return out


def _clocks(b: LeadBelief, record: dict[str, Any] | None, view: SalesforceView, contact: bool) -> list[Difference]:
    if record is None:
        return []
    out: list[Difference] = []
    rid = str(record.get("Id"))
    if b.duplicate_of is not None:
        # merged: only activity after its inquiry answers it (sla-monitor's rule); a Lead's status has no time
        touched = touched_since(rid, view, b.activity_floor)
    else:
        touched = rid in view.touched if contact else lead_is_touched(record, view.touched)
    for clock in ("first_touch",):  # a callback is met only by a touch inside its window: not checked here
        held = b.clocks.get(clock)
        if held is not None and held.open and touched:
            how = "a completed call/e-mail Task" if rid in view.touched else f"status {record.get('Status')}"
            out.append(
                Difference(
                    b.lead_id,
                    "clock_open_but_touched",
                    f"{clock} {held.kind.value}",
                    f"{'Contact' if contact else 'Lead'} {rid}: {how}",
                )
            )
    qualify = b.clocks.get("qualify")
    if qualify is not None and qualify.open and not contact and not lead_is_open(record):
        out.append(Difference(b.lead_id, "clock_open_but_closed", f"qualify {qualify.kind.value}", _status(record)))
    return out
