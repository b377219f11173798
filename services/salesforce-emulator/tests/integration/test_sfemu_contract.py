"""Contract tests: only the public simple-salesforce API, over real HTTPS, against the emulator server."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import requests
from leadflow_salesforce import LeadConvert, connect, convert_leads
from leadflow_salesforce.client import build_session
from leadflow_salesforce.testing import EmulatorHandle
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

pytestmark = pytest.mark.integration


def new_lead(sf: Salesforce, **extra: object) -> str:
    return sf.Lead.create({"LastName": "Nordmann", "Company": "Fjord AS", **extra})["id"]


# ---- logins ---------------------------------------------------------------------------------------------
def test_soap_login_and_instance(emu: EmulatorHandle, sf: Salesforce) -> None:
    assert sf.sf_instance == emu.url.removeprefix("https://")
    assert sf.session.verify == str(emu.ca_path) and sf.session.trust_env is False


@pytest.mark.parametrize("mode", ["oauth_password", "client_credentials"])
def test_oauth_logins(emu: EmulatorHandle, mode: str) -> None:
    domain = "leadflow" if mode == "client_credentials" else "login"
    sf = connect(emu.salesforce_settings(auth=mode, domain=domain))
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 1


def test_jwt_bearer_login(emu: EmulatorHandle, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    sf = connect(emu.salesforce_settings(auth="jwt", private_key_file=pem))
    assert sf.query("SELECT Id FROM User")["totalSize"] >= 1


def test_session_id_login(emu: EmulatorHandle, sf: Salesforce) -> None:
    direct = connect(emu.salesforce_settings(auth="session_id", session_id=sf.session_id))
    assert direct.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_bad_password_is_invalid_login(emu: EmulatorHandle) -> None:
    from pydantic import SecretStr

    with pytest.raises(SalesforceAuthenticationFailed) as ei:
        connect(emu.salesforce_settings(password=SecretStr("wrong")))
    assert ei.value.code == "INVALID_LOGIN"


def test_revoked_session_relogs_in_transparently(emu: EmulatorHandle, sf: Salesforce) -> None:
    old = sf.session_id
    assert emu.revoke_sessions() >= 1
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0  # 401 -> re-login -> retry
    assert sf.session_id != old
    new_lead(sf)  # SFType path re-logs in too
    emu.revoke_sessions()
    assert sf.Lead.create({"LastName": "A", "Company": "B"})["success"] is True


def test_expired_session_after_clock_moves(emu: EmulatorHandle, sf: Salesforce) -> None:
    direct = connect(emu.salesforce_settings(auth="session_id", session_id=sf.session_id))
    emu.set_clock(advanceSeconds=3 * 3600)
    with pytest.raises(SalesforceExpiredSession) as ei:
        direct.query("SELECT Id FROM Lead")
    assert ei.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0  # password mode logs in again


def test_session_revocation_fault_on_one_path(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.add_fault(kind="INVALID_SESSION_ID", path="*/sobjects/Lead*", times=1)
    assert new_lead(sf)


# ---- sObjects -------------------------------------------------------------------------------------------
def test_create_get_update_delete(sf: Salesforce) -> None:
    res = sf.Lead.create({"LastName": "Nordmann", "Company": "Fjord AS", "Email": "ola@fjord.no", "Score__c": 71.5})
    assert res == {"id": res["id"], "success": True, "errors": []}
    rid = res["id"]
    assert len(rid) == 18 and rid.startswith("00Q")
    rec = sf.Lead.get(rid)
    assert rec["attributes"] == {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{rid}"}
    assert rec["Status"] == "Open - Not Contacted" and rec["Score__c"] == 71.5 and rec["Description"] is None
    assert rec["Name"] == "Nordmann" and rec["IsConverted"] is False
    assert rec["CreatedDate"].endswith("+0000") and len(rec["CreatedDate"]) == 28
    assert sf.Lead.get(rid[:15])["Id"] == rid
    assert sf.Lead.update(rid, {"Status": "Working - Contacted", "FirstName": "Ola"}) == 204
    after = sf.Lead.get(rid)
    assert after["Name"] == "Ola Nordmann" and after["SystemModstamp"] > rec["SystemModstamp"]
    assert sf.Lead.delete(rid) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(rid)
    with pytest.raises(SalesforceResourceNotFound) as ei:
        sf.Lead.update(rid, {"LastName": "x"})
    assert ei.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    assert sf.query_all("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True)["totalSize"] == 1


def test_get_with_fields_param(sf: Salesforce) -> None:
    rid = new_lead(sf)
    rec = sf.Lead.get(rid, params={"fields": "LastName,company"})
    assert list(rec) == ["attributes", "Id", "LastName", "Company"]


def test_upsert_created_updated_and_bad_field(sf: Salesforce) -> None:
    r = sf.Lead.upsert("Leadflow_Id__c/lf-1", {"LastName": "A", "Company": "B"}, raw_response=True)
    assert r.status_code == 201 and r.json()["created"] is True
    r2 = sf.Lead.upsert("Leadflow_Id__c/lf-1", {"LastName": "C"}, raw_response=True)
    assert r2.status_code == 200 and r2.json() == {
        "id": r.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert sf.Lead.get_by_custom_id("Leadflow_Id__c", "lf-1")["LastName"] == "C"
    with pytest.raises(SalesforceResourceNotFound) as ei:
        sf.Lead.upsert("Company/x", {"LastName": "A"})
    assert ei.value.content[0]["message"] == "Provided external ID field does not exist or is not accessible: Company"


def test_upsert_with_several_matches_is_300(sf: Salesforce) -> None:
    sf.Account.create({"Name": "One", "External_Ref__c": "ERP-1"})
    sf.Account.create({"Name": "Two", "External_Ref__c": "ERP-1"})
    with pytest.raises(SalesforceMoreThanOneRecord) as ei:
        sf.Account.upsert("External_Ref__c/ERP-1", {"Name": "Three"})
    assert len(ei.value.content) == 2 and ei.value.content[0].startswith("/services/data/v59.0/sobjects/Account/")


@pytest.mark.parametrize(
    "values, code",
    [
        ({"LastName": "x"}, "REQUIRED_FIELD_MISSING"),
        ({"LastName": "x", "Company": "c" * 256}, "STRING_TOO_LONG"),
        ({"LastName": "x", "Company": "c", "Status": "Bogus"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"LastName": "x", "Company": "c", "IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"LastName": "x", "Company": "c", "Nope__c": 1}, "INVALID_FIELD"),
        ({"LastName": "x", "Company": "c", "OwnerId": "005xyz"}, "MALFORMED_ID"),
        ({"LastName": "x", "Company": "c", "Matched_Account__c": "001000000000999AAA"}, "INVALID_CROSS_REFERENCE_KEY"),
    ],
)
def test_create_errors(sf: Salesforce, values: dict, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as ei:
        sf.Lead.create(values)
    err = ei.value.content[0]
    assert err["errorCode"] == code and err["message"]


def test_unknown_sobject_is_404(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as ei:
        sf.Leads.create({"LastName": "x"})
    assert ei.value.content[0]["errorCode"] == "NOT_FOUND"


def test_describe_and_global_describe(sf: Salesforce) -> None:
    d = sf.Lead.describe()
    fields = {f["name"]: f for f in d["fields"]}
    assert d["keyPrefix"] == "00Q"
    assert fields["Leadflow_Id__c"]["externalId"] is True and fields["Leadflow_Id__c"]["unique"] is True
    assert fields["SLA_Status__c"]["restrictedPicklist"] is True
    assert [p["value"] for p in fields["SLA_Status__c"]["picklistValues"]] == ["On Track", "Warning", "Breached", "Met"]
    assert fields["OwnerId"]["referenceTo"] == ["Group", "User"]
    assert fields["IsConverted"]["createable"] is False
    g = sf.describe()
    assert g["maxBatchSize"] == 200 and {"Lead", "Account", "User", "Group", "Task"} <= {
        s["name"] for s in g["sobjects"]
    }
    assert sf.Lead.metadata()["objectDescribe"]["name"] == "Lead"


def test_updated_and_deleted_windows(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.set_clock(now="2024-05-01T10:00:30Z", freeze=True)
    a, b = new_lead(sf), new_lead(sf)
    sf.Lead.delete(b)
    emu.set_clock(now="2024-05-01T10:05:00Z", freeze=True)
    start = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    end = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    up = sf.Lead.updated(start, end)
    assert up["ids"] == [a] and up["latestDateCovered"] == "2024-05-01T10:05:00.000+0000"
    de = sf.Lead.deleted(start, end)
    assert [d["id"] for d in de["deletedRecords"]] == [b]


def test_limits_and_header(sf: Salesforce) -> None:
    lim = sf.limits()
    assert lim["DailyApiRequests"]["Max"] == 1_000_000
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].total == 1_000_000 and sf.api_usage["api-usage"].used >= 2


def test_daily_allocation_enforced(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.configure(dailyApiLimit=5, apiUsage=5)
    with pytest.raises(SalesforceRefusedRequest) as ei:
        sf.query("SELECT Id FROM Lead")
    assert ei.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_duplicate_rule(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.configure(duplicateRule=True)
    new_lead(sf, Email="dup@x.no")
    with pytest.raises(SalesforceMalformedRequest) as ei:
        new_lead(sf, Email="DUP@x.no")
    err = ei.value.content[0]
    assert err["errorCode"] == "DUPLICATES_DETECTED"
    assert err["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"].startswith("00Q")
    res = sf.Lead.create(
        {"LastName": "A", "Company": "B", "Email": "dup@x.no"},
        headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )
    assert res["success"]


def test_converted_lead_refuses_edits(sf: Salesforce) -> None:
    rid = new_lead(sf)
    [res] = convert_leads(sf, [LeadConvert(lead_id=rid, do_not_create_opportunity=True)])
    assert res.success and res.opportunity_id is None
    with pytest.raises(SalesforceMalformedRequest) as ei:
        sf.Lead.update(rid, {"LastName": "x"})
    assert ei.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


# ---- convertLead ----------------------------------------------------------------------------------------
def test_convert_lead_new_and_existing_account(sf: Salesforce) -> None:
    task_lead = new_lead(sf, Email="c@fjord.no", LeadSource="Web")
    sf.Task.create({"WhoId": task_lead, "Subject": "Call back"})
    acc = sf.Account.create({"Name": "Existing AS"})["id"]
    other = new_lead(sf)
    results = convert_leads(
        sf,
        [
            LeadConvert(lead_id=task_lead, opportunity_name="Fjord deal"),
            LeadConvert(lead_id=other, account_id=acc, do_not_create_opportunity=True),
            LeadConvert(lead_id=task_lead),
        ],
    )
    first, second, again = results
    assert first.success and first.account_id and first.contact_id and first.opportunity_id
    lead = sf.Lead.get(task_lead)
    assert lead["IsConverted"] is True and lead["ConvertedContactId"] == first.contact_id
    assert lead["Status"] == "Closed - Converted"
    assert sf.Contact.get(first.contact_id)["Email"] == "c@fjord.no"
    assert sf.Opportunity.get(first.opportunity_id)["Name"] == "Fjord deal"
    task = sf.query("SELECT WhoId FROM Task")["records"][0]
    assert task["WhoId"] == first.contact_id
    assert second.success and second.account_id == acc
    assert not again.success and again.errors[0].status_code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_convert_lead_bad_status_and_session_relogin(emu: EmulatorHandle, sf: Salesforce) -> None:
    rid = new_lead(sf)
    [bad] = convert_leads(sf, [LeadConvert(lead_id=rid, converted_status="Working - Contacted")])
    assert not bad.success and bad.errors[0].status_code == "INVALID_STATUS"
    emu.revoke_sessions()
    [ok] = convert_leads(sf, [LeadConvert(lead_id=rid)])
    assert ok.success


# ---- SOQL over HTTP -------------------------------------------------------------------------------------
def test_query_paging_and_batch_size(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Lead"}, "LastName": f"L{i}", "Company": "C"} for i in range(200)]
    for _ in range(3):
        sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    first = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=250"})
    assert first["totalSize"] == 600 and first["done"] is False and len(first["records"]) == 250
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 250
    all_ids = [r["Id"] for r in sf.query_all_iter("SELECT Id FROM Lead ORDER BY Id")]
    assert len(set(all_ids)) == 600 and all_ids == sorted(all_ids)


def test_query_errors_and_escapes(sf: Salesforce) -> None:
    new_lead(sf, LastName="O'Neil \\ backslash")
    q = format_soql("SELECT LastName FROM Lead WHERE LastName = {}", "O'Neil \\ backslash")
    assert sf.query(q)["totalSize"] == 1
    for bad, code in [
        ("SELECT Id FROM Leads", "INVALID_TYPE"),
        ("SELECT Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE LastName = 'x", "MALFORMED_QUERY"),
    ]:
        with pytest.raises(SalesforceMalformedRequest) as ei:
            sf.query(bad)
        assert ei.value.content[0]["errorCode"] == code


def test_datetime_cursor_query_like_a_poller(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.set_clock(now="2024-05-01T10:00:00Z", freeze=True)
    new_lead(sf)
    emu.set_clock(advanceSeconds=60)
    b = new_lead(sf)
    cursor = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)
    q = format_soql("SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp > {} ORDER BY SystemModstamp, Id", cursor)
    res = sf.query(q)
    assert [r["Id"] for r in res["records"]] == [b]
    assert sf.query("SELECT COUNT() FROM Lead WHERE CreatedDate = TODAY")["totalSize"] == 2


# ---- collections and composite ------------------------------------------------------------------------
def test_collections_create_update_delete_get(sf: Salesforce) -> None:
    recs = [
        {"attributes": {"type": "Lead"}, "LastName": "A", "Company": "C"},
        {"attributes": {"type": "Lead"}, "LastName": "B"},
    ]
    res = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": recs})
    assert res[0]["success"] is True
    assert res[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [Company]",
                "fields": ["Company"],
            }
        ],
    }
    rid = res[0]["id"]
    upd = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "Id": rid, "Rating": "Hot"}]},
    )
    assert upd == [{"id": rid, "success": True, "errors": []}]
    got = sf.restful("composite/sobjects/Lead", params={"ids": rid, "fields": "Rating"})
    assert got[0]["Rating"] == "Hot"
    dele = sf.restful("composite/sobjects", method="DELETE", params={"ids": rid, "allOrNone": "false"})
    assert dele == [{"id": rid, "success": True, "errors": []}]


def test_collections_all_or_none_rolls_back(sf: Salesforce) -> None:
    recs = [
        {"attributes": {"type": "Lead"}, "LastName": "A", "Company": "C"},
        {"attributes": {"type": "Lead"}, "LastName": "B", "Status": "Bad"},
    ]
    res = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": recs})
    assert res[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert res[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_collections_upsert_by_external_id(sf: Salesforce) -> None:
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Lead"}, "Leadflow_Id__c": "a", "LastName": "A", "Company": "C"},
            {"attributes": {"type": "Lead"}, "Leadflow_Id__c": "b", "LastName": "B", "Company": "C"},
        ],
    }
    first = sf.restful("composite/sobjects/Lead/Leadflow_Id__c", method="PATCH", json=body)
    assert [r["created"] for r in first] == [True, True]
    second = sf.restful("composite/sobjects/Lead/Leadflow_Id__c", method="PATCH", json=body)
    assert [r["created"] for r in second] == [False, False] and [r["id"] for r in second] == [r["id"] for r in first]
    dup = {"records": [body["records"][0], body["records"][0]]}
    res = sf.restful("composite/sobjects/Lead/Leadflow_Id__c", method="PATCH", json=dup)
    assert {r["errors"][0]["statusCode"] for r in res} == {"DUPLICATE_EXTERNAL_ID"}


def test_collections_too_many_records(sf: Salesforce) -> None:
    recs = [{"attributes": {"type": "Lead"}, "LastName": "A", "Company": "C"}] * 201
    with pytest.raises(SalesforceMalformedRequest) as ei:
        sf.restful("composite/sobjects", method="POST", json={"records": recs})
    assert ei.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_composite_with_references(sf: Salesforce) -> None:
    res = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Account",
                    "referenceId": "acc",
                    "body": {"Name": "Ref AS"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Lead",
                    "referenceId": "lead",
                    "body": {"LastName": "R", "Company": "Ref AS", "Matched_Account__c": "@{acc.id}"},
                },
                {
                    "method": "GET",
                    "url": "/services/data/v59.0/sobjects/Lead/@{lead.id}?fields=Matched_Account__c",
                    "referenceId": "read",
                },
            ],
        },
    )
    items = res["compositeResponse"]
    assert [i["httpStatusCode"] for i in items] == [201, 201, 200]
    assert items[2]["body"]["Matched_Account__c"] == items[0]["body"]["id"]
    assert items[0]["httpHeaders"]["Location"].endswith(items[0]["body"]["id"])


def test_composite_all_or_none_halts(sf: Salesforce) -> None:
    res = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Account",
                    "referenceId": "acc",
                    "body": {"Name": "X"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Lead",
                    "referenceId": "bad",
                    "body": {"LastName": "R"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Account",
                    "referenceId": "never",
                    "body": {"Name": "Y"},
                },
            ],
        },
    )
    items = res["compositeResponse"]
    assert items[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert items[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert items[2]["httpStatusCode"] == 400
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


# ---- Bulk 2.0 -------------------------------------------------------------------------------------------
def test_bulk2_ingest_and_results(sf: Salesforce) -> None:
    records = [{"LastName": f"B{i}", "Company": "Bulk AS", "Leadflow_Id__c": f"bk-{i}"} for i in range(50)]
    records.append({"LastName": "NoCompany", "Company": "", "Leadflow_Id__c": "bk-x"})
    res = sf.bulk2.Lead.insert(records=records, wait=0)
    assert res[0]["numberRecordsProcessed"] == 51 and res[0]["numberRecordsFailed"] == 1
    job = res[0]["job_id"]
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Lead.get_successful_records(job))))
    assert len(ok) == 50 and ok[0]["sf__Created"] == "true" and ok[0]["sf__Id"].startswith("00Q")
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Lead.get_failed_records(job))))
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING")
    up = sf.bulk2.Lead.upsert(
        records=[{"Leadflow_Id__c": "bk-1", "Rating": "Hot"}], external_id_field="Leadflow_Id__c", wait=0
    )
    assert up[0]["numberRecordsFailed"] == 0
    assert sf.Lead.get_by_custom_id("Leadflow_Id__c", "bk-1")["Rating"] == "Hot"


def test_bulk2_query_with_locators(sf: Salesforce) -> None:
    sf.bulk2.Lead.insert(records=[{"LastName": f"Q{i}", "Company": "C"} for i in range(25)], wait=0)
    pages = list(sf.bulk2.Lead.query("SELECT Id, LastName, Owner.Name FROM Lead", max_records=10, wait=0))
    assert len(pages) == 3
    rows = [r for p in pages for r in csv.DictReader(io.StringIO(p))]
    assert len(rows) == 25 and set(rows[0]) == {"Id", "LastName", "Owner.Name"}


# ---- faults, control plane, bad input -------------------------------------------------------------------
def test_injected_faults(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.add_fault(kind="UNABLE_TO_LOCK_ROW", path="*/sobjects/Lead*", times=1)
    with pytest.raises(SalesforceMalformedRequest) as ei:
        new_lead(sf)
    assert ei.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    new_lead(sf)
    emu.add_fault(kind="status", status=503, path="*/query*", times=1)
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Lead")
    emu.add_fault(kind="REQUEST_LIMIT_EXCEEDED", path="*", after_n=2, times=1)
    sf.query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceRefusedRequest):
        sf.query("SELECT Id FROM Lead")
    emu.add_fault(kind="latency", latency_ms=300, path="*/limits*", times=1)
    t = datetime.now()
    sf.limits()
    assert datetime.now() - t >= timedelta(milliseconds=290)


def test_request_log_and_counters(emu: EmulatorHandle, sf: Salesforce) -> None:
    rid = new_lead(sf)
    sf.Lead.get(rid)
    log = emu.requests_log()
    assert any(r["method"] == "GET" and r["path"].endswith(rid) and r["status"] == 200 for r in log)
    assert emu.stats()["counters"]["GET /data/v59.0/sobjects/Lead/{id}"] >= 1


def test_clock_drives_created_date(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.set_clock(now="2030-01-02T03:04:05Z", freeze=True)
    rid = new_lead(sf)
    assert sf.Lead.get(rid)["CreatedDate"] == "2030-01-02T03:04:05.000+0000"


def test_demo_fixture_seeds_a_sales_org(emu: EmulatorHandle, sf: Salesforce) -> None:
    n = emu.seed("demo")
    assert n > 500
    roles = sf.query("SELECT Role_Name__c, COUNT(Id) n FROM User GROUP BY Role_Name__c")["records"]
    counts = {r["Role_Name__c"]: r["n"] for r in roles}
    assert counts["Head of Sales"] == 1 and counts["Key Account Manager"] >= 3 and counts["Team Leader"] >= 3
    queues = sf.query("SELECT COUNT() FROM Group WHERE Type = 'Queue'")["totalSize"]
    assert queues >= 4
    key = sf.query("SELECT Id, Owner.Role_Name__c FROM Account WHERE Key_Account__c = true LIMIT 5")["records"]
    assert key and all(r["Owner"]["Role_Name__c"] == "Key Account Manager" for r in key)
    assert sf.query("SELECT COUNT() FROM Lead WHERE IsConverted = true")["totalSize"] > 0


def test_raw_http_has_limit_header(emu: EmulatorHandle, sf: Salesforce) -> None:
    s = build_session(emu.salesforce_settings())
    r = s.get(f"{emu.url}/services/data/v59.0/limits", headers={"Authorization": f"Bearer {sf.session_id}"})
    assert r.headers["Sforce-Limit-Info"].startswith("api-usage=")
    r = s.get(f"{emu.url}/services/data/v59.0/limits")
    assert r.status_code == 401 and r.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert isinstance(requests, object)
