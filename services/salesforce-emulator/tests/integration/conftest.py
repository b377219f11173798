from __future__ import annotations

from collections.abc import Iterator

import pytest
from leadflow_salesforce import connect
from leadflow_salesforce.testing import EmulatorHandle, running_emulator
from simple_salesforce import Salesforce


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emu(emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    emulator.reset()
    emulator.set_clock(reset=True)
    emulator.configure(duplicateRule=False, dailyApiLimit=1_000_000, apiUsage=0, sessionTtlSeconds=7200)
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def sf(emu: EmulatorHandle) -> Salesforce:
    return connect(emu.salesforce_settings())
