"""SOQL: the grammar the emulator accepts, what it refuses, and how results look (in-process, no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from leadflow_sf_emulator import dml
from leadflow_sf_emulator.clock import EmulatorClock
from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.settings import EmulatorSettings
from leadflow_sf_emulator.soql import ast
from leadflow_sf_emulator.soql.parser import parse

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 15, 10, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def org() -> Org:
    clock = EmulatorClock(lambda: NOW)
    o = Org(EmulatorSettings(data=":memory:"), clock)
    txn = o.store.begin()
    ctx = o.dml_context(o.integration_user_id)
    acc = dml.create(txn, o.schema.objects["Account"], {"Name": "Acme AS", "Key_Account__c": True}, ctx)
    rows = [
        {
            "LastName": "Hansen",
            "Company": "Acme AS",
            "Email": "h@acme.no",
            "Score__c": 80,
            "Country": "Norway",
            "Matched_Account__c": acc,
            "Leadflow_Id__c": "lf-1",
            "SLA_Due__c": "2024-05-15T12:00:00Z",
        },
        {
            "LastName": "O'Brien",
            "Company": "Back\\slash Ltd",
            "Email": "ob@x.ie",
            "Score__c": 40,
            "Country": "Ireland",
            "Leadflow_Id__c": "lf-2",
            "SLA_Due__c": "2024-05-14T09:00:00Z",
        },
        {
            "LastName": "Müller",
            "Company": "100%_Sure GmbH",
            "Score__c": None,
            "Country": "Germany",
            "Leadflow_Id__c": "lf-3",
            "Status": "Working - Contacted",
        },
    ]
    for r in rows:
        dml.create(txn, o.schema.objects["Lead"], r, ctx)
    txn.commit()
    return o


def run(org: Org, q: str, **kw: object) -> list[dict]:
    return org.engine().run(q, **kw).records  # type: ignore[arg-type]


def names(records: list[dict]) -> list[str]:
    return [r["LastName"] for r in records]


def soql_error(org: Org, q: str) -> SalesforceError:
    with pytest.raises(SalesforceError) as ei:
        org.engine().run(q)
    return ei.value


# ---- grammar --------------------------------------------------------------------------------------------
def test_parse_full_statement() -> None:
    q = parse(
        "SELECT Id, Owner.Name, COUNT(Id) cnt FROM Lead WHERE (A = 1 OR B != 'x') AND NOT C IN ('a','b') "
        "GROUP BY Owner.Name ORDER BY Name DESC NULLS LAST, Id LIMIT 10 OFFSET 5"
    )
    assert q.sobject == "Lead"
    assert isinstance(q.select[1], ast.FieldRef) and q.select[1].path == ["Owner", "Name"]
    assert isinstance(q.select[2], ast.Aggregate) and q.select[2].alias == "cnt"
    assert isinstance(q.where, ast.BoolOp) and q.where.op == "AND"
    assert q.order_by[0].desc and q.order_by[0].nulls_first is False
    assert (q.limit, q.offset) == (10, 5)


def test_keywords_are_case_insensitive_and_names_keep_schema_spelling(org: Org) -> None:
    recs = run(org, "select lastname, COMPANY from lead where leadflow_id__c = 'LF-1'")
    assert list(recs[0]) == ["attributes", "LastName", "Company"]
    assert recs[0]["LastName"] == "Hansen"


def test_literals_dates_datetimes_and_escapes() -> None:
    q = parse(
        r"SELECT Id FROM Lead WHERE CreatedDate > 2024-01-31T10:00:00+00:00 AND D = 2024-01-31 "
        r"AND Name = 'O\'Brien \\ \n' AND X = LAST_N_DAYS:7 AND Y = TODAY AND Z = null AND W = true"
    )
    items = q.where.items  # type: ignore[union-attr]
    assert items[0].value.kind == "datetime"
    assert items[1].value.kind == "date"
    assert items[2].value.value == "O'Brien \\ \n"
    assert (items[3].value.kind, items[3].value.n) == ("dateliteral", 7)
    assert items[5].value.kind == "null" and items[6].value.value is True


@pytest.mark.parametrize(
    "q",
    [
        "SELECT FROM Lead",
        "SELECT Id Lead",
        "SELECT Id FROM Lead WHERE",
        "SELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3",  # AND/OR mixed without parentheses
        "SELECT Id FROM Lead WHERE Name = 'unterminated",
        "SELECT Id FROM Lead WHERE Name = 'bad \\q escape'",
        "SELECT Id FROM Lead LIMIT -1",
        "SELECT Id FROM Lead LIMIT 1.5",
        "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS",
        "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_FOO:3",
        "SELECT Id FROM Lead ORDER BY",
        "SELECT Id, FROM Lead",
        'SELECT Id FROM Lead WHERE Name = "double"',
        "SELECT Id FROM Lead; DELETE FROM Lead",
        "",
    ],
)
def test_malformed_queries_are_refused(org: Org, q: str) -> None:
    err = soql_error(org, q)
    assert err.code == "MALFORMED_QUERY"
    assert err.status == 400


def test_error_message_points_at_row_and_column(org: Org) -> None:
    err = soql_error(org, "SELECT Id FROM Lead WHERE")
    assert "ERROR at Row:1:Column:" in err.message and err.message.startswith("\nSELECT Id FROM Lead WHERE\n")


def test_unknown_object_field_and_relationship(org: Org) -> None:
    assert soql_error(org, "SELECT Id FROM Leads").code == "INVALID_TYPE"
    err = soql_error(org, "SELECT Foo FROM Lead")
    assert err.code == "INVALID_FIELD" and "No such column 'Foo' on entity 'Lead'" in err.message
    assert "Column:8" in err.message
    err = soql_error(org, "SELECT Bogus.Name FROM Lead")
    assert err.code == "INVALID_FIELD" and "Didn't understand relationship 'Bogus'" in err.message


@pytest.mark.parametrize(
    "q, word",
    [
        ("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-01", "dateTime"),
        ("SELECT Id FROM Lead WHERE Score__c > '5'", "double"),
        ("SELECT Id FROM Lead WHERE IsConverted = 'false'", "boolean"),
        ("SELECT Id FROM Lead WHERE Company = 5", "string"),
    ],
)
def test_type_mismatches_are_invalid_field(org: Org, q: str, word: str) -> None:
    err = soql_error(org, q)
    assert err.code == "INVALID_FIELD" and f"must be of type {word}" in err.message


def test_invalid_id_literal_and_long_text_filter(org: Org) -> None:
    assert soql_error(org, "SELECT Id FROM Lead WHERE Id = 'abc'").code == "INVALID_QUERY_FILTER_OPERATOR"
    assert "can not be filtered" in soql_error(org, "SELECT Id FROM Lead WHERE Description = 'x'").message


def test_offset_above_2000_and_fields_all_without_limit(org: Org) -> None:
    assert soql_error(org, "SELECT Id FROM Lead OFFSET 2001").code == "NUMBER_OUTSIDE_VALID_RANGE"
    assert soql_error(org, "SELECT FIELDS(ALL) FROM Lead").code == "MALFORMED_QUERY"
    assert len(run(org, "SELECT FIELDS(ALL) FROM Lead LIMIT 200")[0]) > 40


# ---- semantics ------------------------------------------------------------------------------------------
def test_comparisons_and_boolean_logic(org: Org) -> None:
    assert names(run(org, "SELECT LastName FROM Lead WHERE Score__c >= 40 ORDER BY Score__c")) == ["O'Brien", "Hansen"]
    assert names(run(org, "SELECT LastName FROM Lead WHERE Score__c = null")) == ["Müller"]
    assert sorted(names(run(org, "SELECT LastName FROM Lead WHERE Score__c != 80"))) == ["Müller", "O'Brien"]
    assert names(
        run(org, "SELECT LastName FROM Lead WHERE Country IN ('norway', 'Germany') AND NOT Score__c = null")
    ) == ["Hansen"]
    assert sorted(names(run(org, "SELECT LastName FROM Lead WHERE Country NOT IN ('Norway')"))) == ["Müller", "O'Brien"]
    assert sorted(
        names(
            run(org, "SELECT LastName FROM Lead WHERE (Score__c > 50 OR Country = 'Germany') AND IsConverted = false")
        )
    ) == ["Hansen", "Müller"]


def test_like_is_case_insensitive_and_honours_escapes(org: Org) -> None:
    assert names(run(org, "SELECT LastName FROM Lead WHERE Company LIKE 'acme%'")) == ["Hansen"]
    assert names(run(org, "SELECT LastName FROM Lead WHERE Company LIKE '100\\%\\_%'")) == ["Müller"]
    assert names(run(org, "SELECT LastName FROM Lead WHERE LastName LIKE 'M_ller'")) == ["Müller"]


def test_format_soql_escaped_values_round_trip(org: Org) -> None:
    from simple_salesforce.format import format_soql

    q = format_soql("SELECT LastName FROM Lead WHERE LastName = {} OR Company = {}", "O'Brien", "Back\\slash Ltd")
    assert names(run(org, q)) == ["O'Brien"]


def test_ids_15_and_18_compare_equal(org: Org) -> None:
    rid = run(org, "SELECT Id FROM Lead WHERE Leadflow_Id__c = 'lf-1'")[0]["Id"]
    assert len(run(org, f"SELECT Id FROM Lead WHERE Id = '{rid[:15]}'")) == 1
    assert len(run(org, f"SELECT Id FROM Lead WHERE Id IN ('{rid}')")) == 1


def test_relative_dates_use_the_emulator_clock(org: Org) -> None:
    assert len(run(org, "SELECT Id FROM Lead WHERE CreatedDate = TODAY")) == 3
    assert len(run(org, "SELECT Id FROM Lead WHERE CreatedDate = YESTERDAY")) == 0
    assert len(run(org, "SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:3")) == 3
    assert len(run(org, "SELECT Id FROM Lead WHERE CreatedDate = THIS_WEEK")) == 3
    assert names(run(org, "SELECT LastName FROM Lead WHERE SLA_Due__c < TODAY")) == ["O'Brien"]
    assert names(run(org, "SELECT LastName FROM Lead WHERE SLA_Due__c > 2024-05-15T11:00:00Z")) == ["Hansen"]


def test_parent_paths_render_nested_and_null(org: Org) -> None:
    recs = run(
        org,
        "SELECT LastName, Owner.Name, Matched_Account__r.Name, Matched_Account__r.Owner.Email "
        "FROM Lead ORDER BY LastName",
    )
    hansen = recs[0]
    assert hansen["Owner"]["attributes"]["type"] == "User"
    assert hansen["Matched_Account__r"]["Name"] == "Acme AS"
    assert hansen["Matched_Account__r"]["Owner"]["Email"] == "integration@leadflow.example"
    assert recs[1]["Matched_Account__r"] is None


def test_order_by_nulls_and_multiple_keys(org: Org) -> None:
    asc = names(run(org, "SELECT LastName FROM Lead ORDER BY Score__c"))
    assert asc == ["Müller", "O'Brien", "Hansen"]  # nulls first by default
    assert names(run(org, "SELECT LastName FROM Lead ORDER BY Score__c ASC NULLS LAST")) == [
        "O'Brien",
        "Hansen",
        "Müller",
    ]
    assert names(run(org, "SELECT LastName FROM Lead ORDER BY Score__c DESC")) == ["Hansen", "O'Brien", "Müller"]
    assert names(run(org, "SELECT LastName FROM Lead ORDER BY Status DESC, LastName LIMIT 2 OFFSET 1")) == [
        "Hansen",
        "O'Brien",
    ]


def test_count_and_aggregates(org: Org) -> None:
    res = org.engine().run("SELECT COUNT() FROM Lead WHERE Score__c > 10")
    assert (res.total_size, res.records) == (2, [])
    recs = run(org, "SELECT COUNT(Id) FROM Lead")
    assert recs == [{"attributes": {"type": "AggregateResult"}, "expr0": 3}]
    grouped = run(org, "SELECT Status, COUNT(Id) n FROM Lead GROUP BY Status ORDER BY Status")
    assert [(r["Status"], r["n"]) for r in grouped] == [("Open - Not Contacted", 2), ("Working - Contacted", 1)]
    assert soql_error(org, "SELECT LastName, COUNT(Id) FROM Lead").code == "MALFORMED_QUERY"


def test_child_subquery(org: Org) -> None:
    lead_id = run(org, "SELECT Id FROM Lead WHERE Leadflow_Id__c = 'lf-1'")[0]["Id"]
    txn = org.store.begin()
    dml.create(
        txn, org.schema.objects["Task"], {"WhoId": lead_id, "Subject": "Call"}, org.dml_context(org.integration_user_id)
    )
    txn.commit()
    recs = run(org, "SELECT LastName, (SELECT Subject FROM Tasks) FROM Lead ORDER BY LastName")
    assert recs[0]["Tasks"]["records"][0]["Subject"] == "Call"
    assert recs[1]["Tasks"] is None


def test_query_all_sees_deleted(org: Org) -> None:
    rid = run(org, "SELECT Id FROM Lead WHERE Leadflow_Id__c = 'lf-2'")[0]["Id"]
    txn = org.store.begin()
    dml.delete(txn, org.schema.objects["Lead"], rid, org.dml_context(org.integration_user_id))
    txn.commit()
    assert len(run(org, "SELECT Id FROM Lead")) == 2
    deleted = run(org, "SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in deleted] == [rid]
    assert len(run(org, "SELECT Id FROM Lead WHERE Leadflow_Id__c = 'lf-2'", include_deleted=True)) == 1
