"""Schema revisions of the sla-monitor database, applied at start-up by `MIGRATIONS.upgrade(engine)`.

After changing a table, write the next revision (see leadflow_platform.migrations):
    .venv/bin/python -m leadflow_platform.migrations new leadflow_sla_monitor.migrations "what changed"
"""

from pathlib import Path

from leadflow_platform.db import idempotency_metadata
from leadflow_platform.migrations import Migrations

from leadflow_sla_monitor.adapters.store import metadata as sla_monitor_metadata

MIGRATIONS = Migrations(
    Path(__file__).parent / "versions",
    (
        sla_monitor_metadata,
        idempotency_metadata,
    ),
)
