"""Fixtures for crm-changes integration tests: the real emulator (HTTPS) with two sales reps, and a harness
that runs the service's app (real broker, real database) and steps its feed by hand."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from leadflow_crm_changes.app import create_app
from leadflow_crm_changes.settings import CrmChangesSettings
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator
from leadflow_sf_emulator.ids import mint
from simple_salesforce import Salesforce

REP1 = mint("005", 901, pod="RP")
REP2 = mint("005", 902, pod="RP")


@pytest.fixture(scope="session")
def crm_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emu(crm_emulator: EmulatorHandle) -> EmulatorHandle:
    crm_emulator.reset()
    crm_emulator.set_clock(reset=True)
    crm_emulator.configure(dailyApiLimit=10_000_000, apiUsage=0)
    crm_emulator.seed(
        {
            "records": {
                "User": [
                    {
                        "Id": REP1,
                        "Username": "rep.one@leadflow-test.example",
                        "LastName": "One",
                        "FirstName": "Rep",
                        "Email": "rep.one@leadflow-test.example",
                        "Alias": "rone",
                        "IsActive": True,
                        "Role_Name__c": "Seller",
                    },
                    {
                        "Id": REP2,
                        "Username": "rep.two@leadflow-test.example",
                        "LastName": "Two",
                        "FirstName": "Rep",
                        "Email": "rep.two@leadflow-test.example",
                        "Alias": "rtwo",
                        "IsActive": True,
                        "Role_Name__c": "Seller",
                    },
                ]
            }
        }
    )
    return crm_emulator


@pytest.fixture
def integration_sf(emu: EmulatorHandle) -> Salesforce:
    """leadflow's own API user (its writes are echoes)."""
    return connect(emu.salesforce_settings())


@pytest.fixture
def rep_sf(emu: EmulatorHandle) -> Salesforce:
    """A sales rep's own session: LastModifiedById follows the session user."""
    return connect(emu.salesforce_settings(username="rep.one@leadflow-test.example"))


def _make_settings(
    emu: EmulatorHandle, bootstrap: str, prefix: str, database_url: str, **kw: Any
) -> CrmChangesSettings:
    base: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": prefix,
        "database_url": database_url,
        "salesforce": emu.salesforce_settings(),
        "poll_interval_seconds": 0.2,
        "overlap_seconds": 1.0,
        "lease_ttl_seconds": 5.0,
        "error_backoff_seconds": 0.2,
        "start_from": "latest",
        "snapshot_objects": [],  # the roster snapshot has its own test (test_crm_changes_roster.py)
    }
    base.update(kw)
    return CrmChangesSettings(**base)


@dataclass
class Running:
    app: Any

    @property
    def feed(self) -> Any:
        return self.app.state.feed


@contextlib.asynccontextmanager
async def _running(settings: CrmChangesSettings, *, run_feed: bool = False) -> AsyncIterator[Running]:
    app = create_app(settings, run_feed=run_feed)
    async with app.router.lifespan_context(app):
        yield Running(app)


@pytest.fixture
def reps() -> dict[str, str]:
    return {"rep1": REP1, "rep2": REP2}


@pytest.fixture
def make_settings() -> Any:
    """make_settings(emu, bootstrap, prefix, database_url, **overrides) -> CrmChangesSettings"""
    return _make_settings


@pytest.fixture
def running() -> Any:
    """async with running(settings, run_feed=False) as svc: svc.feed.step() …"""
    return _running
