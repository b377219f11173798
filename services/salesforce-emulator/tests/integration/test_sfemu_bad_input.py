"""Bad input gets the Salesforce error, never a 500 with a Python traceback."""

from __future__ import annotations

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_salesforce.client import build_session
from leadflow_salesforce.testing import EmulatorHandle
from simple_salesforce import Salesforce

pytestmark = pytest.mark.integration


@pytest.fixture
def http(emu: EmulatorHandle, sf: Salesforce) -> tuple[requests.Session, str, dict[str, str]]:
    s = build_session(emu.salesforce_settings())
    return (
        s,
        f"{emu.url}/services/data/v59.0",
        {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"},
    )


def no_traceback(r: requests.Response) -> None:
    assert "Traceback" not in r.text and 'File "' not in r.text


@pytest.mark.parametrize(
    "body, code",
    [
        (b"{not json", "JSON_PARSER_ERROR"),
        (b"[1,2,3]", "JSON_PARSER_ERROR"),
        (b"", "JSON_PARSER_ERROR"),
        (b"\xff\xfe\x00garbage", "JSON_PARSER_ERROR"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON_PARSER_ERROR"),
        (b'{"LastName": {"nested": 1}, "Company": "x"}', "JSON_PARSER_ERROR"),
        (b'{"LastName": "x", "Company": "y", "NoSuchField__c": 1}', "INVALID_FIELD"),
        (b'{"LastName": "x", "Company": "y", "NumberOfEmployees": 1e400}', "JSON_PARSER_ERROR"),
    ],
)
def test_malformed_json_bodies(http, body: bytes, code: str) -> None:
    s, base, headers = http
    r = s.post(f"{base}/sobjects/Lead/", data=body, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()[0]["errorCode"] == code
    no_traceback(r)


def test_huge_body_is_refused(http) -> None:
    s, base, headers = http
    r = s.post(f"{base}/sobjects/Lead/", data=b'{"LastName":"' + b"x" * (21 * 1024 * 1024) + b'"}', headers=headers)
    assert r.status_code == 413 and r.json()[0]["errorCode"] == "REQUEST_TOO_LARGE"


def test_long_string_field_value(http) -> None:
    s, base, headers = http
    r = s.post(f"{base}/sobjects/Lead/", json={"LastName": "x" * 100_000, "Company": "c"}, headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "STRING_TOO_LONG"


@pytest.mark.parametrize(
    "path, status",
    [
        ("/sobjects/Nope__c/", 404),
        ("/sobjects/Lead/not-an-id", 404),
        ("/sobjects/Lead/Leadflow_Id__c/a%2Fb%20c", 404),
        ("/nope", 404),
        ("/query/01gNOPE-2000", 400),
        ("/query/?q=" + "SELECT+Id+FROM+Lead+WHERE+Name+%3D+%27%5C%27", 400),
        ("/query/?q=SELECT+Id+FROM+Lead+WHERE+Name+%3D+%27%5Cx%27", 400),
        ("/query/?q=" + "SELECT+Id" + "+%28" * 500, 400),
        ("/query/", 400),
        ("/jobs/ingest/750000000000000AAA", 404),
    ],
)
def test_bad_paths_and_queries(http, path: str, status: int) -> None:
    s, base, headers = http
    r = s.get(base + path, headers=headers)
    assert r.status_code == status, r.text
    assert isinstance(r.json(), list) and "errorCode" in r.json()[0]
    no_traceback(r)


def test_unknown_api_version(emu: EmulatorHandle, http) -> None:
    s, _, headers = http
    r = s.get(f"{emu.url}/services/data/v9.0/limits", headers=headers)
    assert r.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"<not xml",
        b"<?xml version='1.0'?><x/>",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body>&lol2;</e:Body></e:Envelope>",
        b"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body><frobnicate/></e:Body></e:Envelope>",
        b"<e:Envelope xmlns:e='http://schemas.xmlsoap.org/soap/envelope/'><e:Body><convertLead/></e:Body></e:Envelope>",
    ],
)
def test_malformed_soap_is_a_soap_fault(emu: EmulatorHandle, http, body: bytes) -> None:
    s, _, _ = http
    r = s.post(f"{emu.url}/services/Soap/u/59.0", data=body, headers={"Content-Type": "text/xml", "SOAPAction": "x"})
    assert r.status_code == 500 and "<faultcode>sf:" in r.text
    no_traceback(r)


def test_malformed_csv_fails_the_bulk_job(http) -> None:
    s, base, headers = http
    job = s.post(
        f"{base}/jobs/ingest", json={"object": "Lead", "operation": "insert", "contentType": "CSV"}, headers=headers
    ).json()
    put = s.put(
        f"{base}/jobs/ingest/{job['id']}/batches",
        data=b'LastName,Company\n"unterminated,x\nA,B,C\n',
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert put.status_code == 201
    done = s.patch(f"{base}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}, headers=headers)
    assert done.status_code == 200
    info = s.get(f"{base}/jobs/ingest/{job['id']}", headers=headers).json()
    assert info["state"] == "Failed" and info["errorMessage"].startswith("InvalidBatch")
    bad = s.post(f"{base}/jobs/ingest", json={"object": "Nope", "operation": "insert"}, headers=headers)
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"compositeRequest": "nope"},
        {"compositeRequest": [{"method": "GET"}]},
        {"compositeRequest": [{"method": "GET", "url": "/x", "referenceId": "bad id!"}]},
        {
            "compositeRequest": [
                {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": f"r{i}"} for i in range(26)
            ]
        },
    ],
)
def test_bad_composite_requests(http, body) -> None:
    s, base, headers = http
    r = s.post(f"{base}/composite", json=body, headers=headers)
    assert r.status_code == 400 and r.json()[0]["errorCode"]


def test_composite_bad_reference_is_processing_halted(http) -> None:
    s, base, headers = http
    r = s.post(
        f"{base}/composite",
        headers=headers,
        json={
            "compositeRequest": [
                {"method": "GET", "url": "/services/data/v59.0/sobjects/Lead/@{missing.id}", "referenceId": "a"}
            ]
        },
    )
    assert r.status_code == 200
    assert r.json()["compositeResponse"][0]["body"][0]["errorCode"] == "PROCESSING_HALTED"


def test_control_plane_bad_input(emu: EmulatorHandle) -> None:
    s = build_session(emu.salesforce_settings())
    for path, body in [
        ("clock", b"{"),
        ("clock", b'{"now": "yesterday"}'),
        ("faults", b'{"kind": "explode"}'),
        ("seed", b'{"records": {"Nope": []}}'),
        ("seed", b'{"fixture": "no-such-fixture"}'),
        ("settings", b'{"dailyApiLimit": "many"}'),
    ]:
        r = s.post(f"{emu.url}/__emulator__/{path}", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.text(max_size=20),
            lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
            max_leaves=20,
        ).map(lambda v: __import__("json").dumps(v).encode()),
    ),
    target=st.sampled_from(
        [
            "POST /sobjects/Lead/",
            "PATCH /sobjects/Lead/Leadflow_Id__c/fz",
            "POST /composite/sobjects",
            "PATCH /composite/sobjects/Lead/Leadflow_Id__c",
            "POST /composite",
            "POST /jobs/ingest",
            "POST /jobs/query",
        ]
    ),
)
def test_fuzzed_bodies_never_500(http, body: bytes, target: str) -> None:
    s, base, headers = http
    method, path = target.split(" ")
    r = s.request(method, base + path, data=body, headers=headers)
    assert r.status_code < 500, (target, body, r.text)
    no_traceback(r)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    q=st.text(
        alphabet=st.sampled_from(list("SELECTFROMWHERId,.()'\\=<>!%_ :0123456789LeadNamANDORNTINLIKE\n")), max_size=80
    )
)
def test_fuzzed_soql_never_500(http, q: str) -> None:
    s, base, headers = http
    r = s.get(f"{base}/query/", params={"q": q}, headers=headers)
    assert r.status_code in (200, 400), (q, r.text)
    no_traceback(r)
