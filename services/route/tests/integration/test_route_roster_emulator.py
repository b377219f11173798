"""The roster loaded from the (emulated) Salesforce demo org, and routed with the shipped configuration."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from leadflow_contracts import ClientType
from leadflow_route.adapters.roster_source import SalesforceRosterSource
from leadflow_route.domain.config import load_routing_config
from leadflow_route.domain.ledger import Ledger
from leadflow_route.domain.routing import Router, RoutingRequest
from leadflow_route.testing import repo_root
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.integration

TUESDAY_10_UTC = datetime(2025, 6, 3, 10, 0, tzinfo=UTC)  # the demo org's anchor week; 12:00 in Oslo/Berlin


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as emu:
        emu.seed("demo")
        yield emu


async def test_roster_loads_users_and_queues_from_salesforce(emulator: EmulatorHandle) -> None:
    source = SalesforceRosterSource(emulator.salesforce_settings())
    roster = await source.fetch()
    assert source.calls == 2
    nordics = roster.team("Nordics")
    assert len(nordics) >= 5
    ola = next(r for r in nordics if r.role == "Seller" and r.timezone == "Europe/Helsinki")
    assert ola.working_hours and ola.languages and ola.weight > 0
    assert roster.queue("Queue_Nordics") is not None and roster.queue("Queue_Finance") is not None
    absent = [r for r in roster.reps.values() if r.absent]
    assert absent, "the demo org has absent reps"
    config = load_routing_config(repo_root() / "services/route/config/routing.yaml")
    assert roster.rep(config.head_of_sales) is not None
    assert all(roster.rep(t.leader) is not None and roster.queue(t.queue) is not None for t in config.teams.values())


async def test_routing_the_demo_org_with_the_shipped_config(emulator: EmulatorHandle) -> None:
    roster = await SalesforceRosterSource(emulator.salesforce_settings()).fetch()
    router = Router(load_routing_config(repo_root() / "services/route/config/routing.yaml"))
    ledger = Ledger()
    counts = Counter(
        router.route(RoutingRequest(f"l{i}", country="DE", language="de"), roster, ledger, TUESDAY_10_UTC).owner_id
        for i in range(60)
    )
    dach = {r.id: r for r in roster.team("DACH") if r.role == "Seller"}
    assert set(counts) <= set(dach)
    assert not any(dach[r].absent for r in counts)  # Claire Schmidt is absent in the demo org
    kams = [r for r in roster.reps.values() if r.role == "Key Account Manager"]
    absent_kam = next(r for r in kams if r.absent)
    d = router.route(
        RoutingRequest("ka", ClientType.KEY_ACCOUNT, key_account=True, account_owner_id=absent_kam.id),
        roster,
        ledger,
        TUESDAY_10_UTC,
    )
    assert d.owner_id in {k.id for k in kams if not k.absent} and "absent" in d.reason


async def test_a_user_change_in_salesforce_reaches_the_next_refresh(emulator: EmulatorHandle) -> None:
    settings = emulator.salesforce_settings()
    source = SalesforceRosterSource(settings)
    before = await source.fetch()
    seller = next(r for r in before.team("UK & Ireland") if r.role == "Seller" and not r.absent)
    sf = connect(settings)
    sf.User.update(seller.id, {"Is_Absent__c": True})
    after = await source.fetch()
    assert after.rep(seller.id).absent is True
    sf.User.update(seller.id, {"Is_Absent__c": False})
