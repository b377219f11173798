from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from leadflow_contracts import ChangeType, CrmChange
from leadflow_crm_sync.domain.backoff import Backoff
from leadflow_crm_sync.domain.budget import ApiUsage, decide, reserve
from leadflow_crm_sync.domain.conversion import observed_conversion, plan_conversion, wants_conversion
from leadflow_crm_sync.domain.outcomes import classify_request_error, classify_save_result
from leadflow_crm_sync.domain.policy import PolicyError, WriteKind, load_policy, parse_policy
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import Outcome
from leadflow_crm_sync.testing import T0, lead_change

pytestmark = pytest.mark.unit
POLICY = load_policy()


def _raw() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("leadflow_crm_sync").joinpath("policy.yaml").read_text())


def test_bundled_policy_loads() -> None:
    assert POLICY.version and WriteKind.NEW_LEAD in POLICY.budget.critical
    assert WriteKind.LEAD_UPDATE not in POLICY.budget.critical


def test_policy_errors_name_the_bad_field(tmp_path: Path) -> None:
    raw = _raw()
    raw["lead"]["lead_sources"]["web_form"] = "Website"
    with pytest.raises(PolicyError, match=r"lead_sources\.web_form: 'Website' is not a LeadSource picklist value"):
        parse_policy(raw)
    raw = _raw()
    raw["tasks"]["callback"]["priority"] = "Urgent"
    with pytest.raises(PolicyError, match=r"tasks\.callback.*priority"):
        parse_policy(raw)
    raw = _raw()
    raw["budget"]["critical"] = ["new_lead", "everything"]
    with pytest.raises(PolicyError, match=r"budget\.critical"):
        parse_policy(raw)
    raw = _raw()
    raw["conversion"]["opportunity_name"] = "{company} {nope}"
    with pytest.raises(PolicyError, match="opportunity_name"):
        parse_policy(raw)
    bad = tmp_path / "p.yaml"
    bad.write_text("lead: [")
    with pytest.raises(PolicyError, match="not YAML"):
        load_policy(bad)


@pytest.mark.parametrize(
    ("raw", "mode", "outcome"),
    [
        ({"id": "00Q1", "success": True, "errors": [], "created": True}, "upsert", Outcome.CREATED),
        ({"id": "00Q1", "success": True, "errors": [], "created": False}, "upsert", Outcome.UPDATED),
        ({"id": "00Q1", "success": True, "errors": []}, "update", Outcome.UPDATED),
        (
            {"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}]},
            "upsert",
            Outcome.RETRY,
        ),
        (
            {"success": False, "errors": [{"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD", "message": "x"}]},
            "upsert",
            Outcome.CONVERTED_LEAD,
        ),
        (
            {"success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "x", "fields": []}]},
            "update",
            Outcome.TARGET_GONE,
        ),
        (
            {
                "success": False,
                "errors": [{"statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "x", "fields": ["OwnerId"]}],
            },
            "update",
            Outcome.FAILED,
        ),
        (
            {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "x"}]},
            "upsert",
            Outcome.FAILED,
        ),
    ],
)
def test_save_results_are_classified(raw: dict, mode: str, outcome: Outcome) -> None:
    assert classify_save_result(raw, mode).outcome is outcome  # type: ignore[arg-type]


def test_failed_save_result_keeps_the_salesforce_error() -> None:
    r = classify_save_result(
        {
            "success": False,
            "errors": [
                {"statusCode": "STRING_TOO_LONG", "message": "Company: data value too large", "fields": ["Company"]}
            ],
        },
        "upsert",
    )
    assert (r.status_code, r.message, r.fields) == ("STRING_TOO_LONG", "Company: data value too large", ("Company",))


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (403, "REQUEST_LIMIT_EXCEEDED", "rate_limited"),
        (401, "INVALID_SESSION_ID", "session"),
        (503, "SERVER_UNAVAILABLE", "retry"),
        (500, "UNKNOWN_EXCEPTION", "retry"),
        (None, "ConnectTimeout", "retry"),
        (400, "UNABLE_TO_LOCK_ROW", "retry"),
        (400, "JSON_PARSER_ERROR", "bad_request"),
        (404, "NOT_FOUND", "bad_request"),
    ],
)
def test_request_errors_are_classified(status: int | None, code: str, kind: str) -> None:
    assert classify_request_error(status, code) == kind


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap() -> None:
    b = Backoff(base=0.5, cap=8.0, jitter=0.5)
    assert b.delay(1, 0.0) == 0.25 and b.delay(1, 0.999) < 0.5
    assert b.delay(3, 0.0) == 1.0 and b.delay(3, 0.999) < 2.0
    assert b.delay(10, 0.999) <= 8.0 and b.delay(10, 0.0) == 4.0
    assert b.delay(0, 0.5) == 0.0


def test_budget_below_the_reserve_lets_only_critical_writes_through() -> None:
    bp = POLICY.budget
    plenty, low = ApiUsage(used=1000, total=100_000), ApiUsage(used=99_000, total=100_000)
    assert reserve(bp, low) == 5000
    for kind in WriteKind:
        assert decide(kind, plenty, bp).allowed
        assert decide(kind, low, bp).allowed is (kind in bp.critical)
    assert decide(WriteKind.NEW_LEAD, low, bp).allowed and not decide(WriteKind.LEAD_UPDATE, low, bp).allowed
    assert not decide(WriteKind.SLA_STATUS, low, bp).allowed and decide(WriteKind.SLA_BREACH, low, bp).allowed
    assert decide(WriteKind.LEAD_UPDATE, None, bp).allowed
    assert "deferred" in decide(WriteKind.REMINDER_TASK, low, bp).reason


def test_conversion_wanted_on_a_qualified_status_only() -> None:
    assert wants_conversion(lead_change("l1", "00Q1", status="Closed - Converted"), POLICY.conversion)
    assert wants_conversion(lead_change("l1", "00Q1", status="Working - Contacted"), POLICY.conversion) is None
    assert wants_conversion(lead_change("l1", "00Q1", converted=True), POLICY.conversion) is None
    first_seen = CrmChange(
        event_id="c-l1",
        lead_id="l1",
        occurred_at=T0,
        object="Lead",
        record_id="00Q1",
        change_type=ChangeType.UPDATED,
        changed_at=T0,
        system_modstamp=T0,
        record={"Status": "Closed - Converted", "IsConverted": False},
    )
    assert wants_conversion(first_seen, POLICY.conversion), "no old values: the current status decides"
    other_change = lead_change("l1", "00Q1", status=None, record={"Status": "Closed - Converted"})
    assert wants_conversion(other_change, POLICY.conversion), "qualified but not converted yet: convert"
    unqualified = CrmChange(
        event_id="c-l1",
        lead_id="l1",
        occurred_at=T0,
        object="Lead",
        record_id="00Q1",
        change_type=ChangeType.UPDATED,
        record={"Status": "Working - Contacted"},
        changed_at=T0,
        system_modstamp=T0,
    )
    assert wants_conversion(unqualified, POLICY.conversion) is None
    seen = observed_conversion(
        lead_change(
            "l1",
            "00Q1",
            converted=True,
            record={"ConvertedAccountId": "001A", "ConvertedContactId": "003C", "ConvertedOpportunityId": "006O"},
        )
    )
    assert seen is not None and seen.opportunity_id == "006O"
    task = CrmChange(
        event_id="c-t1",
        lead_id="l1",
        occurred_at=T0,
        object="Task",
        record_id="00T1",
        change_type=ChangeType.CREATED,
        changed_at=T0,
        system_modstamp=T0,
    )
    assert wants_conversion(task, POLICY.conversion) is None and observed_conversion(task) is None


def test_conversion_plan_key_account_goes_to_its_manager_and_the_reps_account_choice_wins() -> None:
    state = LeadState(
        lead_id="l1",
        salesforce_id="00Q1",
        owner_id="005REP",
        matched_account_id="001KEY",
        account_owner_id="005KAM",
        key_account=True,
        company="Fjord AS",
        campaign="spring",
        client_type="key_account",
        lead_source="web_form",
    )
    plan = plan_conversion(lead_change("l1", "00Q1"), state, POLICY.conversion, date(2026, 1, 5), "qualified")
    assert plan.account_id == "001KEY" and plan.owner_id == "005KAM"
    assert plan.opportunity_name == "Fjord AS - spring"
    assert plan.opportunity_fields["CloseDate"] == "2026-02-04"
    assert plan.opportunity_fields["StageName"] == "Qualification"
    assert plan.opportunity_fields["Type"] == "Existing Customer - Upgrade"
    chosen = lead_change("l1", "00Q1", record={"Matched_Account__c": "001OTHER"})
    plan = plan_conversion(chosen, state, POLICY.conversion, date(2026, 1, 5), "qualified")
    assert plan.account_id == "001OTHER" and plan.owner_id == "005REP", "not the key account any more"
    queue_owned = state.with_(owner_id="00GQUEUE", key_account=False)
    plan = plan_conversion(
        lead_change("l1", "00Q1", changed_by="005WHO"), queue_owned, POLICY.conversion, date(2026, 1, 5), "qualified"
    )
    assert plan.owner_id == "005WHO"
