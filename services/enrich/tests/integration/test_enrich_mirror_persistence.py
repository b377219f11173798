"""Mirror tables on SQLite and PostgreSQL: a restart rebuilds the index from them and catches up from the cursor."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadflow_contracts import ChangeType, CrmChange
from leadflow_enrich.adapters.mirror_repository import MirrorRepository
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.records import AccountRecord, LeadRecord
from leadflow_enrich.mirror import Mirror
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine

pytestmark = pytest.mark.integration
POLICY = load_policy()
T1 = datetime(2025, 6, 1, 8, tzinfo=UTC)
T2 = T1 + timedelta(days=1)


class FakeReader:
    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        self.records = records
        self.calls: list[tuple[str, str, datetime | None]] = []

    async def full(self, obj: str) -> list[dict[str, Any]]:
        self.calls.append(("full", obj, None))
        return [r for r in self.records.get(obj, []) if not r.get("IsDeleted")]

    async def changed_since(self, obj: str, since: datetime) -> list[dict[str, Any]]:
        self.calls.append(("changed_since", obj, since))
        return [r for r in self.records.get(obj, []) if r["SystemModstamp"] > since]


def org(**extra: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    base: dict[str, list[dict[str, Any]]] = {
        "Account": [
            {
                "Id": "001A",
                "Name": "Nord AS",
                "Website": "nord.no",
                "Key_Account__c": True,
                "Last_Activity_Date__c": "2025-05-01",
                "SystemModstamp": T1,
            }
        ],
        "Contact": [{"Id": "003A", "AccountId": "001A", "Email": "k@nord.no", "SystemModstamp": T1}],
        "Lead": [{"Id": "00QA", "Email": "l@x.no", "Status": "Open - Not Contacted", "SystemModstamp": T1}],
        "User": [{"Id": "005A", "Name": "Ann", "IsActive": True, "SystemModstamp": T1}],
        "Queue": [{"Id": "00GA", "Name": "Q", "SystemModstamp": T1}],
    }
    for k, v in extra.items():
        base[k] = base[k] + v
    return base


async def make_mirror(url: str, reader: FakeReader) -> tuple[Mirror, Any]:
    engine = create_engine(url)
    repo = MirrorRepository(engine)
    await repo.create_tables()
    mirror = Mirror(
        repo,
        MirrorIndex(POLICY.free_mail_domains, POLICY.duplicates),
        FakeClock(datetime(2026, 1, 5, tzinfo=UTC)),
        reader,
        overlap=timedelta(minutes=2),
    )
    return mirror, engine


async def test_mirror_persists_and_restarts_incrementally(database_url: str) -> None:
    first = FakeReader(org())
    mirror, engine = await make_mirror(database_url, first)
    try:
        await mirror.start()
        assert [c[0] for c in first.calls] == ["full"] * 5
        change = CrmChange(
            event_id="chg-00QA-t2",
            lead_id="00QA",
            occurred_at=T2,
            object="Lead",
            record_id="00QA",
            change_type=ChangeType.UPDATED,
            changed_at=T2,
            system_modstamp=T2,
            record={"Status": "Working - Contacted", "Phone": "+47 22 33 44 55"},
        )
        assert await mirror.apply_changes([change]) == 1
        stale = CrmChange(
            event_id="chg-00QA-stale",
            lead_id="00QA",
            occurred_at=T1,
            object="Lead",
            record_id="00QA",
            change_type=ChangeType.UPDATED,
            changed_at=T1,
            system_modstamp=T1 - timedelta(hours=1),
            record={"Status": "Open - Not Contacted"},
        )
        assert await mirror.apply_changes([stale]) == 0
    finally:
        await engine.dispose()

    # restart: index rebuilt from the tables, Salesforce read from the cursor (minus the overlap) only
    later = org(
        Account=[
            {"Id": "001B", "Name": "Fjord AS", "SystemModstamp": T2 + timedelta(hours=1)},
            {"Id": "001A", "IsDeleted": True, "SystemModstamp": T2 + timedelta(hours=2)},
        ]
    )
    second = FakeReader(later)
    mirror2, engine2 = await make_mirror(database_url, second)
    try:
        await mirror2.start()
        assert [c[0] for c in second.calls] == ["changed_since"] * 5
        since = {c[1]: c[2] for c in second.calls}
        assert since["Account"] == T1 - timedelta(minutes=2)
        idx = mirror2.index
        lead = idx.leads["00QA"]
        assert isinstance(lead, LeadRecord)
        assert (lead.status, lead.phone, lead.system_modstamp) == ("Working - Contacted", "+47 22 33 44 55", T2)
        assert set(idx.accounts) == {"001B"}  # 001A deleted in Salesforce, 001B created
        assert await mirror2.repo.count("Account") == 1
        assert idx.contacts["003A"].email == "k@nord.no"
        assert idx.open_lead_by_phone["+4722334455"] == {"00QA"}
        cursor = await mirror2.repo.cursor("Account")
        assert cursor.system_modstamp == T2 + timedelta(hours=2)  # deletions move the cursor too
    finally:
        await engine2.dispose()


async def test_repository_round_trips_every_field(database_url: str) -> None:
    engine = create_engine(database_url)
    repo = MirrorRepository(engine)
    await repo.create_tables()
    rec = AccountRecord(
        id="001X",
        name="Ærø Ølbryggeri AS",
        website="https://aero.dk",
        phone="+45 12 34 56 78",
        owner_id="005A",
        type="Customer - Direct",
        industry="Food & Beverage",
        employees=45,
        country="Denmark",
        key_account=False,
        client_type="Retail",
        overdue_debt=True,
        region="Nordics",
        last_activity=datetime(2025, 3, 4).date(),
        system_modstamp=T1,
    )
    try:
        async with engine.begin() as conn:
            await repo.upsert(conn, "Account", [rec])
        async with engine.connect() as conn:
            assert await repo.get(conn, "Account", "001X") == rec
        newer = AccountRecord(id="001X", name="Renamed", system_modstamp=T2)
        older = AccountRecord(id="001X", name="Stale", system_modstamp=T1 - timedelta(days=1))
        async with engine.begin() as conn:
            await repo.upsert(conn, "Account", [newer])
            await repo.upsert(conn, "Account", [older])
        async with engine.connect() as conn:
            got = await repo.get(conn, "Account", "001X")
        assert got == newer
    finally:
        await engine.dispose()
