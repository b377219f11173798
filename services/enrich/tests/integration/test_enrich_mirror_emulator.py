"""The mirror against the real Salesforce emulator: Bulk 2.0 full load, SOQL for users/queues, incremental poll."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from faststream.kafka import TestKafkaBroker
from leadflow_contracts import ClientType, MatchMethod
from leadflow_enrich.adapters.mirror_repository import MirrorRepository
from leadflow_enrich.adapters.policy_file import load_policy
from leadflow_enrich.adapters.salesforce_reader import SimpleSalesforceReader
from leadflow_enrich.app import create_app
from leadflow_enrich.domain.client_type import classify
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.matching import match_account
from leadflow_enrich.mirror import Mirror
from leadflow_enrich.settings import EnrichSettings
from leadflow_enrich.testing import normalized_lead
from leadflow_platform.clock import FakeClock
from leadflow_platform.db import create_engine
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.integration
POLICY = load_policy()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as emu:
        emu.reset()
        emu.seed("demo")
        yield emu


async def test_full_load_then_incremental_poll_from_the_emulator(emulator: EmulatorHandle, sqlite_url: str) -> None:
    sf = connect(emulator.salesforce_settings())
    expected = {
        obj: sf.query(f"SELECT COUNT() FROM {obj}")["totalSize"] for obj in ("Account", "Contact", "Lead", "User")
    }
    expected["Queue"] = sf.query("SELECT COUNT() FROM Group WHERE Type = 'Queue'")["totalSize"]
    engine = create_engine(sqlite_url)
    repo = MirrorRepository(engine)
    await repo.create_tables()
    reader = SimpleSalesforceReader(lambda: connect(emulator.salesforce_settings()), bulk_wait_seconds=0)
    index = MirrorIndex(POLICY.free_mail_domains, POLICY.duplicates)
    mirror = Mirror(repo, index, FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC)), reader)
    try:
        await mirror.start()
        assert index.counts() == expected
        assert expected["Account"] >= 300 and expected["Queue"] >= 5
        log = emulator.requests_log(limit=200)
        paths = [r.get("path", "") for r in log]
        assert sum("/jobs/query" in p and p.rstrip("/").endswith("/jobs/query") for p in paths) == 3  # Bulk 2.0
        for obj in ("Account", "Contact", "Lead", "User", "Queue"):
            assert (await repo.count(obj)) == expected[obj]
            assert (await repo.cursor(obj)).full_load_at is not None

        # a demo key account, found by one of its contacts' e-mail domains
        row = sf.query("SELECT Id, Email, AccountId FROM Contact WHERE Account.Key_Account__c = true LIMIT 1")
        contact = row["records"][0]
        domain = contact["Email"].split("@", 1)[1]
        d = match_account(normalized_lead(email=f"new.person@{domain}"), index, POLICY.matching)
        assert (d.match.account_id, d.match.method, d.match.key_account) == (
            contact["AccountId"],
            MatchMethod.EMAIL_DOMAIN,
            True,
        )
        assert classify(d.account, datetime(2025, 6, 2).date(), POLICY.client_type).client_type is (
            ClientType.KEY_ACCOUNT
        )

        # a change in Salesforce reaches the mirror through the incremental SystemModstamp query
        sf.Account.update(contact["AccountId"], {"Overdue_Debt__c": True})
        sf.Account.create({"Name": "Brand New Robotics GmbH", "Website": "https://brand-new-robotics.example"})
        before = reader.calls
        applied = await mirror.poll_once()
        assert applied >= 2 and reader.calls == before + 5
        assert index.accounts[contact["AccountId"]].overdue_debt is True
        d2 = match_account(normalized_lead(company_domain="brand-new-robotics.example"), index, POLICY.matching)
        assert d2.match.method is MatchMethod.WEBSITE_DOMAIN
        stored = await repo.cursor("Account")
        assert stored.system_modstamp is not None and stored.system_modstamp > datetime(2025, 6, 2, tzinfo=UTC)
    finally:
        await engine.dispose()


async def test_app_built_from_settings_loads_the_mirror_from_the_emulator(
    emulator: EmulatorHandle, sqlite_url: str
) -> None:
    settings = EnrichSettings(
        database_url=sqlite_url,
        salesforce=emulator.salesforce_settings(),
        bulk_wait_seconds=0,
        kafka_bootstrap="127.0.0.1:1",
    )
    app = create_app(settings, ensure_kafka_topics=False)
    async with TestKafkaBroker(app.state.broker), app.router.lifespan_context(app):
        counts = app.state.index.counts()
        assert counts["Account"] >= 300 and counts["User"] > 10 and counts["Queue"] >= 5
        assert app.state.mirror.ready
