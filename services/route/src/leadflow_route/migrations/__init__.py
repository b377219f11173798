"""Schema revisions of the route database, applied at start-up by `MIGRATIONS.upgrade(engine)`.

After changing a table, write the next revision (see leadflow_platform.migrations):
    .venv/bin/python -m leadflow_platform.migrations new leadflow_route.migrations "what changed"
"""

from pathlib import Path

from leadflow_platform.db import idempotency_metadata
from leadflow_platform.migrations import Migrations

from leadflow_route.adapters.tables import metadata as route_metadata

MIGRATIONS = Migrations(
    Path(__file__).parent / "versions",
    (
        route_metadata,
        idempotency_metadata,
    ),
)
