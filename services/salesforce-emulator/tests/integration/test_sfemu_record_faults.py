"""Per-record faults inside a 200 sObject Collections response, and what the org refuses on Lead.Email."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_salesforce.testing import EmulatorHandle
from simple_salesforce import Salesforce

pytestmark = pytest.mark.integration

UPSERT = "composite/sobjects/Lead/Leadflow_Id__c"


def _lead(i: int, **extra: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "Leadflow_Id__c": f"rf-{i}", "LastName": f"L{i}", "Company": "C", **extra}


def _upsert(sf: Salesforce, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sf.restful(UPSERT, method="PATCH", json={"allOrNone": False, "records": records})  # type: ignore[no-any-return]


def test_a_record_fault_fails_only_the_matching_records(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.add_fault(
        kind="record",
        path="*/composite/sobjects*",
        record_match={"Email": "*@refused.example"},
        statusCode="INVALID_EMAIL_ADDRESS",
        fields=["Email"],
        message="Email: invalid email address",
    )
    records = [_lead(i, Email=f"p{i}@{'refused' if i % 3 == 0 else 'ok'}.example") for i in range(9)]
    out = _upsert(sf, records)
    assert len(out) == 9
    for i, res in enumerate(out):
        if i % 3 == 0:
            assert res["success"] is False
            assert res["errors"] == [
                {"statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address", "fields": ["Email"]}
            ]
        else:
            assert res["success"] is True and res["created"] is True
    stored = sf.query("SELECT Leadflow_Id__c FROM Lead WHERE Leadflow_Id__c LIKE 'rf-%'")["records"]
    assert sorted(r["Leadflow_Id__c"] for r in stored) == sorted(f"rf-{i}" for i in range(9) if i % 3)
    # The same record without the refused value goes through: the rule matches values, not records.
    again = _upsert(sf, [_lead(0, Email="p0@ok.example")])
    assert again[0]["success"] is True


def test_record_fault_by_index_times_and_after_n(emu: EmulatorHandle, sf: Salesforce) -> None:
    fault = emu.add_fault(
        kind="record", record_index=1, after_n=1, times=1, statusCode="STRING_TOO_LONG", fields=["Company"]
    )
    assert fault["status_code"] == "STRING_TOO_LONG"
    first = _upsert(sf, [_lead(10), _lead(11)])  # index 1 seen once (after_n) → written
    assert [r["success"] for r in first] == [True, True]
    second = _upsert(sf, [_lead(12), _lead(13)])
    assert [r["success"] for r in second] == [True, False]
    assert second[1]["errors"][0]["fields"] == ["Company"]
    third = _upsert(sf, [_lead(14), _lead(15)])  # times=1: the rule is gone
    assert [r["success"] for r in third] == [True, True]
    assert emu.control("GET", "faults")["faults"] == []


def test_record_fault_on_update_and_all_or_none(emu: EmulatorHandle, sf: Salesforce) -> None:
    ids = [r["id"] for r in _upsert(sf, [_lead(20), _lead(21)])]
    emu.add_fault(
        kind="record", record_match={"Title": "CEO"}, statusCode="FIELD_CUSTOM_VALIDATION_EXCEPTION", fields=["Title"]
    )
    out = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Lead"}, "Id": ids[0], "Title": "CTO"},
                {"attributes": {"type": "Lead"}, "Id": ids[1], "Title": "CEO"},
            ],
        },
    )
    assert out[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert out[1]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert sf.Lead.get(ids[0])["Title"] is None


def test_record_faults_do_not_fail_whole_requests(emu: EmulatorHandle, sf: Salesforce) -> None:
    emu.add_fault(kind="record", path="*", statusCode="INVALID_TYPE_ON_FIELD_IN_RECORD", fields=["Phone"])
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] >= 0  # not a Collections write: untouched
    out = _upsert(sf, [_lead(30)])
    assert out[0]["errors"][0]["statusCode"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"


def test_bad_record_fault_specs_are_refused(emu: EmulatorHandle) -> None:
    for body in ({"kind": "record", "record_index": -1}, {"kind": "record", "statusCode": ""}):
        with pytest.raises(requests.HTTPError) as ei:
            emu.control("POST", "faults", body)
        assert ei.value.response.status_code == 400, body


# ---- Lead.Email: what a real org refuses ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("not-an-email", "INVALID_EMAIL_ADDRESS"),
        ("a@b", "INVALID_EMAIL_ADDRESS"),
        ("two@@example.com", "INVALID_EMAIL_ADDRESS"),
        ("trailing@example.com\n", "INVALID_EMAIL_ADDRESS"),
        ("jürgen@example.de", "INVALID_EMAIL_ADDRESS"),
        ("kari@bedrift.økonomi.no", "INVALID_EMAIL_ADDRESS"),
        ("x" * 70 + "@example.com", "STRING_TOO_LONG"),
    ],
)
def test_lead_email_refusals(emu: EmulatorHandle, sf: Salesforce, email: str, code: str) -> None:
    out = _upsert(sf, [_lead(40, Email=email)])
    assert out[0]["success"] is False
    assert out[0]["errors"][0]["statusCode"] == code and out[0]["errors"][0]["fields"] == ["Email"]


def test_email_internationalization_accepts_unicode(emu: EmulatorHandle, sf: Salesforce) -> None:
    assert _upsert(sf, [_lead(50, Email="jürgen@example.de")])[0]["success"] is False
    assert emu.configure(emailInternationalization=True)["emailInternationalization"] is True
    out = _upsert(sf, [_lead(50, Email="jürgen@example.de"), _lead(51, Email="kari@bedrift.økonomi.no")])
    assert [r["success"] for r in out] == [True, True]
    assert _upsert(sf, [_lead(52, Email="no-at-sign.example")])[0]["success"] is False
    emu.reset()
    assert emu.control("GET", "settings")["emailInternationalization"] is False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-+", min_size=1, max_size=90))
def test_email_length_boundary(emu: EmulatorHandle, sf: Salesforce, local: str) -> None:
    email = f"{local}@ex.io"
    out = _upsert(sf, [_lead(60, Email=email)])[0]
    if len(email) > 80:
        assert out["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    else:
        assert out["success"] is True
