"""What a Salesforce change means for the clocks."""

from __future__ import annotations

import pytest
from leadflow_contracts.crm import ChangeType, FieldChange
from leadflow_sla_monitor.domain.signals import SignalRules, classify, owner_change, salesforce_ids
from leadflow_sla_monitor.testing import MONDAY_9, lead_change, task_change

pytestmark = pytest.mark.unit
RULES = SignalRules()


@pytest.mark.parametrize(
    ("kwargs", "how"),
    [
        ({"subtype": "Call"}, "task:Call"),
        ({"subtype": "Email", "subject": "Re: offer"}, "task:Email"),
        ({"subtype": None, "subject": "Call back about pricing"}, "task:Call"),
        ({"subtype": "Task", "subject": "email sent with brochure"}, "task:Email"),
    ],
)
def test_completed_call_or_email_task_is_a_first_touch(kwargs: dict, how: str) -> None:
    signal = classify(task_change("L1", MONDAY_9, owner_id="005A", **kwargs), RULES)
    assert signal is not None
    assert signal.how == how and signal.by == "005A" and signal.at == MONDAY_9
    assert "first_touch" in signal.clocks and "qualify" not in signal.clocks


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "Not Started"},
        {"subtype": "Task", "subject": "Prepare meeting"},
        {"subtype": None, "subject": "Send the contract"},
        {"subtype": "Task", "subject": "Follow up: new inquiry", "status": "Not Started"},
        {"subtype": "Task", "subject": "SLA escalation: reassign (step 2)"},
    ],
)
def test_other_tasks_are_not_a_touch(kwargs: dict) -> None:
    assert classify(task_change("L1", MONDAY_9, **kwargs), RULES) is None


@pytest.mark.parametrize("subject", ["Follow up: new inquiry", "follow up", "FOLLOW UP: callback"])
def test_a_completed_follow_up_task_is_a_first_touch_only(subject: str) -> None:
    """crm-sync's follow-up Task for a merged lead, completed by the rep, answers the inquiry; a requested
    callback still needs its call."""
    signal = classify(task_change("003C", MONDAY_9, subtype="Task", subject=subject, owner_id="005A"), RULES)
    assert signal is not None and signal.clocks == ("first_touch",) and signal.how == "task:Follow-up"
    assert signal.by == "005A"


def test_follow_up_subjects_are_configurable() -> None:
    rules = SignalRules.build(["Open - Not Contacted"], ["Qualified"], ["Call"], ["Nachfassen"])
    assert classify(task_change("L", MONDAY_9, subtype="Task", subject="Nachfassen: Anfrage"), rules) is not None
    assert classify(task_change("L", MONDAY_9, subtype="Task", subject="Follow up: new inquiry"), rules) is None


def test_status_change_away_from_open_is_a_touch() -> None:
    signal = classify(lead_change("L1", MONDAY_9, status="Working - Contacted"), RULES)
    assert signal is not None and signal.how == "status:Working - Contacted"
    assert signal.clocks == ("first_touch", "callback")
    assert classify(lead_change("L1", MONDAY_9, status="Open - Not Contacted", old_status="x"), RULES) is None
    assert classify(lead_change("L1", MONDAY_9), RULES) is None  # no Status change at all


@pytest.mark.parametrize("status", ["Qualified", "Unqualified", "Closed - Converted", "Closed - Not Converted"])
def test_qualification_statuses_stop_every_clock(status: str) -> None:
    signal = classify(lead_change("L1", MONDAY_9, status=status), RULES)
    assert signal is not None and "qualify" in signal.clocks and "first_touch" in signal.clocks


def test_conversion_qualifies() -> None:
    signal = classify(lead_change("L1", MONDAY_9, converted=True), RULES)
    assert signal is not None and signal.how == "converted" and "qualify" in signal.clocks


def test_configured_statuses_are_used() -> None:
    rules = SignalRules.build(["New"], ["Won", "Lost"], ["Call"])
    assert classify(lead_change("L1", MONDAY_9, status="New", old_status="x"), rules) is None
    signal = classify(lead_change("L1", MONDAY_9, status="Won", old_status="New"), rules)
    assert signal is not None and "qualify" in signal.clocks
    assert classify(task_change("L1", MONDAY_9, subtype="Email", subject="Email"), rules) is None


def test_deleted_and_other_objects_are_ignored() -> None:
    deleted = lead_change("L1", MONDAY_9, status="Qualified").model_copy(update={"change_type": ChangeType.DELETED})
    assert classify(deleted, RULES) is None
    opp = task_change("L1", MONDAY_9).model_copy(update={"object": "Opportunity"})
    assert classify(opp, RULES) is None


def test_salesforce_ids_for_lookup() -> None:
    assert salesforce_ids(lead_change("L1", MONDAY_9, record_id="00Qabc")) == ("00Qabc",)
    assert salesforce_ids(task_change("L1", MONDAY_9, who_id="00Qxyz")) == ("00Qxyz",)


def test_owner_change_on_a_lead() -> None:
    change = lead_change("L1", MONDAY_9).model_copy(
        update={"changed_fields": (FieldChange(field="OwnerId", old="005A", new="005B"),)}
    )
    assert owner_change(change) == "005B"
    assert owner_change(lead_change("L1", MONDAY_9, status="Working - Contacted")) is None
    assert owner_change(task_change("L1", MONDAY_9)) is None
