"""HAVING, semi/anti-joins and SOSL in-process: the same answers as computing them by hand."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadflow_sf_emulator import dml
from leadflow_sf_emulator.clock import EmulatorClock
from leadflow_sf_emulator.errors import SalesforceError
from leadflow_sf_emulator.org import Org
from leadflow_sf_emulator.settings import EmulatorSettings
from leadflow_sf_emulator.sosl import search

pytestmark = pytest.mark.unit

COMPANIES = ["Acme", "Globex", "Initech", "Umbrella"]


def _org_with(companies: list[str], tasks_for: set[int] = frozenset()) -> tuple[Org, list[str]]:  # type: ignore[assignment]
    org = Org(EmulatorSettings(data=":memory:"), EmulatorClock())
    txn = org.store.begin()
    ctx = org.dml_context(org.integration_user_id)
    ids = [
        dml.create(txn, org.schema.objects["Lead"], {"LastName": f"L{i}", "Company": c}, ctx)
        for i, c in enumerate(companies)
    ]
    for i in tasks_for:
        dml.create(txn, org.schema.objects["Task"], {"WhoId": ids[i], "Subject": "Call"}, ctx)
    txn.commit()
    return org, ids


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(companies=st.lists(st.sampled_from(COMPANIES), max_size=25), k=st.integers(0, 5))
def test_having_count_matches_a_counter(companies: list[str], k: int) -> None:
    org, _ = _org_with(companies)
    got = org.engine().run(f"SELECT Company, COUNT(Id) n FROM Lead GROUP BY Company HAVING COUNT(Id) > {k}")
    assert {r["Company"]: r["n"] for r in got.records} == {c: n for c, n in Counter(companies).items() if n > k}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 12), data=st.data())
def test_semi_and_anti_join_partition_the_leads(n: int, data: st.DataObject) -> None:
    with_task = data.draw(st.sets(st.integers(0, n - 1)))
    org, ids = _org_with(["Acme"] * n, with_task)
    engine = org.engine()
    semi = {r["Id"] for r in engine.run("SELECT Id FROM Lead WHERE Id IN (SELECT WhoId FROM Task)").records}
    anti = {r["Id"] for r in engine.run("SELECT Id FROM Lead WHERE Id NOT IN (SELECT WhoId FROM Task)").records}
    assert semi == {ids[i] for i in with_task}
    assert semi | anti == set(ids) and not semi & anti


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Company FROM Lead HAVING COUNT(Id) > 1",  # HAVING without GROUP BY
        "SELECT Company FROM Lead GROUP BY Company HAVING LastName = 'x'",  # not a grouped field
        "SELECT Id FROM Lead WHERE Company IN (SELECT WhoId FROM Task)",  # left side not an id
        "SELECT Id FROM Lead WHERE Id IN (SELECT Subject FROM Task)",  # sub-select not an id
        "SELECT Id FROM Lead WHERE Id IN (SELECT WhoId FROM Task WHERE WhoId IN (SELECT Id FROM Lead))",
    ],
)
def test_malformed_having_and_semi_joins_are_refused(soql: str) -> None:
    org, _ = _org_with(["Acme"])
    with pytest.raises(SalesforceError) as e:
        org.engine().run(soql)
    assert e.value.code == "MALFORMED_QUERY"


def test_sosl_matches_whole_words_with_wildcards_and_returning_limits() -> None:
    org, ids = _org_with(["Nordlicht GmbH", "Nordic Ltd", "Acme"])

    def found(q: str) -> list[str]:
        return [r["Id"] for r in search(org, q, "59.0")["searchRecords"]]

    assert found("FIND {Nordlicht} RETURNING Lead") == [ids[0]]
    assert found("FIND {nord*} RETURNING Lead(Id ORDER BY Company)") == [ids[1], ids[0]]
    assert found("FIND {Nord} RETURNING Lead") == []  # whole tokens only
    assert found("FIND {Nordic OR Acme} RETURNING Lead(Id ORDER BY Company)") == [ids[2], ids[1]]
    assert len(found("FIND {nord*} RETURNING Lead LIMIT 1")) == 1
    with pytest.raises(SalesforceError) as e:
        search(org, "FIND {a} RETURNING Lead", "59.0")
    assert e.value.code == "MALFORMED_SEARCH"
