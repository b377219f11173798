"""The real emulator (HTTPS) with two simulated reps and one user the simulation must leave alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator
from leadflow_sf_emulator.ids import mint
from simple_salesforce import Salesforce


@pytest.fixture(scope="session")
def tsim_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def sim_reps() -> dict[str, str]:
    return {
        "seller": mint("005", 801, pod="TS"),
        "leader": mint("005", 802, pod="TS"),
        "finance": mint("005", 803, pod="TS"),
    }


@pytest.fixture
def emu(tsim_emulator: EmulatorHandle, sim_reps: dict[str, str]) -> EmulatorHandle:
    tsim_emulator.reset()
    tsim_emulator.set_clock(reset=True)
    users = [
        (sim_reps["seller"], "sim.seller@leadflow-test.example", "Seller"),
        (sim_reps["leader"], "sim.leader@leadflow-test.example", "Team Leader"),
        (sim_reps["finance"], "sim.finance@leadflow-test.example", "Finance"),
    ]
    tsim_emulator.seed(
        {
            "records": {
                "User": [
                    {"Id": uid, "Username": name, "LastName": role, "IsActive": True, "Role_Name__c": role}
                    for uid, name, role in users
                ]
            }
        }
    )
    return tsim_emulator


@pytest.fixture
def integration_sf(emu: EmulatorHandle) -> Salesforce:
    return connect(emu.salesforce_settings())
