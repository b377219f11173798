"""The feed's service layer over TestKafkaBroker and a hand-written Salesforce fake (pages, crash, resume)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts.crm import CrmChange
from leadflow_contracts.topics import CRM_CHANGES
from leadflow_crm_changes.adapters.salesforce import Page
from leadflow_crm_changes.app import create_app
from leadflow_crm_changes.domain.feed import FeedObject
from leadflow_crm_changes.settings import CrmChangesSettings
from leadflow_platform.broker import make_broker
from leadflow_platform.clock import FakeClock

pytestmark = pytest.mark.component

ME = "005000000000001AAA"
REP = "005RP0000000901AAA"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def stamp(n: int) -> str:
    t = T0 + timedelta(milliseconds=n)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


class FakeSalesforce:
    """An org of Leads; answers the feed's queries with fixed-size pages and records every call."""

    def __init__(self, page: int = 3) -> None:
        self.page = page
        self.leads: dict[str, dict] = {}
        self.calls: list[str] = []
        self._cursors: dict[str, list[dict]] = {}

    def write(self, n: int, rid: str, by: str, **fields) -> None:
        rec = self.leads.get(rid) or {
            "Id": rid,
            "IsDeleted": False,
            "CreatedDate": stamp(n),
            "CreatedById": by,
            "Leadflow_Id__c": f"lf-{rid}",
            "Status": "Open - Not Contacted",
        }
        rec.update(fields, LastModifiedDate=stamp(n), LastModifiedById=by, SystemModstamp=stamp(n))
        self.leads[rid] = rec

    async def login(self) -> None:
        self.calls.append("login")

    async def current_user_id(self) -> str | None:
        return ME

    async def query(self, soql: str, *, include_deleted: bool) -> Page:
        self.calls.append("queryAll" if include_deleted else "query")
        after = soql.split("SystemModstamp > ")[1].split(" ")[0] if "SystemModstamp > " in soql else None
        rows = sorted(self.leads.values(), key=lambda r: (r["SystemModstamp"], r["Id"]))
        if after:
            cut = datetime.fromisoformat(after.replace("Z", "+00:00"))
            rows = [r for r in rows if datetime.fromisoformat(r["SystemModstamp"]) > cut]
        self._cursors["c"] = [dict(r) for r in rows]
        return self._serve(0)

    async def query_more(self, next_url: str) -> Page:
        self.calls.append("query_more")
        return self._serve(int(next_url))

    def _serve(self, at: int) -> Page:
        rows = self._cursors["c"]
        nxt = at + self.page
        return Page(rows[at:nxt], str(nxt) if nxt < len(rows) else None, len(rows))


@pytest.fixture
def settings(sqlite_url) -> CrmChangesSettings:
    return CrmChangesSettings(
        database_url=sqlite_url,
        start_from="beginning",
        overlap_seconds=10,
        objects=[FeedObject(name="Lead", fields=("Status",))],
    )


async def test_pages_are_published_once_and_crash_before_commit_republishes_same_ids(settings):
    fake = FakeSalesforce(page=3)
    for i in range(7):
        fake.write(i, f"00QAA000000{i:04d}AAA", REP)
    fake.write(7, "00QAA0000000100AAA", ME)  # leadflow's own write: never published
    broker = make_broker(settings)
    seen: list[CrmChange] = []

    @broker.subscriber(settings.topic(CRM_CHANGES))
    async def collect(ev: CrmChange) -> None:
        seen.append(ev)

    app = create_app(settings, clock=FakeClock(T0), broker=broker, salesforce=fake, run_feed=False, create_topics=False)
    feed = app.state.feed
    async with TestKafkaBroker(broker), app.router.lifespan_context(app):
        await feed.step()
        assert len(seen) == 7 and fake.calls == ["login", "queryAll", "query_more", "query_more"]
        # crash between publishing a page and committing it: the next poll republishes the same version ids
        fake.write(20, "00QAA0000000001AAA", REP, Status="Working - Contacted")
        real_save = feed.repo.save_snapshots

        async def crash(conn, rows):
            if rows:  # the page with the new version, after its event was published
                raise RuntimeError("killed before commit")
            await real_save(conn, rows)

        feed.repo.save_snapshots = crash
        with pytest.raises(RuntimeError):
            await feed.step()
        feed.repo.save_snapshots = real_save
        await feed.step()
        await feed.step()
    assert len(seen) == 9
    assert seen[7].event_id == seen[8].event_id  # consumers drop the repeat by event id
    assert [(c.field, c.old, c.new) for c in seen[8].changed_fields] == [
        ("Status", "Open - Not Contacted", "Working - Contacted")
    ]
    assert {e.lead_id for e in seen[:7]} == {f"lf-00QAA000000{i:04d}AAA" for i in range(7)}
