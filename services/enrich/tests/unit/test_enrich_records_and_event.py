from datetime import UTC, date, datetime

import pytest
from leadflow_contracts import ClientType, Firmographics, LeadEnriched, MatchMethod
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.adapters.salesforce_reader import build_soql, parse_bulk_csv
from leadflow_enrich.domain.enrich import enrich, enriched_event_id
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.records import (
    AccountRecord,
    LeadRecord,
    QueueRecord,
    from_salesforce,
    merge_partial,
    object_for,
)
from leadflow_enrich.testing import T0, accepted, account, contact, sf_lead

pytestmark = pytest.mark.unit
POLICY = load_policy()


def test_account_from_bulk_csv_strings() -> None:
    csv_page = (
        '"Id","Name","Website","Phone","OwnerId","Type","Industry","NumberOfEmployees","BillingCountry",'
        '"Key_Account__c","Client_Type__c","Overdue_Debt__c","Region__c","Last_Activity_Date__c","SystemModstamp"\n'
        '"001FX","Nord AS","https://nord.no","","005A","Customer - Direct","Energy","480","Norway","true",'
        '"Key Account","false","Nordics","2025-05-01","2025-06-01T08:00:00.000Z"\n'
    )
    [raw] = parse_bulk_csv([csv_page])
    rec = from_salesforce("Account", raw)
    assert rec == AccountRecord(
        id="001FX",
        name="Nord AS",
        website="https://nord.no",
        phone=None,
        owner_id="005A",
        type="Customer - Direct",
        industry="Energy",
        employees=480,
        country="Norway",
        key_account=True,
        client_type="Key Account",
        overdue_debt=False,
        region="Nordics",
        last_activity=date(2025, 5, 1),
        system_modstamp=datetime(2025, 6, 1, 8, tzinfo=UTC),
    )


def test_lead_from_rest_json_and_partial_merge() -> None:
    rec = from_salesforce(
        "Lead",
        {
            "Id": "00QA",
            "Email": "a@b.no",
            "Status": "Open - Not Contacted",
            "IsConverted": False,
            "SystemModstamp": "2025-06-01T08:00:00.000+0000",
        },
    )
    assert isinstance(rec, LeadRecord) and rec.system_modstamp == datetime(2025, 6, 1, 8, tzinfo=UTC)
    merged = merge_partial(
        "Lead", rec, {"status": "Closed - Converted", "IsConverted": True, "SystemModstamp": "2025-06-02T08:00:00Z"}
    )
    assert isinstance(merged, LeadRecord)
    assert (merged.email, merged.status, merged.is_converted) == ("a@b.no", "Closed - Converted", True)
    with pytest.raises(ValueError, match="without Id"):
        from_salesforce("Account", {"Name": "x"})


def test_objects_and_queues() -> None:
    assert object_for("Group", {"Type": "Queue"}) == "Queue"
    assert object_for("Group", {"Type": "Regular"}) is None
    assert object_for("Task", {}) is None
    assert isinstance(from_salesforce("Queue", {"Id": "00GA", "Name": "Nordics Leads"}), QueueRecord)


def test_soql_for_full_and_incremental_reads() -> None:
    assert build_soql("Queue").endswith("FROM Group WHERE Type = 'Queue'")
    inc = build_soql("Lead", datetime(2025, 6, 1, 8, tzinfo=UTC), with_deleted=True)
    assert "IsDeleted" in inc and "WHERE SystemModstamp > 2025-06-01T08:00:00Z ORDER BY SystemModstamp, Id" in inc


def _index() -> MirrorIndex:
    idx = MirrorIndex(POLICY.free_mail_domains, POLICY.duplicates)
    idx.load(
        [
            account(
                "001K",
                "Nord Logistics AS",
                website="nordlog.no",
                key_account=True,
                client_type="Key Account",
                owner_id="005KAM",
                industry="Shipping",
                employees=480,
            ),
            contact("003K", "001K", "kari@nordlog.no", owner_id="005KAM"),
            sf_lead("00QD", "ola@nordlog.no", owner_id="005S"),
        ]
    )
    return idx


def test_enrich_builds_the_event_with_a_trace_for_each_decision() -> None:
    ev = accepted(
        "lead-1",
        event_id="acc-1",
        email="ola@nordlog.no",
        phone_e164="+4722334455",
        country="NO",
        company_name="Nord Logistics",
    )
    at = datetime(2026, 1, 5, 9, 0, 1, tzinfo=UTC)
    out = enrich(ev, _index(), POLICY, {}, at)
    assert isinstance(out, LeadEnriched)
    assert out.lead_id == "lead-1" and out.lead == ev.lead and out.occurred_at == at
    e = out.enrichment
    assert (e.match.account_id, e.match.method, e.match.key_account) == ("001K", MatchMethod.EMAIL_DOMAIN, True)
    assert e.client_type is ClientType.KEY_ACCOUNT
    assert e.duplicate_of is not None and e.duplicate_of.record_id == "00QD"
    assert e.firmographics.source == "salesforce_account" and e.firmographics.size_band == "201-500"
    assert e.timezone == "Europe/Oslo"
    assert [s.decision for s in out.trace] == [
        "account_match",
        "duplicate_check",
        "client_type",
        "firmographics",
        "timezone",
    ]
    assert all(s.service == "enrich" and s.at == at and s.reason for s in out.trace)
    assert out.trace[0].data["policy"] == POLICY.version


def test_enrich_is_deterministic_and_keeps_the_incoming_trace() -> None:
    ev = accepted("lead-2", event_id="acc-2", email="x@equinor.com", occurred_at=T0)
    ref = {
        "equinor.com": Firmographics(industry="Energy", employees=23000, size_band="10001+", source="reference_file")
    }
    a = enrich(ev, _index(), POLICY, ref, T0)
    b = enrich(ev, _index(), POLICY, ref, T0)
    assert a == b
    assert a.event_id == enriched_event_id("acc-2") != enriched_event_id("acc-3")
    assert a.enrichment.firmographics.source == "reference_file"
    assert a.enrichment.match.method is MatchMethod.NONE and a.enrichment.client_type is ClientType.NEW
