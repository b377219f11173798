"""Ids, typed values and record validation (in-process, no sockets)."""

from __future__ import annotations

import pytest
from leadflow_sf_emulator import dml, ids
from leadflow_sf_emulator.clock import EmulatorClock
from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.settings import EmulatorSettings

pytestmark = pytest.mark.unit


def test_checksum_matches_the_documented_example() -> None:
    assert ids.to18("00190000001pPvH") == "00190000001pPvHAAU"
    assert ids.normalize("00190000001pPvH") == "00190000001pPvHAAU"
    assert ids.normalize("00190000001pPvHAAU") == "00190000001pPvHAAU"
    assert ids.normalize("00190000001pPvHAAA") is None  # wrong checksum
    assert ids.normalize("not-an-id") is None


def test_minted_ids_are_18_chars_with_valid_checksum_and_ordered() -> None:
    a, b = ids.mint("00Q", 9), ids.mint("00Q", 10)
    assert len(a) == 18 and ids.normalize(a) == a and a < b


@pytest.fixture
def org() -> Org:
    return Org(EmulatorSettings(data=":memory:"), EmulatorClock())


def create(org: Org, sobject: str, values: dict) -> str:
    txn = org.store.begin()
    try:
        rid = dml.create(txn, org.schema.objects[sobject], values, org.dml_context(org.integration_user_id))
    except SalesforceError:
        txn.rollback()
        raise
    txn.commit()
    return rid


@pytest.mark.parametrize(
    "values, code, fields",
    [
        ({"LastName": "x"}, "REQUIRED_FIELD_MISSING", ["Company"]),
        ({"LastName": "x", "Company": "c" * 256}, "STRING_TOO_LONG", ["Company"]),
        ({"LastName": "x", "Company": "c", "Status": "Nope"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"]),
        ({"LastName": "x", "Company": "c", "IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsConverted"]),
        ({"LastName": "x", "Company": "c", "Foo__c": 1}, "INVALID_FIELD", None),
        ({"LastName": "x", "Company": "c", "OwnerId": "bogus"}, "MALFORMED_ID", ["OwnerId"]),
        ({"LastName": "x", "Company": "c", "OwnerId": "00190000001pPvHAAU"}, "FIELD_INTEGRITY_EXCEPTION", ["OwnerId"]),
        (
            {"LastName": "x", "Company": "c", "OwnerId": ids.mint("005", 999999)},
            "INVALID_CROSS_REFERENCE_KEY",
            ["OwnerId"],
        ),
        ({"LastName": "x", "Company": "c", "Email": "nope"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ({"LastName": "x", "Company": "c", "Score__c": "high"}, "JSON_PARSER_ERROR", None),
        (
            {"LastName": "x", "Company": "c", "SLA_Status__c": "Late"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["SLA_Status__c"],
        ),
    ],
)
def test_lead_validation_errors(org: Org, values: dict, code: str, fields: list[str] | None) -> None:
    with pytest.raises(SalesforceError) as ei:
        create(org, "Lead", values)
    assert ei.value.code == code
    if fields is not None:
        assert ei.value.fields == fields


def test_audit_fields_are_strictly_monotonic(org: Org) -> None:
    a = create(org, "Lead", {"LastName": "a", "Company": "c"})
    b = create(org, "Lead", {"LastName": "b", "Company": "c"})
    ra, rb = org.store.tables["Lead"][a], org.store.tables["Lead"][b]
    assert ra["SystemModstamp"] < rb["SystemModstamp"]
    assert ra["CreatedDate"] == ra["LastModifiedDate"] == ra["SystemModstamp"]


def test_queue_owner_needs_a_lead_queue(org: Org) -> None:
    q = create(org, "Group", {"Name": "Team North", "Type": "Queue"})
    with pytest.raises(SalesforceError) as ei:
        create(org, "Lead", {"LastName": "a", "Company": "c", "OwnerId": q})
    assert ei.value.code == "INVALID_CROSS_REFERENCE_KEY"
    create(org, "QueueSobject", {"QueueId": q, "SobjectType": "Lead"})
    lead = create(org, "Lead", {"LastName": "a", "Company": "c", "OwnerId": q})
    assert org.store.tables["Lead"][lead]["OwnerId"] == q


def test_unique_external_id(org: Org) -> None:
    create(org, "Lead", {"LastName": "a", "Company": "c", "Leadflow_Id__c": "L-1"})
    with pytest.raises(SalesforceError) as ei:
        create(org, "Lead", {"LastName": "b", "Company": "c", "Leadflow_Id__c": "l-1"})
    assert ei.value.code == "DUPLICATE_VALUE"


def test_persistence_across_restart(tmp_path) -> None:
    path = str(tmp_path / "org.db")
    org = Org(EmulatorSettings(data=path), EmulatorClock())
    rid = create(org, "Lead", {"LastName": "a", "Company": "c", "SLA_Due__c": "2024-05-01T10:00:00Z"})
    stamp = org.store.tables["Lead"][rid]["SystemModstamp"]
    org.close()
    again = Org(EmulatorSettings(data=path), EmulatorClock())
    rec = again.store.tables["Lead"][rid]
    assert rec["SystemModstamp"] == stamp and rec["SLA_Due__c"].isoformat() == "2024-05-01T10:00:00+00:00"
    assert again.store.find_by("Lead", "Leadflow_Id__c", "x") == []
    again.close()
