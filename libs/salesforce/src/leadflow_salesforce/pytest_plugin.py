"""pytest fixtures: `pytest_plugins = ["leadflow_salesforce.pytest_plugin"]` in a conftest.

- `salesforce_emulator`: one emulator (HTTPS, :memory:) for the whole test session.
- `sf_emulator`: the same, reset to an empty org (baseline users and statuses) before the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadflow_salesforce.testing import EmulatorHandle, running_emulator


@pytest.fixture(scope="session")
def salesforce_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def sf_emulator(salesforce_emulator: EmulatorHandle) -> EmulatorHandle:
    salesforce_emulator.reset()
    salesforce_emulator.set_clock(reset=True)
    return salesforce_emulator
