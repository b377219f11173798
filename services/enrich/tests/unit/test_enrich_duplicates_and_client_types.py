from datetime import UTC, date, datetime

import pytest
from leadflow_contracts import ClientType
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.domain.client_type import classify
from leadflow_enrich.domain.duplicates import find_duplicate
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.policy import ClientTypePolicy
from leadflow_enrich.testing import account, contact, normalized_lead, sf_lead

pytestmark = pytest.mark.unit

POLICY = load_policy()
ON = date(2026, 1, 5)


def index_of(*records) -> MirrorIndex:
    idx = MirrorIndex(POLICY.free_mail_domains, POLICY.duplicates)
    idx.load(records)
    return idx


# ---- duplicates -------------------------------------------------------------------------------------
def test_open_lead_with_same_email_is_a_duplicate() -> None:
    idx = index_of(sf_lead("00QA", "Kari@Nord.no", owner_id="005X"))
    d = find_duplicate("lead-9", normalized_lead(email="kari@nord.no"), idx)
    assert d.duplicate is not None
    assert (d.duplicate.object, d.duplicate.record_id, d.duplicate.matched_on, d.duplicate.owner_id) == (
        "Lead",
        "00QA",
        "email",
        "005X",
    )


def test_closed_and_converted_leads_are_not_duplicates() -> None:
    idx = index_of(
        sf_lead("00QA", "kari@nord.no", status="Closed - Not Converted"),
        sf_lead("00QB", "kari@nord.no", status="Working - Contacted", is_converted=True),
        sf_lead("00QC", "kari@nord.no", status="Closed - Lost (custom)"),
    )
    assert find_duplicate("lead-9", normalized_lead(email="kari@nord.no"), idx).duplicate is None


def test_contact_with_same_phone_is_a_duplicate() -> None:
    idx = index_of(contact("003A", "001A", "x@y.no", phone="+47 22 33 44 55", owner_id="005C"))
    d = find_duplicate("lead-9", normalized_lead(phone_e164="+4722334455"), idx)
    assert d.duplicate is not None
    assert (d.duplicate.object, d.duplicate.matched_on, d.duplicate.owner_id) == ("Contact", "phone", "005C")


def test_email_beats_phone_and_lead_beats_contact_then_most_recent() -> None:
    old, new = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)
    idx = index_of(
        sf_lead("00QP", "other@nord.no", phone="+4722334455", system_modstamp=new),
        contact("003E", "001A", "kari@nord.no", system_modstamp=new),
        sf_lead("00QOLD", "kari@nord.no", system_modstamp=old),
        sf_lead("00QNEW", "kari@nord.no", system_modstamp=new),
    )
    d = find_duplicate("lead-9", normalized_lead(email="kari@nord.no", phone_e164="+4722334455"), idx)
    assert d.duplicate is not None and d.duplicate.record_id == "00QNEW"
    assert d.others == 3
    idx.remove("Lead", "00QNEW")
    idx.remove("Lead", "00QOLD")
    d2 = find_duplicate("lead-9", normalized_lead(email="kari@nord.no", phone_e164="+4722334455"), idx)
    assert d2.duplicate is not None and (d2.duplicate.object, d2.duplicate.matched_on) == ("Contact", "email")


def test_the_leads_own_salesforce_record_is_not_its_duplicate() -> None:
    idx = index_of(sf_lead("00QA", "kari@nord.no", leadflow_id="lead-9"))
    assert find_duplicate("lead-9", normalized_lead(email="kari@nord.no"), idx).duplicate is None
    assert find_duplicate("lead-10", normalized_lead(email="kari@nord.no"), idx).duplicate is not None


def test_lead_closing_leaves_the_duplicate_index() -> None:
    idx = index_of(sf_lead("00QA", "kari@nord.no"))
    idx.apply(sf_lead("00QA", "kari@nord.no", status="Closed - Converted", is_converted=True))
    assert find_duplicate("lead-9", normalized_lead(email="kari@nord.no"), idx).duplicate is None
    assert "00QA" in idx.leads


# ---- client types -----------------------------------------------------------------------------------
CT = POLICY.client_type


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"overdue_debt": True, "key_account": True, "client_type": "Key Account"}, ClientType.CREDIT_HOLD),
        ({"key_account": True, "client_type": "Dormant", "last_activity": date(2020, 1, 1)}, ClientType.KEY_ACCOUNT),
        ({"client_type": "Key Account"}, ClientType.KEY_ACCOUNT),
        ({"client_type": "Dormant", "last_activity": date(2025, 12, 1)}, ClientType.DORMANT),
        ({"client_type": "Regional", "last_activity": date(2024, 12, 1)}, ClientType.DORMANT),
        ({"client_type": "Regional", "last_activity": date(2025, 2, 1)}, ClientType.REGIONAL),
        ({"client_type": "Retail"}, ClientType.RETAIL),
        ({"client_type": "Existing Customer"}, ClientType.EXISTING_CUSTOMER),
        ({"client_type": None, "type": "Customer - Direct"}, ClientType.EXISTING_CUSTOMER),
        ({"client_type": "New", "type": "Prospect"}, ClientType.NEW),
        ({"client_type": None, "type": None}, ClientType.EXISTING_CUSTOMER),
        ({"client_type": None, "type": None, "owner_id": None}, ClientType.NEW),
    ],
)
def test_client_type_precedence(fields: dict, expected: ClientType) -> None:
    decision = classify(account("001A", "Nord AS", **fields), ON, CT)
    assert decision.client_type is expected
    assert "001A" in decision.reason


def test_no_account_is_new() -> None:
    assert classify(None, ON, CT).client_type is ClientType.NEW


def test_dormancy_is_measured_from_the_lead_date_and_is_configurable() -> None:
    acc = account("001A", "Nord AS", client_type="Existing Customer", last_activity=date(2025, 1, 6))
    assert classify(acc, date(2026, 1, 5), CT).client_type is ClientType.EXISTING_CUSTOMER  # 11 months
    assert classify(acc, date(2026, 1, 6), CT).client_type is ClientType.DORMANT  # 12 months
    six = ClientTypePolicy(dormant_after_months=6)
    assert classify(acc, date(2025, 7, 6), six).client_type is ClientType.DORMANT
    off = ClientTypePolicy(dormant_after_months=0)
    assert classify(acc, date(2030, 1, 1), off).client_type is ClientType.EXISTING_CUSTOMER
