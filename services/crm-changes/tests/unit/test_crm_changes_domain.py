"""Pure domain: diffing, classification (echo / duplicate / emit), keying, SOQL, settings validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from leadflow_contracts.crm import ChangeType
from leadflow_crm_changes.domain.changes import (
    Outcome,
    Snapshot,
    decide,
    diff,
    event_id,
    lead_key,
    to_event,
    to_version,
)
from leadflow_crm_changes.domain.feed import DEFAULT_OBJECTS, FeedObject, changes_soql, soql_datetime
from leadflow_crm_changes.settings import CrmChangesSettings
from pydantic import ValidationError

pytestmark = pytest.mark.unit

INTEGRATION = "005000000000001AAA"
REP = "005RP0000000901AAA"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEAD = next(o for o in DEFAULT_OBJECTS if o.name == "Lead")
TRACKED = LEAD.tracked_fields


def sf_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def lead_raw(*, by: str, stamp: datetime, created: datetime | None = None, deleted: bool = False, **fields):
    base = {
        "attributes": {"type": "Lead"},
        "Id": "00QAA0000000001AAA",
        "IsDeleted": deleted,
        "CreatedDate": sf_time(created or stamp),
        "CreatedById": by,
        "LastModifiedDate": sf_time(stamp),
        "LastModifiedById": by,
        "SystemModstamp": sf_time(stamp),
        "Leadflow_Id__c": "lf-1",
        "Status": "Open - Not Contacted",
        "OwnerId": REP,
        "Company": "Fjord AS",
    }
    base.update(fields)
    return base


def snap(version, at: datetime | None = None) -> Snapshot:
    return Snapshot(at or version.system_modstamp, version.deleted, {f: version.fields.get(f) for f in TRACKED})


def test_diff_reports_only_changed_tracked_fields_in_order():
    old = {"Status": "Open - Not Contacted", "OwnerId": "a", "Rating": None}
    new = {"Status": "Working - Contacted", "OwnerId": "a", "Rating": "Hot", "Untracked": 1}
    changes = diff(old, new, ("Status", "OwnerId", "Rating"))
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("Status", "Open - Not Contacted", "Working - Contacted"),
        ("Rating", None, "Hot"),
    ]
    assert diff(old, old, ("Status", "OwnerId")) == ()


def test_rep_update_is_emitted_with_old_and_new_values():
    v1 = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0))
    v2 = to_version("Lead", lead_raw(by=REP, stamp=T0 + timedelta(seconds=5), created=T0, Status="Working - Contacted"))
    d = decide(v2, snap(v1), TRACKED, frozenset({INTEGRATION}))
    assert d.outcome is Outcome.EMIT and d.change_type is ChangeType.UPDATED and d.reason == "changed"
    assert [(c.field, c.old, c.new) for c in d.changed_fields] == [
        ("Status", "Open - Not Contacted", "Working - Contacted")
    ]
    assert d.snapshot is not None and d.snapshot.fields["Status"] == "Working - Contacted"


def test_echo_is_skipped_per_version_but_remembered_and_a_later_rep_version_is_not():
    leadflow = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0, SLA_Status__c="On Track"))
    d = decide(leadflow, None, TRACKED, frozenset({INTEGRATION}))
    assert d.outcome is Outcome.ECHO and d.snapshot is not None  # remembered: the next diff is against it
    rep = to_version(
        "Lead",
        lead_raw(
            by=REP,
            stamp=T0 + timedelta(milliseconds=1),
            created=T0,
            SLA_Status__c="On Track",
            Status="Working - Contacted",
        ),
    )
    d2 = decide(rep, d.snapshot, TRACKED, frozenset({INTEGRATION}))
    assert d2.outcome is Outcome.EMIT
    assert [c.field for c in d2.changed_fields] == ["Status"]  # the echo's own change is not re-reported


def test_same_or_older_version_is_a_duplicate():
    v = to_version("Lead", lead_raw(by=REP, stamp=T0))
    assert decide(v, snap(v), TRACKED, frozenset()).outcome is Outcome.DUPLICATE
    assert decide(v, snap(v, T0 + timedelta(seconds=1)), TRACKED, frozenset()).outcome is Outcome.DUPLICATE


def test_created_deleted_and_first_seen_update():
    new = to_version("Lead", lead_raw(by=REP, stamp=T0))
    d = decide(new, None, TRACKED, frozenset())
    assert d.change_type is ChangeType.CREATED
    assert {c.field for c in d.changed_fields} >= {"Status", "OwnerId", "Company", "Leadflow_Id__c"}
    assert all(c.old is None for c in d.changed_fields)
    gone = to_version("Lead", lead_raw(by=REP, stamp=T0 + timedelta(seconds=9), created=T0, deleted=True))
    dd = decide(gone, snap(new), TRACKED, frozenset())
    assert dd.change_type is ChangeType.DELETED and dd.snapshot is not None and dd.snapshot.deleted
    # a rep's deletion of leadflow's record is a rep change; leadflow's own deletion is an echo
    leadflow_gone = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0 + timedelta(seconds=9), deleted=True))
    assert decide(leadflow_gone, snap(new), TRACKED, frozenset({INTEGRATION})).outcome is Outcome.ECHO
    later = to_version(
        "Lead", lead_raw(by=REP, stamp=T0 + timedelta(hours=1), created=T0, Status="Working - Contacted")
    )
    d3 = decide(later, None, TRACKED, frozenset())
    assert d3.change_type is ChangeType.UPDATED and d3.reason.startswith("first_seen_update")
    assert ("Status", None, "Working - Contacted") in [(c.field, c.old, c.new) for c in d3.changed_fields]


def test_keys_lead_by_leadflow_id_task_by_who_lead_others_by_own_id():
    lead = to_version("Lead", lead_raw(by=REP, stamp=T0))
    assert lead_key(lead, {}) == ("lf-1", "leadflow_id")
    foreign = to_version("Lead", lead_raw(by=REP, stamp=T0, Leadflow_Id__c=None))
    assert lead_key(foreign, {}) == ("00QAA0000000001AAA", "salesforce_lead_id")
    task = to_version(
        "Task", {"Id": "00TAA0000000001AAA", "SystemModstamp": sf_time(T0), "WhoId": "00QAA0000000001AAA"}
    )
    assert lead_key(task, {"00QAA0000000001AAA": "lf-1"}) == ("lf-1", "who_lead")
    assert lead_key(task, {}) == ("00QAA0000000001AAA", "who_id")
    orphan = to_version("Task", {"Id": "00TAA0000000002AAA", "SystemModstamp": sf_time(T0), "WhoId": None})
    assert lead_key(orphan, {}) == ("00TAA0000000002AAA", "task_without_who")
    opp = to_version("Opportunity", {"Id": "006AA0000000001AAA", "SystemModstamp": sf_time(T0)})
    assert lead_key(opp, {}) == ("006AA0000000001AAA", "record_id")


def test_event_is_deterministic_per_version_and_carries_who_and_when():
    v = to_version("Lead", lead_raw(by=REP, stamp=T0))
    d = decide(v, None, TRACKED, frozenset())
    ev = to_event(v, d, "lf-1", "leadflow_id")
    again = to_event(to_version("Lead", lead_raw(by=REP, stamp=T0)), d, "lf-1", "leadflow_id")
    assert ev.event_id == again.event_id == event_id(v)
    newer = to_version("Lead", lead_raw(by=REP, stamp=T0 + timedelta(milliseconds=1), created=T0))
    assert event_id(newer) != ev.event_id
    assert (ev.changed_by, ev.changed_at, ev.system_modstamp, ev.lead_id) == (REP, T0, T0, "lf-1")
    assert "attributes" not in ev.record and ev.record["Status"] == "Open - Not Contacted"
    assert ev.trace[0].service == "crm-changes"


def test_record_without_id_or_stamp_is_refused():
    with pytest.raises(ValueError, match="without Id or SystemModstamp"):
        to_version("Lead", {"Id": "00Q1"})


def test_soql_is_incremental_ordered_and_always_selects_audit_and_key_fields():
    task = FeedObject(name="Task", fields=("Subject",))
    assert task.fields[:7] == (
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
    )
    assert "WhoId" in task.fields and task.tracked_fields == ("WhoId", "Subject")
    q = changes_soql(task, datetime(2026, 1, 5, 9, 0, 1, 234567, tzinfo=UTC))
    assert q.endswith("FROM Task WHERE SystemModstamp > 2026-01-05T09:00:01.234Z ORDER BY SystemModstamp, Id")
    assert "WHERE" not in changes_soql(task, None)
    assert soql_datetime(datetime(2026, 1, 5, 10, 0, tzinfo=UTC).astimezone()) == "2026-01-05T10:00:00.000Z"


def test_bad_configuration_names_the_field():
    with pytest.raises(ValidationError, match=r"objects\.fields"):
        CrmChangesSettings(objects=[{"name": "Lead", "fields": ["Status; DROP"]}])
    with pytest.raises(ValidationError, match=r"objects\.name"):
        CrmChangesSettings(objects=[{"name": "Lead X", "fields": ["Status"]}])
    with pytest.raises(ValidationError, match="start_from"):
        CrmChangesSettings(start_from="yesterday")
    assert CrmChangesSettings(start_from="2026-01-05T09:00:00Z").start_from.startswith("2026")


def test_settings_read_nested_salesforce_env(monkeypatch):
    monkeypatch.setenv("CRMCHANGES_SALESFORCE__USERNAME", "integration@leadflow.example")
    monkeypatch.setenv("CRMCHANGES_SALESFORCE__LOGIN_URL", "https://127.0.0.1:8443")
    monkeypatch.setenv("CRMCHANGES_POLL_INTERVAL_SECONDS", "2")
    monkeypatch.setenv("CRMCHANGES_INTEGRATION_USER_IDS", '["005000000000002AAA"]')
    s = CrmChangesSettings()
    assert s.salesforce.username == "integration@leadflow.example"
    assert s.salesforce.login_url == "https://127.0.0.1:8443"
    assert s.poll_interval_seconds == 2.0 and s.integration_user_ids == ["005000000000002AAA"]
    assert (s.http_port, s.service_name) == (8006, "crm-changes")


# ---- a rep's status change hidden by leadflow's later write (issue 12) -------------------------------------
def test_a_rep_status_change_under_a_leadflow_write_is_emitted_not_skipped():
    from leadflow_crm_changes.domain.changes import REP_OWNED_FIELDS

    created = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0, SLA_Status__c="On Track"))
    first = decide(created, None, TRACKED, frozenset({INTEGRATION}), REP_OWNED_FIELDS["Lead"])
    assert first.outcome is Outcome.ECHO
    # the rep closed it, then leadflow wrote SLA_Status__c before the next poll: one version, by leadflow
    hid = to_version(
        "Lead",
        lead_raw(
            by=INTEGRATION,
            stamp=T0 + timedelta(seconds=2),
            created=T0,
            Status="Closed - Not Converted",
            SLA_Status__c="Breached",
        ),
    )
    d = decide(hid, first.snapshot, TRACKED, frozenset({INTEGRATION}), REP_OWNED_FIELDS["Lead"])
    assert d.outcome is Outcome.EMIT and d.reason == "changed_under_leadflow_write"
    assert [(c.field, c.old, c.new) for c in d.changed_fields] == [
        ("Status", "Open - Not Contacted", "Closed - Not Converted")
    ], "only the rep's field: leadflow's own SLA_Status__c write is not reported"
    ev = to_event(hid, d, "lf-1", "leadflow_id")
    assert ev.changed_by == REP, "the record's user owner, never leadflow's integration user"
    assert ev.hidden_by_leadflow, "the rest of the record (its owner) is leadflow's own write"
    queued = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0 + timedelta(seconds=3), created=T0, OwnerId="00GQ"))
    dq = decide(queued, snap(created), TRACKED, frozenset({INTEGRATION}), ("Status",))
    assert dq.outcome is Outcome.ECHO  # owner moved by leadflow, status untouched: leadflow's own write
    closed_by_queue = to_version(
        "Lead",
        lead_raw(by=INTEGRATION, stamp=T0 + timedelta(seconds=4), created=T0, OwnerId="00GQ", Status="Qualified"),
    )
    dc = decide(closed_by_queue, snap(queued), TRACKED, frozenset({INTEGRATION}), ("Status",))
    assert to_event(closed_by_queue, dc, "lf-1", "leadflow_id").changed_by is None


def test_without_rep_owned_fields_every_leadflow_version_is_an_echo():
    created = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0))
    hid = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0 + timedelta(seconds=2), created=T0, Status="Qualified"))
    assert decide(hid, snap(created), TRACKED, frozenset({INTEGRATION})).outcome is Outcome.ECHO
    gone = to_version("Lead", lead_raw(by=INTEGRATION, stamp=T0 + timedelta(seconds=3), deleted=True, Status="X"))
    assert decide(gone, snap(created), TRACKED, frozenset({INTEGRATION}), ("Status",)).outcome is Outcome.ECHO


@pytest.mark.parametrize("seed", range(200))
def test_consumers_always_end_with_the_records_status_whatever_the_polls_saw(seed: int):
    """A record's life: leadflow creates it, then reps change its status and leadflow writes its own fields, in
    any interleaving; polls read only the newest version at their moment, any subset of versions. What the
    emitted changes say about Status always ends at the record's latest status."""
    import random

    from leadflow_crm_changes.domain.changes import REP_OWNED_FIELDS

    rng = random.Random(seed)
    statuses = ["Open - Not Contacted", "Working - Contacted", "Qualified", "Unqualified", "Closed - Not Converted"]
    at, status, sla = T0, "Open - Not Contacted", "On Track"
    versions = [to_version("Lead", lead_raw(by=INTEGRATION, stamp=at, Status=status, SLA_Status__c=sla))]
    for _ in range(rng.randint(1, 12)):
        at += timedelta(seconds=rng.randint(1, 5))
        if rng.random() < 0.5:
            status, by = rng.choice(statuses), REP
        else:
            sla, by = rng.choice(["On Track", "Warning", "Breached", "Met"]), INTEGRATION
        versions.append(to_version("Lead", lead_raw(by=by, stamp=at, created=T0, Status=status, SLA_Status__c=sla)))
    polled = [v for v in versions[:-1] if rng.random() < 0.4] + [versions[-1]]
    believed, snapshot = "Open - Not Contacted", None  # what consumers know from leadflow's own creation
    for v in polled:
        d = decide(v, snapshot, TRACKED, frozenset({INTEGRATION}), REP_OWNED_FIELDS["Lead"])
        snapshot = d.snapshot or snapshot
        for c in d.changed_fields if d.outcome is Outcome.EMIT else ():
            if c.field == "Status":
                believed = c.new
    assert believed == status
