"""Schema revisions of the telesales-sim database, applied at start-up by `MIGRATIONS.upgrade(engine)`.

After changing a table, write the next revision (see leadflow_platform.migrations):
    .venv/bin/python -m leadflow_platform.migrations new leadflow_telesales_sim.migrations "what changed"
"""

from pathlib import Path

from leadflow_platform.migrations import Migrations

from leadflow_telesales_sim.adapters.repository import metadata as telesales_sim_metadata

MIGRATIONS = Migrations(Path(__file__).parent / "versions", (telesales_sim_metadata,))
