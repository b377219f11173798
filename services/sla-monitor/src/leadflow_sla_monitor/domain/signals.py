"""What a Salesforce change means for a lead's clocks: a first touch, a qualification, or nothing.

- First touch: a completed call/email Task on the lead (``TaskSubtype`` Call/Email, or a Subject
  starting with "Call"/"Email"), a completed follow-up Task (the "Follow up: new inquiry" Task crm-sync
  files for a merged lead: Subject starting with one of ``follow_up_subjects``), or a Lead status change
  away from "Open - Not Contacted".
- Qualification: Lead status Qualified/Unqualified (or the org's closed statuses) or ``IsConverted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadflow_contracts.crm import ChangeType, CrmChange

from leadflow_sla_monitor.domain.timers import ClockName


@dataclass(frozen=True, slots=True)
class SignalRules:
    untouched_statuses: frozenset[str] = frozenset({"open - not contacted"})
    qualified_statuses: frozenset[str] = frozenset(
        {"qualified", "unqualified", "closed - converted", "closed - not converted"}
    )
    touch_task_types: tuple[str, ...] = ("call", "email")
    follow_up_subjects: tuple[str, ...] = ("follow up",)

    @classmethod
    def build(
        cls,
        untouched: Iterable[str],
        qualified: Iterable[str],
        task_types: Iterable[str],
        follow_up_subjects: Iterable[str] = ("Follow up",),
    ) -> SignalRules:
        return cls(
            frozenset(s.strip().lower() for s in untouched),
            frozenset(s.strip().lower() for s in qualified),
            tuple(t.strip().lower() for t in task_types),
            tuple(f.strip().lower() for f in follow_up_subjects if f.strip()),
        )


@dataclass(frozen=True, slots=True)
class Signal:
    """``clocks`` are stopped at ``at`` by ``by``; ``how`` says what happened (e.g. ``task:Call``)."""

    clocks: tuple[ClockName, ...]
    at: datetime
    by: str | None
    how: str


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _new_value(change: CrmChange, field: str) -> Any:
    for fc in change.changed_fields:
        if fc.field == field:
            return fc.new
    return change.record.get(field)


def _changed(change: CrmChange, field: str) -> bool:
    return change.change_type is ChangeType.CREATED or any(fc.field == field for fc in change.changed_fields)


def task_signal(change: CrmChange, rules: SignalRules) -> Signal | None:
    record = change.record
    status = str(record.get("Status") or "").strip().lower()
    if status != "completed" and not _truthy(record.get("IsClosed")):
        return None
    subtype = str(record.get("TaskSubtype") or "").strip().lower()
    subject = str(record.get("Subject") or "").strip().lower()
    kind = next(
        (t for t in rules.touch_task_types if subtype == t or subject.startswith(t)),
        None,
    )
    at = change.changed_at
    by_value = record.get("OwnerId") or change.changed_by
    by = str(by_value) if by_value else None
    if kind is not None:
        return Signal(("first_touch", "callback"), at, by, f"task:{kind.capitalize()}")
    if any(subject.startswith(f) for f in rules.follow_up_subjects):
        # the rep dealt with the new inquiry; a requested callback still needs its call
        return Signal(("first_touch",), at, by, "task:Follow-up")
    return None


def lead_signal(change: CrmChange, rules: SignalRules) -> Signal | None:
    by_value = change.changed_by or change.record.get("LastModifiedById") or change.record.get("OwnerId")
    by = str(by_value) if by_value else None
    if _changed(change, "IsConverted") and _truthy(_new_value(change, "IsConverted")):
        return Signal(("first_touch", "callback", "qualify"), change.changed_at, by, "converted")
    if not _changed(change, "Status"):
        return None
    status = str(_new_value(change, "Status") or "").strip()
    if not status or status.lower() in rules.untouched_statuses:
        return None
    if status.lower() in rules.qualified_statuses:
        return Signal(("first_touch", "callback", "qualify"), change.changed_at, by, f"status:{status}")
    return Signal(("first_touch", "callback"), change.changed_at, by, f"status:{status}")


def classify(change: CrmChange, rules: SignalRules) -> Signal | None:
    """The signal ``change`` carries for SLA clocks, or None."""
    if change.change_type is ChangeType.DELETED:
        return None
    if change.object == "Task":
        return task_signal(change, rules)
    if change.object == "Lead":
        return lead_signal(change, rules)
    return None


def owner_change(change: CrmChange) -> str | None:
    """The new owner if a Lead's ``OwnerId`` changed (a manual reassignment in Salesforce)."""
    if change.object != "Lead" or change.change_type is not ChangeType.UPDATED:
        return None
    for fc in change.changed_fields:
        if fc.field == "OwnerId" and isinstance(fc.new, str) and fc.new and fc.new != fc.old:
            return fc.new
    return None


def salesforce_ids(change: CrmChange) -> tuple[str, ...]:
    """Salesforce lead ids this change may concern (to find the lead when ``lead_id`` is not ours)."""
    ids: list[str] = []
    if change.object == "Lead":
        ids.append(change.record_id)
    who = change.record.get("WhoId")
    if isinstance(who, str) and who:
        ids.append(who)
    return tuple(dict.fromkeys(ids))
