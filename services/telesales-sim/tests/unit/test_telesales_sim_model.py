"""The rep decision model: seeded RNG → the same plans; probabilities hold over many leads; time scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from leadflow_telesales_sim.domain.model import (
    ActionKind,
    BehaviourError,
    Plan,
    due_actions,
    lead_rng,
    load_behaviour,
    pick_status,
    plan_lead,
    real_delay,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_same_seed_same_plan_other_seed_or_owner_other_draws():
    b = load_behaviour()
    a1 = plan_lead("00Q1", "005A", b, lead_rng(7, "00Q1", "005A"))
    a2 = plan_lead("00Q1", "005A", b, lead_rng(7, "00Q1", "005A"))
    assert a1 == a2
    plans = {plan_lead(f"00Q{i}", "005A", b, lead_rng(8, f"00Q{i}", "005A")) for i in range(20)}
    assert len({p.actions for p in plans}) > 15


def test_behaviour_probabilities_hold_over_many_leads():
    b = load_behaviour(
        overrides={
            "ignore_probability": 0.1,
            "quick_probability": 0.5,
            "connect_probability": 1.0,
            "qualify_probability": 0.4,
            "disqualify_probability": 0.3,
        }
    )
    plans = [plan_lead(f"00Q{i}", "005A", b, lead_rng(1, f"00Q{i}", "005A")) for i in range(4000)]
    ignored = sum(p.reason == "ignored" for p in plans)
    worked = [p for p in plans if p.actions]
    quick = sum(p.reason.startswith("quick") for p in worked)
    qualified = sum(p.actions[-1].kind is ActionKind.QUALIFY for p in worked)
    disqualified = sum(p.actions[-1].kind is ActionKind.DISQUALIFY for p in worked)
    assert abs(ignored / 4000 - 0.1) < 0.02
    assert abs(quick / len(worked) - 0.5) < 0.03
    assert abs(qualified / len(worked) - 0.4) < 0.03 and abs(disqualified / len(worked) - 0.3) < 0.03
    for p in worked:  # first touch is a logged call and a status change at the same moment, in the right window
        call, working = p.actions[0], p.actions[1]
        assert (call.kind, working.kind) == (ActionKind.CALL, ActionKind.WORKING)
        assert call.at_minutes == working.at_minutes
        window = b.quick_first_touch_minutes if p.reason.startswith("quick") else b.late_first_touch_minutes
        assert window.low <= call.at_minutes <= window.high
        assert [a.at_minutes for a in p.actions] == sorted(a.at_minutes for a in p.actions)


def test_unanswered_first_call_is_followed_by_a_call_back():
    b = load_behaviour(overrides={"ignore_probability": 0, "connect_probability": 0})
    p = plan_lead("00Q1", "005A", b, lead_rng(3, "00Q1", "005A"))
    kinds = [a.kind for a in p.actions[:3]]
    assert kinds == [ActionKind.CALL, ActionKind.WORKING, ActionKind.CALL]
    assert p.actions[0].disposition == "No answer" and p.actions[2].disposition == "Connected"
    assert p.actions[2].at_minutes - p.actions[0].at_minutes >= b.call_back_after_minutes.low
    assert "called back" in p.reason


def test_time_scale_and_due_actions_with_a_fake_clock():
    b = load_behaviour(
        overrides={
            "ignore_probability": 0,
            "quick_probability": 1,
            "quick_first_touch_minutes": [2, 2],
            "connect_probability": 1,
            "qualify_probability": 1,
            "disqualify_probability": 0,
            "decide_after_minutes": [10, 10],
        }
    )
    p = plan_lead("00Q1", "005A", b, lead_rng(1, "00Q1", "005A"))
    assert real_delay(2, 60) == timedelta(seconds=2) and real_delay(2, 1) == timedelta(minutes=2)
    assert due_actions(p, 0, T0, T0 + timedelta(seconds=1.9), 60) == []
    first = due_actions(p, 0, T0, T0 + timedelta(seconds=2), 60)
    assert [a.kind for a in first] == [ActionKind.CALL, ActionKind.WORKING]
    assert due_actions(p, 2, T0, T0 + timedelta(seconds=11.9), 60) == []
    assert [a.kind for a in due_actions(p, 2, T0, T0 + timedelta(seconds=12), 60)] == [ActionKind.QUALIFY]
    assert [a.kind for a in due_actions(p, 0, T0, T0 + timedelta(minutes=12), 1)] == [
        ActionKind.CALL,
        ActionKind.WORKING,
        ActionKind.QUALIFY,
    ]
    assert Plan.from_json(p.to_json()) == p


def test_status_names_come_from_the_org_picklist():
    assert pick_status(("Qualified", "Closed - Converted"), {"Closed - Converted", "Open"}) == "Closed - Converted"
    assert pick_status(("Qualified", "Closed - Converted"), {"Qualified", "Closed - Converted"}) == "Qualified"
    with pytest.raises(BehaviourError, match=r"Lead\.Status picklist"):
        pick_status(("Qualified",), {"Open"})


def test_bad_behaviour_names_the_field(tmp_path):
    with pytest.raises(BehaviourError, match="ignore_probability"):
        load_behaviour(overrides={"ignore_probability": 1.5})
    with pytest.raises(BehaviourError, match="quick_first_touch_minutes"):
        load_behaviour(overrides={"quick_first_touch_minutes": [10, 1]})
    with pytest.raises(BehaviourError, match="must be ≤ 1"):
        load_behaviour(overrides={"qualify_probability": 0.8, "disqualify_probability": 0.5})
    bad = tmp_path / "b.yaml"
    bad.write_text("version: 1\nsurprise: true\n")
    with pytest.raises(BehaviourError, match="surprise"):
        load_behaviour(bad)


def test_settings_read_time_scale_and_nested_salesforce_env(monkeypatch):
    from leadflow_telesales_sim.settings import TelesalesSimSettings

    monkeypatch.setenv("TSIM_TIME_SCALE", "120")
    monkeypatch.setenv("TSIM_SALESFORCE__USERNAME", "integration@leadflow.example")
    monkeypatch.setenv("TSIM_BEHAVIOUR", '{"ignore_probability": 0.5}')
    s = TelesalesSimSettings()
    assert (s.time_scale, s.salesforce.username, s.http_port) == (120.0, "integration@leadflow.example", 8009)
    assert load_behaviour(s.behaviour_file, s.behaviour).ignore_probability == 0.5


def test_follow_ups_get_the_same_response_times_as_new_leads():
    """A follow-up Task is answered with the very draws a new lead would get (ignored, quick or late first
    call, call back after no answer), then completed with the last call; it never qualifies anything."""
    from leadflow_telesales_sim.domain.model import plan_follow_up

    b = load_behaviour(overrides={"ignore_probability": 0.1, "quick_probability": 0.5, "connect_probability": 0.7})
    for i in range(2000):
        task, who = f"00T{i}", f"003C{i}"
        lead_plan = plan_lead(task, "005A", b, lead_rng(5, task, "005A"))
        fu = plan_follow_up(task, who, "005A", b, lead_rng(5, task, "005A"))
        assert fu.follow_up and fu.who_id == who and fu.lead_id == task
        calls = [a for a in lead_plan.actions if a.kind is ActionKind.CALL]
        if not calls:
            assert fu.actions == () and "ignored" in fu.reason
            continue
        assert [a for a in fu.actions if a.kind is ActionKind.CALL] == calls  # same times, dispositions
        assert fu.actions[-1] == fu.actions[-1].__class__(ActionKind.COMPLETE, calls[-1].at_minutes)
        assert {a.kind for a in fu.actions} <= {ActionKind.CALL, ActionKind.COMPLETE}
        assert [a.at_minutes for a in fu.actions] == sorted(a.at_minutes for a in fu.actions)
        assert Plan.from_json(fu.to_json()) == fu


def test_plans_stored_before_follow_ups_existed_still_load():
    stored = {"lead_id": "00Q1", "owner_id": "005A", "reason": "ignored", "actions": []}
    assert Plan.from_json(stored) == Plan("00Q1", "005A", (), "ignored")
    assert not Plan.from_json(stored).follow_up
