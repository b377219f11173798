"""Schema revisions of the intake database, applied at start-up by `MIGRATIONS.upgrade(engine)`.

After changing a table, write the next revision (see leadflow_platform.migrations):
    .venv/bin/python -m leadflow_platform.migrations new leadflow_intake.migrations "what changed"
"""

from pathlib import Path

from leadflow_platform.db import idempotency_metadata
from leadflow_platform.migrations import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "versions", (idempotency_metadata,))
