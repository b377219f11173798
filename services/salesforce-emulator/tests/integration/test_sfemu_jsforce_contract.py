"""Contract tests with a second client library: jsforce 3 (Node), one per endpoint that real clients call
by default. Shapes are checked against Salesforce's documented answers, so the emulator is never shaped
by simple-salesforce's habits alone. jsforce is npm-installed into a cache outside the repository
(conftest.ensure_jsforce); without Node/npm or the npm registry these tests skip with the reason.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

pytestmark = pytest.mark.integration


def _leads(sf: Salesforce, rows: list[dict[str, Any]]) -> list[str]:
    out = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": [{"attributes": {"type": "Lead"}, **r} for r in rows]},
    )
    assert all(r["success"] for r in out), out
    return [r["id"] for r in out]


# ---- SOAP logout ------------------------------------------------------------------------------------
def test_logout_ends_the_session_and_a_stale_token_is_refused(jsforce: Any) -> None:
    result = jsforce("logoutThenUse")
    assert result == {"staleWorked": False, "errorCode": "INVALID_SESSION_ID"}


# ---- identity service and version root -----------------------------------------------------------------
def test_identity_from_the_version_root_names_the_logged_in_user(jsforce: Any, emu) -> None:
    result = jsforce("identity")
    ident, login = result["identity"], result["login"]
    assert ident["user_id"] == login["id"] and ident["organization_id"] == login["organizationId"]
    assert ident["username"] == emu.username and ident["active"] is True
    assert ident["id"] == f"{emu.url}/id/{login['organizationId']}/{login['id']}"
    # documented: without ?version the URLs carry the literal {version}
    assert ident["urls"]["rest"] == f"{emu.url}/services/data/v{{version}}/"
    assert ident["urls"]["partner"].startswith(f"{emu.url}/services/Soap/u/{{version}}/")


def test_identity_url_needs_a_valid_token_and_honours_version(emu, sf: Salesforce) -> None:
    http = requests.Session()
    http.trust_env, http.verify = False, str(emu.ca_path)
    root = sf.restful("")
    ident_url = root["identity"]
    assert http.get(ident_url, timeout=10).status_code == 403
    assert http.get(ident_url, params={"oauth_token": "bogus"}, timeout=10).status_code == 403
    good = http.get(ident_url, params={"oauth_token": sf.session_id, "version": "latest"}, timeout=10)
    assert good.status_code == 200
    assert good.json()["urls"]["rest"] == f"{emu.url}/services/data/v59.0/"


def test_userinfo_is_the_openid_connect_view_of_the_same_user(jsforce: Any) -> None:
    result = jsforce("userinfo")
    info, login = result["userinfo"], result["login"]
    assert info["user_id"] == login["id"] and info["organization_id"] == login["organizationId"]
    assert info["sub"].endswith(f"/id/{login['organizationId']}/{login['id']}")
    assert {"preferred_username", "email", "name", "zoneinfo", "locale"} <= set(info)


def test_version_root_lists_only_resources_that_answer(jsforce: Any, sf: Salesforce) -> None:
    root = jsforce("versionRoot")["root"]
    assert {"sobjects", "query", "search", "recent", "limits", "identity"} <= set(root)
    for name, path in root.items():
        if name in ("identity", "composite", "jobs", "query", "queryAll", "search"):
            continue  # these need a body or parameters; identity is checked above
        status = sf.session.get(f"https://{sf.sf_instance}{path}", headers=sf.headers, timeout=10).status_code
        assert status == 200, (name, path, status)


# ---- SOQL: HAVING and semi-joins --------------------------------------------------------------------------
def test_having_keeps_only_groups_that_pass(jsforce: Any, sf: Salesforce) -> None:
    companies = ["Acme"] * 3 + ["Globex"] * 2 + ["Initech"]
    _leads(sf, [{"LastName": f"L{i}", "Company": c} for i, c in enumerate(companies)])
    result = jsforce(
        "query", soql="SELECT Company, COUNT(Id) n FROM Lead GROUP BY Company HAVING COUNT(Id) > 1 ORDER BY Company"
    )
    assert [(r["Company"], r["n"]) for r in result["records"]] == [("Acme", 3), ("Globex", 2)]
    assert all(r["attributes"]["type"] == "AggregateResult" for r in result["records"])
    grouped = jsforce(
        "query",
        soql="SELECT Company, COUNT(Id) n FROM Lead GROUP BY Company HAVING Company != 'Acme' AND COUNT(Id) >= 1",
    )
    assert sorted(r["Company"] for r in grouped["records"]) == ["Globex", "Initech"]
    with pytest.raises(Exception) as refused:
        jsforce("query", soql="SELECT Company FROM Lead HAVING COUNT(Id) > 1")
    assert getattr(refused.value, "error_code", None) == "MALFORMED_QUERY"


@pytest.mark.parametrize("op", ["IN", "NOT IN"])
def test_semi_and_anti_join_split_leads_by_their_tasks(jsforce: Any, sf: Salesforce, op: str) -> None:
    ids = _leads(sf, [{"LastName": f"S{i}", "Company": "Acme"} for i in range(5)])
    with_task = set(ids[:2])
    for lead_id in with_task:
        sf.Task.create({"WhoId": lead_id, "Subject": "Call"})
    result = jsforce("query", soql=f"SELECT Id FROM Lead WHERE Id {op} (SELECT WhoId FROM Task WHERE Subject = 'Call')")
    got = {r["Id"] for r in result["records"]}
    assert got == (with_task if op == "IN" else set(ids) - with_task)
    with pytest.raises(Exception) as refused:
        jsforce("query", soql="SELECT Id FROM Lead WHERE Company IN (SELECT Subject FROM Task)")
    assert getattr(refused.value, "error_code", None) == "MALFORMED_QUERY"


# ---- /recent and SOSL /search --------------------------------------------------------------------------------
def test_recent_lists_newest_first_with_the_documented_shape(jsforce: Any, sf: Salesforce, emu) -> None:
    first = _leads(sf, [{"LastName": "Older", "Company": "Acme"}])
    emu.set_clock(advanceSeconds=60)
    second = _leads(sf, [{"LastName": "Newer", "Company": "Acme"}])
    items = jsforce("recent", limit=1)
    assert items == [
        {
            "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{second[0]}"},
            "Id": second[0],
            "Name": "Newer",
        }
    ]
    assert [i["Id"] for i in jsforce("recent", limit=10)][:2] == [second[0], first[0]]


def test_sosl_finds_words_emails_and_respects_returning(jsforce: Any, sf: Salesforce) -> None:
    ids = _leads(
        sf,
        [
            {
                "LastName": "Zöllner",
                "FirstName": "Anna",
                "Company": "Nordlicht GmbH",
                "Email": "anna@nordlicht.example",
            },
            {"LastName": "Smith", "Company": "Acme", "Email": "js@acme.example"},
        ],
    )
    account = sf.Account.create({"Name": "Nordlicht Holding"})["id"]
    found = jsforce("search", sosl="FIND {Nordlicht} IN ALL FIELDS RETURNING Lead(Id, LastName), Account(Id, Name)")
    by_type = Counter(r["attributes"]["type"] for r in found["searchRecords"])
    assert by_type == {"Lead": 1, "Account": 1}
    lead = next(r for r in found["searchRecords"] if r["attributes"]["type"] == "Lead")
    assert lead == {
        "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{ids[0]}"},
        "Id": ids[0],
        "LastName": "Zöllner",
    }
    assert {r["Id"] for r in found["searchRecords"]} == {ids[0], account}
    by_mail = jsforce("search", sosl="FIND {js@acme.example} IN EMAIL FIELDS RETURNING Lead")
    assert [r["Id"] for r in by_mail["searchRecords"]] == [ids[1]]
    wildcard = jsforce("search", sosl="FIND {Nord*} RETURNING Lead(Id WHERE Company LIKE 'Nord%')")
    assert [r["Id"] for r in wildcard["searchRecords"]] == [ids[0]]
    assert jsforce("search", sosl="FIND {nobody} RETURNING Lead, Contact, Account") == {"searchRecords": []}
    with pytest.raises(Exception) as refused:
        jsforce("search", sosl="SELECT Id FROM Lead")
    assert getattr(refused.value, "error_code", None) == "MALFORMED_SEARCH"


# ---- Bulk API 1.0 -----------------------------------------------------------------------------------------
def test_bulk_v1_insert_update_upsert_delete_and_query(jsforce: Any, sf: Salesforce) -> None:
    rows = [{"LastName": f"Bulk{i}", "Company": "Acme", "Leadflow_Id__c": f"lf-{i}"} for i in range(250)]
    rows.append({"LastName": "NoCompany"})  # refused record: the others still land
    inserted = jsforce("bulkLoad", sobject="Lead", operation="insert", records=rows)
    assert len(inserted) == 251
    assert [r["success"] for r in inserted] == [True] * 250 + [False]
    assert "REQUIRED_FIELD_MISSING" in inserted[-1]["errors"][0]
    ids = [r["id"] for r in inserted[:250]]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 250

    updated = jsforce(
        "bulkLoad", sobject="Lead", operation="update", records=[{"Id": i, "Company": "Globex"} for i in ids[:10]]
    )
    assert all(r["success"] and not r["created"] for r in updated)
    upserted = jsforce(
        "bulkLoad",
        sobject="Lead",
        operation="upsert",
        extIdField="Leadflow_Id__c",
        records=[
            {"Leadflow_Id__c": "lf-0", "LastName": "Bulk0", "Company": "Initech"},
            {"Leadflow_Id__c": "lf-new", "LastName": "N", "Company": "C"},
        ],
    )
    assert [(r["success"], r["created"]) for r in upserted] == [(True, False), (True, True)]
    assert upserted[0]["id"] == ids[0]
    deleted = jsforce("bulkLoad", sobject="Lead", operation="delete", records=[{"Id": i} for i in ids[-5:]])
    assert all(r["success"] for r in deleted)

    records = jsforce("bulkQuery", soql="SELECT Id, LastName, Company FROM Lead WHERE Company = 'Globex'")
    assert sorted(r["Id"] for r in records) == sorted(ids[1:10])
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 250 - 5 + 1
    assert sf.query(f"SELECT Company FROM Lead WHERE Id = '{ids[0]}'")["records"][0]["Company"] == "Initech"


def test_bulk_v1_json_batches_as_simple_salesforce_sends_them(sf: Salesforce) -> None:
    created = sf.bulk.Lead.insert([{"LastName": "J1", "Company": "C"}, {"LastName": "J2"}], batch_size=10)
    assert [r["success"] for r in created] == [True, False]
    assert created[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    rows = sf.bulk.Lead.query("SELECT Id, LastName, CreatedDate FROM Lead")
    assert [r["LastName"] for r in rows] == ["J1"]
    assert isinstance(rows[0]["CreatedDate"], int)  # Bulk 1.0 JSON datetimes are epoch milliseconds


def test_bulk_v1_xml_batches_and_documented_errors(emu, sf: Salesforce) -> None:
    http = requests.Session()
    http.trust_env, http.verify = False, str(emu.ca_path)
    base = f"{emu.url}/services/async/59.0"
    ns = "http://www.force.com/2009/06/asyncapi/dataload"
    h = {"X-SFDC-Session": sf.session_id, "Content-Type": "application/xml; charset=UTF-8"}
    job = (
        f'<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="{ns}"><operation>insert</operation>'
        "<object>Lead</object><contentType>XML</contentType></jobInfo>"
    )
    r = http.post(f"{base}/job", data=job, headers=h, timeout=10)
    assert r.status_code == 201 and "<state>Open</state>" in r.text
    job_id = r.text.split("<id>")[1].split("</id>")[0]
    batch = (
        f'<sObjects xmlns="{ns}"><sObject><LastName>X1</LastName><Company>Acme</Company></sObject>'
        "<sObject><LastName>X2</LastName></sObject></sObjects>"
    )
    b = http.post(f"{base}/job/{job_id}/batch", data=batch.encode(), headers=h, timeout=10)
    assert b.status_code == 201 and "<state>Completed</state>" in b.text
    batch_id = b.text.split("<id>")[1].split("</id>")[0]
    res = http.get(f"{base}/job/{job_id}/batch/{batch_id}/result", headers=h, timeout=10)
    assert (
        res.text.count("<success>true</success>") == 1 and "<statusCode>REQUIRED_FIELD_MISSING</statusCode>" in res.text
    )
    closed = http.post(
        f"{base}/job/{job_id}", data=f'<jobInfo xmlns="{ns}"><state>Closed</state></jobInfo>', headers=h, timeout=10
    )
    assert "<state>Closed</state>" in closed.text and "<numberRecordsFailed>1</numberRecordsFailed>" in closed.text
    bad = http.post(f"{base}/job", data=job, headers={**h, "X-SFDC-Session": "nope"}, timeout=10)
    assert bad.status_code == 400 and "<exceptionCode>InvalidSessionId</exceptionCode>" in bad.text


def test_bulk_v1_csv_query_result_is_the_selected_columns(sf: Salesforce, emu) -> None:
    """A CSV job answers in XML (jobInfo, batchInfo, result-list) and returns the rows as CSV."""
    _leads(sf, [{"LastName": "Ünal", "Company": "Acme, Inc."}])
    http = requests.Session()
    http.trust_env, http.verify = False, str(emu.ca_path)
    base = f"{emu.url}/services/async/59.0"
    h = {"X-SFDC-Session": sf.session_id, "Content-Type": "application/json"}

    def tag(xml: str, name: str) -> str:
        return xml.split(f"<{name}>")[1].split(f"</{name}>")[0]

    job = http.post(f"{base}/job", json={"operation": "query", "object": "Lead", "contentType": "CSV"}, headers=h)
    assert job.status_code == 201 and job.headers["content-type"].startswith("application/xml")
    job_id = tag(job.text, "id")
    batch = http.post(
        f"{base}/job/{job_id}/batch",
        data="SELECT LastName, Company FROM Lead",
        headers={**h, "Content-Type": "text/csv"},
    )
    batch_id = tag(batch.text, "id")
    listing = http.get(f"{base}/job/{job_id}/batch/{batch_id}/result", headers=h).text
    assert listing.count("<result>") == 1
    body = http.get(f"{base}/job/{job_id}/batch/{batch_id}/result/{tag(listing, 'result')}", headers=h).text
    assert list(csv.reader(io.StringIO(body))) == [["LastName", "Company"], ["Ünal", "Acme, Inc."]]
