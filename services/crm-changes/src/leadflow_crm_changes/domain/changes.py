"""One record version in, one decision out: emit a CrmChange, skip it as leadflow's own echo, or as already seen.

Echoes are filtered per record *version*: the version's LastModifiedById says who wrote it. A rep's
change made a millisecond after leadflow's write is a newer version by the rep, and is emitted.

A poll reads only a record's newest version, so a rep's change followed by a leadflow write before the
next poll (a few seconds; under the demo clock SLA status writes land every few seconds) arrives as one
version by leadflow. Fields only reps change after leadflow created the record (``REP_OWNED_FIELDS``: a
Lead's ``Status``) that differ from the last version seen are therefore the rep's change, hidden by
leadflow's write: they are emitted (``changed_under_leadflow_write``), or the rep's status change would be
lost and the lead's clocks would never stop (issue 12: ``clock_open_but_closed`` / ``open_on_board_but_closed``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from leadflow_contracts.base import TraceStep
from leadflow_contracts.crm import ChangeType, CrmChange, FieldChange

EVENT_NAMESPACE = uuid.UUID("6f1c2a52-8a0e-4c1e-9a53-0c5c8f0d7e11")

REP_OWNED_FIELDS: dict[str, tuple[str, ...]] = {"Lead": ("Status",)}
"""Per object, the fields leadflow writes only when it creates the record (crm-sync's ``FIRST_WRITE_ONLY``
Status; SLA_Status__c is leadflow's own): a change of them in a version leadflow wrote was a rep's."""


class Outcome(StrEnum):
    EMIT = "emit"
    ECHO = "echo"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Version:
    """One version of a record as the feed read it."""

    object: str
    record_id: str
    fields: dict[str, Any]
    system_modstamp: datetime
    created_at: datetime | None
    last_modified_at: datetime | None
    last_modified_by: str | None
    deleted: bool


@dataclass(frozen=True)
class Snapshot:
    """The last version of a record the feed has seen (its tracked field values)."""

    system_modstamp: datetime
    deleted: bool
    fields: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str
    change_type: ChangeType | None = None
    changed_fields: tuple[FieldChange, ...] = ()
    snapshot: Snapshot | None = None
    """What to remember for the record (None: keep what is stored)."""
    hidden_by_leadflow: bool = False
    """A rep's change that leadflow's later write hid: its author is unknown (``changed_by`` = the record's user
    owner, the likeliest author, else None), never leadflow's integration user."""
    changed_by: str | None = None


def parse_sf_datetime(value: Any) -> datetime | None:
    """``2024-05-01T12:34:56.000+0000`` (REST) → aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def to_version(object_name: str, raw: Mapping[str, Any]) -> Version:
    """A REST query record (``attributes`` dropped) as a Version. Raises ValueError on a record without Id/stamp."""
    fields = {k: v for k, v in raw.items() if k != "attributes"}
    rid = fields.get("Id")
    stamp = parse_sf_datetime(fields.get("SystemModstamp"))
    if not rid or stamp is None:
        raise ValueError(f"{object_name} record without Id or SystemModstamp")
    return Version(
        object=object_name,
        record_id=str(rid),
        fields=fields,
        system_modstamp=stamp,
        created_at=parse_sf_datetime(fields.get("CreatedDate")),
        last_modified_at=parse_sf_datetime(fields.get("LastModifiedDate")),
        last_modified_by=fields.get("LastModifiedById"),
        deleted=bool(fields.get("IsDeleted")),
    )


def diff(old: Mapping[str, Any], new: Mapping[str, Any], tracked: tuple[str, ...]) -> tuple[FieldChange, ...]:
    """The tracked fields whose value differs, in tracked order."""
    # model_construct: the values are plain JSON values read from the API; validation would only cost time
    return tuple(
        FieldChange.model_construct(field=f, old=old.get(f), new=new.get(f))
        for f in tracked
        if old.get(f) != new.get(f)
    )


def decide(
    version: Version,
    previous: Snapshot | None,
    tracked: tuple[str, ...],
    integration_users: frozenset[str],
    rep_owned: tuple[str, ...] = (),
) -> Decision:
    """What to do with one version, given the last one seen of the same record.

    ``rep_owned``: the object's fields only reps change once the record exists (``REP_OWNED_FIELDS``).
    """
    if previous is not None and previous.system_modstamp >= version.system_modstamp:
        return Decision(Outcome.DUPLICATE, "already_seen")
    values = {f: version.fields.get(f) for f in tracked}
    snapshot = Snapshot(version.system_modstamp, version.deleted, values)
    if version.last_modified_by is not None and version.last_modified_by in integration_users:
        owned = tuple(f for f in rep_owned if f in tracked)
        if version.deleted or (previous is not None and previous.deleted):
            hidden: tuple[FieldChange, ...] = ()
        elif previous is not None:
            hidden = diff(previous.fields, values, owned)
        elif version.created_at is not None and version.created_at != version.last_modified_at:
            # first sight of a record leadflow created and wrote again: a rep may have changed it in between;
            # the old values are unknown (as for ``first_seen_update``), so its rep-owned values are reported
            hidden = diff({}, values, tuple(f for f in owned if values.get(f) is not None))
        else:
            hidden = ()
        if hidden:  # a rep's change that leadflow's later write hid from the poll: the rep's, not an echo
            owner = version.fields.get("OwnerId")
            by = str(owner) if isinstance(owner, str) and owner.startswith("005") else None
            return Decision(
                Outcome.EMIT,
                "changed_under_leadflow_write",
                ChangeType.UPDATED,
                hidden,
                snapshot,
                hidden_by_leadflow=True,
                changed_by=by,
            )
        return Decision(Outcome.ECHO, "written_by_leadflow", snapshot=snapshot)
    if version.deleted:
        return Decision(Outcome.EMIT, "deleted", ChangeType.DELETED, (), snapshot)
    if previous is not None and not previous.deleted:
        return Decision(Outcome.EMIT, "changed", ChangeType.UPDATED, diff(previous.fields, values, tracked), snapshot)
    present = tuple(FieldChange.model_construct(field=f, old=None, new=v) for f, v in values.items() if v is not None)
    if version.created_at is not None and version.created_at == version.last_modified_at:
        return Decision(Outcome.EMIT, "created", ChangeType.CREATED, present, snapshot)
    # First sight of a record modified since it was created (e.g. leadflow created it and a rep changed it
    # before the next poll): the old values are unknown, so every field is reported with old = None.
    return Decision(Outcome.EMIT, "first_seen_update (old values unknown)", ChangeType.UPDATED, present, snapshot)


def lead_key(version: Version, lead_ids: Mapping[str, str]) -> tuple[str, str]:
    """(lead_id, reason): the leadflow lead a change concerns, used as the Kafka key.

    Lead → its Leadflow_Id__c (its Salesforce Id when it is not a leadflow lead); Task → the lead of
    its WhoId (``lead_ids`` maps Salesforce Lead Ids to lead keys), else the WhoId, else the Task Id;
    anything else → its own Id.
    """
    if version.object == "Lead":
        ext = version.fields.get("Leadflow_Id__c")
        return (str(ext), "leadflow_id") if ext else (version.record_id, "salesforce_lead_id")
    if version.object == "Task":
        who = version.fields.get("WhoId")
        if not who:
            return version.record_id, "task_without_who"
        known = lead_ids.get(str(who))
        return (known, "who_lead") if known else (str(who), "who_id")
    return version.record_id, "record_id"


def event_id(version: Version) -> str:
    """Deterministic per record version: a re-emission after a crash carries the same id (consumers dedupe)."""
    name = f"{version.object}:{version.record_id}:{version.system_modstamp.isoformat()}"
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


def to_event(version: Version, decision: Decision, lead_id: str, key_reason: str) -> CrmChange:
    assert decision.outcome is Outcome.EMIT and decision.change_type is not None
    changed_at = version.last_modified_at or version.system_modstamp
    record = {k: v for k, v in version.fields.items()}
    return CrmChange(
        event_id=event_id(version),
        lead_id=lead_id,
        occurred_at=changed_at,
        object=version.object,
        record_id=version.record_id,
        change_type=decision.change_type,
        changed_fields=decision.changed_fields,
        record=record,
        changed_by=decision.changed_by if decision.hidden_by_leadflow else version.last_modified_by,
        changed_at=changed_at,
        system_modstamp=version.system_modstamp,
        hidden_by_leadflow=decision.hidden_by_leadflow,
        trace=(
            TraceStep(
                service="crm-changes",
                decision=decision.change_type.value,
                reason=f"{decision.reason}; keyed by {key_reason}",
                at=version.system_modstamp,
            ),
        ),
    )
