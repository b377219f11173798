"""leadflow reconcile, pure: the belief folded from events against a Salesforce view, difference by lead."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_cli.reconcile.belief import Belief
from leadflow_cli.reconcile.compare import SalesforceView, compare
from leadflow_contracts import (
    ChangeType,
    CrmChange,
    CrmSynced,
    DeadLetter,
    DuplicateOf,
    FieldChange,
    SlaEvent,
    SlaEventKind,
    SyncOperation,
)
from leadflow_crm_sync.testing import T0, routed

SELLER = "005000000000001AAA"
OTHER = "005000000000002AAA"


def ext(lead_id: str) -> str:
    return "x-" + lead_id


def synced(lead_id: str, sf_id: str, *, shadow: bool = False, at_s: int = 1) -> CrmSynced:
    return CrmSynced(
        event_id=f"synced-{lead_id}-{sf_id}-{at_s}-{shadow}",
        lead_id=lead_id,
        occurred_at=T0 + timedelta(seconds=at_s),
        salesforce_id=sf_id,
        operation=SyncOperation.CREATED,
        owner_id=SELLER,
        shadow=shadow,
    )


def sla(lead_id: str, clock: str, kind: SlaEventKind, at_s: int = 0) -> SlaEvent:
    return SlaEvent(
        event_id=f"sla-{lead_id}-{clock}-{kind.value}-{at_s}",
        lead_id=lead_id,
        occurred_at=T0 + timedelta(seconds=at_s),
        kind=kind,
        clock=clock,
        policy="p",
        due_at=T0 + timedelta(hours=1),
        started_at=T0,
    )


def sf_lead(sf_id: str, owner: str = SELLER, status: str = "Open - Not Contacted", **kw: Any) -> dict[str, Any]:
    return {"Id": sf_id, "OwnerId": owner, "Status": status, "IsConverted": False, **kw}


def world() -> tuple[Belief, SalesforceView]:
    """A consistent world: a lead, a duplicate in flight of it, a follow-up on a Contact, a dead-lettered lead."""
    b = Belief()
    b.routed(routed("a", owner_id=SELLER))
    b.synced(synced("a", "00QA"))
    b.sla(sla("a", "first_touch", SlaEventKind.STARTED))
    b.sla(sla("a", "qualify", SlaEventKind.STARTED))
    b.routed(
        routed(
            "b",
            owner_id=SELLER,
            duplicate_of=DuplicateOf(object="Lead", record_id="a", matched_on="email", leadflow_id="a"),
        )
    )
    b.synced(synced("b", "00QA"))
    b.sla(sla("b", "first_touch", SlaEventKind.STARTED))
    b.routed(
        routed("c", owner_id=SELLER, duplicate_of=DuplicateOf(object="Contact", record_id="003C", matched_on="phone"))
    )
    b.sla(sla("c", "first_touch", SlaEventKind.STARTED))
    b.routed(routed("d", owner_id=SELLER))
    b.dead_letter(
        DeadLetter(
            event_id="dead-d",
            lead_id="d",
            occurred_at=T0,
            service="crm-sync",
            topic="leads.routed",
            reason="x",
            message="m",
            original_base64="",
            not_in_salesforce=True,
        )
    )
    view = SalesforceView(leads_by_ext={ext("a"): sf_lead("00QA")}, records_by_id={"003C": {"Id": "003C"}})
    return b, view


def test_a_consistent_world_has_no_difference() -> None:
    b, view = world()
    assert compare(b, view, ext) == []
    assert b.open_on_board() == {"a"}


def test_each_kind_of_difference_is_named_by_lead() -> None:
    b, view = world()
    b.routed(routed("e", owner_id=SELLER))  # routed, never written: missing
    view.leads_by_ext[ext("b")] = sf_lead("00QB")  # the duplicate became a Lead of its own
    view.leads_by_ext[ext("zz")] = sf_lead("00QZ")  # a Lead leadflow never routed
    view.leads_by_ext[ext("d")] = sf_lead("00QD")  # dead-lettered as not in Salesforce, yet there
    view.leads_by_ext[ext("a")] = sf_lead("00QA", owner=OTHER, status="Working - Contacted")
    view.touched.add("003C")  # a call logged on the Contact, but c's clock is open
    found = {(d.lead_id, d.kind) for d in compare(b, view, ext)}
    assert found == {
        ("e", "missing_in_salesforce"),
        ("b", "duplicate_has_own_lead"),
        (ext("zz"), "unknown_to_leadflow"),
        ("d", "not_in_salesforce_but_present"),
        ("a", "owner_differs"),
        ("a", "clock_open_but_touched"),
        # not b, merged into a: a rep's status on a has no time, and only activity after b's inquiry answers b
        ("c", "clock_open_but_touched"),
    }


def test_clocks_met_and_owner_followed_from_salesforce_agree() -> None:
    b, view = world()
    view.leads_by_ext[ext("a")] = sf_lead("00QA", owner=OTHER, status="Qualified")
    for lead in ("a", "b", "c"):
        b.sla(sla(lead, "first_touch", SlaEventKind.MET, at_s=5))
    b.sla(sla("a", "qualify", SlaEventKind.MET, at_s=6))
    view.touched.add("003C")
    at = T0 + timedelta(minutes=5)  # a rep took the lead over in Salesforce after routing: leadflow follows
    change = CrmChange(
        event_id="change-a",
        lead_id="a",
        occurred_at=at,
        object="Lead",
        record_id="00QA",
        change_type=ChangeType.UPDATED,
        changed_at=at,
        system_modstamp=at,
        changed_fields=(FieldChange(field="OwnerId", old=SELLER, new=OTHER),),
    )
    b.change(change)
    assert compare(b, view, ext) == []
    assert b.open_on_board() == set()


def test_board_disagreement_and_shadow_syncs() -> None:
    b, view = world()
    view.leads_by_ext[ext("a")] = sf_lead("00QA", status="Closed - Not Converted")
    assert {(d.lead_id, d.kind) for d in compare(b, view, ext)} == {
        ("a", "open_on_board_but_closed"),
        ("a", "clock_open_but_closed"),
        ("a", "clock_open_but_touched"),
    }  # b was merged into a: a's closing (a status, no time) does not answer b's inquiry
    shadow = Belief()
    shadow.routed(routed("s", owner_id=SELLER))
    shadow.synced(synced("s", "00QS", shadow=True))  # shadow mode wrote nothing
    assert [(d.lead_id, d.kind) for d in compare(shadow, SalesforceView(), ext)] == [("s", "missing_in_salesforce")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["own", "dup", "contact", "touched", "qualified"]), min_size=1, max_size=25), st.data())
def test_one_broken_lead_is_exactly_one_difference(kinds: list[str], data: st.DataObject) -> None:
    b, view = Belief(), SalesforceView()
    root = None
    for i, kind in enumerate(kinds):
        lid = f"l{i}"
        if kind == "dup" and root is not None:
            b.routed(
                routed(
                    lid,
                    owner_id=SELLER,
                    duplicate_of=DuplicateOf(object="Lead", record_id=root, matched_on="email", leadflow_id=root),
                )
            )
        elif kind == "contact":
            b.routed(
                routed(
                    lid,
                    owner_id=SELLER,
                    duplicate_of=DuplicateOf(object="Contact", record_id=f"003{i}", matched_on="email"),
                )
            )
            view.records_by_id[f"003{i}"] = {"Id": f"003{i}"}
        else:
            b.routed(routed(lid, owner_id=SELLER))
            b.synced(synced(lid, f"00Q{i}"))
            status = "Qualified" if kind == "qualified" else "Open - Not Contacted"
            view.leads_by_ext[ext(lid)] = sf_lead(f"00Q{i}", status=status)
            if kind == "qualified":
                b.sla(sla(lid, "qualify", SlaEventKind.MET))
            root = root or lid
    assert compare(b, view, ext) == []
    own = sorted(k for k in view.leads_by_ext)
    if own:
        victim = data.draw(st.sampled_from(own))
        view.leads_by_ext[victim] = {**view.leads_by_ext[victim], "OwnerId": OTHER}
        assert [(d.lead_id, d.kind) for d in compare(b, view, ext)] == [(victim[2:], "owner_differs")]


def test_leads_older_than_the_topics_history_are_not_unknown() -> None:
    b, view = world()
    view.leads_by_ext["hist-0001"] = sf_lead("00QH", CreatedDate="2025-03-01T10:00:00.000+0000")
    view.leads_by_ext["x-late"] = sf_lead("00QL", CreatedDate=(T0 + timedelta(hours=1)).isoformat())
    assert [(d.lead_id, d.kind) for d in compare(b, view, ext)] == [("x-late", "unknown_to_leadflow")]


# ---- the owner rule: a Lead's owner is its own last routing or a rep's change; duplicates never move it ----
QUEUE = "00G000000000001AAA"


def owner_change(
    lead_id: str, owner: str, at: Any, *, in_record: bool = False, hidden_by_leadflow: bool = False
) -> CrmChange:
    return CrmChange(
        event_id=f"change-{lead_id}-{owner}-{at.isoformat()}-{in_record}-{hidden_by_leadflow}",
        lead_id=lead_id,
        occurred_at=at,
        object="Lead",
        record_id="00QA",
        change_type=ChangeType.UPDATED,
        changed_at=at,
        system_modstamp=at,
        # a status change carries the owner only in the record as it is; a takeover names it as changed
        record={"OwnerId": owner, "Status": "Working - Contacted"},
        changed_fields=() if in_record else (FieldChange(field="OwnerId", old=SELLER, new=owner),),
        hidden_by_leadflow=hidden_by_leadflow,
    )


def test_owner_facts_are_ordered_by_when_they_reached_the_topics_not_by_their_clocks() -> None:
    """Under ``make run`` route stamps with the demo clock (days behind) and Salesforce with the wall clock:
    a rep's takeover followed by an escalation must end with the escalation's owner."""
    wall = T0 + timedelta(days=3)
    b = Belief()
    b.routed(routed("a", owner_id=SELLER, occurred_at=T0), seen_at=wall)
    b.change(owner_change("a", OTHER, wall + timedelta(seconds=5)), seen_at=wall + timedelta(seconds=6))
    assert b.leads["a"].owner_id == OTHER
    b.routed(
        routed("a", owner_id=QUEUE, owner_type="queue", reassignment=1, occurred_at=T0 + timedelta(hours=1)),
        seen_at=wall + timedelta(seconds=9),
    )
    assert b.leads["a"].owner_id == QUEUE


def test_a_change_polled_between_a_routing_and_its_write_does_not_hide_the_write() -> None:
    b = Belief()
    base = T0 + timedelta(days=3)
    b.routed(routed("a", owner_id=QUEUE, owner_type="queue", reassignment=1), seen_at=base)
    b.change(owner_change("a", SELLER, base, in_record=True), seen_at=base + timedelta(seconds=1))
    assert b.leads["a"].owner_id == SELLER  # what Salesforce showed when polled: the write had not landed
    written = synced("a", "00QA", at_s=2).model_copy(update={"owner_id": QUEUE, "operation": SyncOperation.UPDATED})
    b.synced(written, seen_at=base + timedelta(seconds=2))
    assert b.leads["a"].owner_id == QUEUE


def test_a_status_change_hidden_by_leadflows_write_does_not_outrank_leadflows_next_write() -> None:
    """Seen in the identity e2e (2026-12-07): crm-sync created the Lead under the integration user, wrote it
    again, and crm-changes reported that version's Status as a rep's hidden change. The version's owner (the
    integration user) was leadflow's own, its poll older than crm-sync's next write (the routed queue), yet
    the change reached the topic 13 ms after that write's CrmSynced."""
    integration = "005000000000009AAA"
    b = Belief()
    base = T0 + timedelta(days=3)
    b.routed(routed("a", owner_id=QUEUE, owner_type="queue"), seen_at=base)
    written = synced("a", "00QA", at_s=2).model_copy(update={"owner_id": QUEUE, "operation": SyncOperation.UPDATED})
    b.synced(written, seen_at=base + timedelta(seconds=2))
    hidden = owner_change("a", integration, base + timedelta(seconds=1), in_record=True, hidden_by_leadflow=True)
    b.change(
        hidden.model_copy(update={"changed_fields": (FieldChange(field="Status", old=None, new="Open"),)}),
        seen_at=base + timedelta(seconds=2, milliseconds=13),
    )
    assert b.leads["a"].owner_id == QUEUE
    view = SalesforceView()
    view.leads_by_ext[ext("a")] = sf_lead("00QA", owner=QUEUE)
    assert [d for d in compare(b, view, ext) if d.kind == "owner_differs"] == []
    # the same snapshot from a rep's own version is a fact about the owner, and the latest one
    b.change(owner_change("a", OTHER, base + timedelta(seconds=3), in_record=True), seen_at=base + timedelta(seconds=4))
    assert b.leads["a"].owner_id == OTHER


def test_a_duplicate_routed_elsewhere_does_not_change_the_owner_of_its_record() -> None:
    b, view = world()
    b.routed(
        routed(
            "b",
            owner_id=OTHER,
            reassignment=1,
            duplicate_of=DuplicateOf(object="Lead", record_id="a", matched_on="email", leadflow_id="a"),
        )
    )
    b.synced(synced("b", "00QA", at_s=9).model_copy(update={"owner_id": OTHER}))
    assert b.leads["a"].owner_id == SELLER
    assert compare(b, view, ext) == []
    view.leads_by_ext[ext("a")] = sf_lead("00QA", owner=OTHER)  # had the duplicate moved it: a difference
    assert [(d.lead_id, d.kind) for d in compare(b, view, ext)] == [("a", "owner_differs")]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["routed", "synced", "change", "change_in_record", "hidden_by_leadflow"]),
            st.sampled_from([SELLER, OTHER, QUEUE]),
            st.integers(min_value=-200_000, max_value=200_000),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_believed_owner_is_the_last_owner_fact_whatever_the_events_own_times(facts: list[Any]) -> None:
    b = Belief()
    seen = T0 + timedelta(days=3)
    b.routed(routed("a", owner_id=SELLER, occurred_at=T0), seen_at=seen)
    expected, n = SELLER, 0
    for kind, owner, skew in facts:
        seen += timedelta(seconds=1)
        own_time = T0 + timedelta(seconds=skew)  # each event's own clock: anything
        if kind == "routed":
            n += 1
            b.routed(routed("a", owner_id=owner, reassignment=n, occurred_at=own_time), seen_at=seen)
        elif kind == "synced":
            ev = synced("a", "00QA").model_copy(
                update={"owner_id": owner, "occurred_at": own_time, "operation": SyncOperation.UPDATED}
            )
            b.synced(ev, seen_at=seen)
        elif kind == "hidden_by_leadflow":  # a version leadflow wrote: its owner is not a new fact
            b.change(owner_change("a", owner, own_time, in_record=True, hidden_by_leadflow=True), seen_at=seen)
            continue
        else:
            b.change(owner_change("a", owner, own_time, in_record=kind == "change_in_record"), seen_at=seen)
        expected = owner
    assert b.leads["a"].owner_id == expected


# ---- merged leads: only activity after their inquiry answers them (sla-monitor's rule) ----------------------
def test_a_merged_leads_clock_is_touched_only_by_a_touch_task_after_its_inquiry() -> None:
    b, view = world()
    floor = T0 + timedelta(days=3)
    b.routed(
        routed(
            "m",
            owner_id=SELLER,
            duplicate_of=DuplicateOf(object="Lead", record_id="00QA", matched_on="email"),
        ),
        seen_at=floor,
    )
    b.sla(sla("m", "first_touch", SlaEventKind.STARTED))
    view.records_by_id["00QA"] = sf_lead("00QA", status="Working - Contacted")
    view.touched.add("00QA")
    view.touched_at["00QA"] = [floor - timedelta(minutes=10)]  # the call that answered an earlier inquiry
    found = {(d.lead_id, d.kind) for d in compare(b, view, ext)}
    assert ("m", "clock_open_but_touched") not in found
    view.touched_at["00QA"].append(floor + timedelta(seconds=30))  # the rep answered this one too
    found = {(d.lead_id, d.kind) for d in compare(b, view, ext)}
    assert ("m", "clock_open_but_touched") in found
    b.sla(sla("m", "first_touch", SlaEventKind.MET, at_s=60))
    assert ("m", "clock_open_but_touched") not in {(d.lead_id, d.kind) for d in compare(b, view, ext)}


def test_a_completed_follow_up_task_is_a_touch() -> None:
    from leadflow_cli.reconcile.compare import is_touch_task

    assert is_touch_task({"Status": "Completed", "Subject": "Follow up: new inquiry", "TaskSubtype": "Task"})
    assert not is_touch_task({"Status": "Not Started", "Subject": "Follow up: new inquiry", "TaskSubtype": "Task"})
    assert not is_touch_task({"Status": "Completed", "Subject": "SLA warning", "TaskSubtype": "Task"})
