"""Schema revisions of the crm-changes database, applied at start-up by `MIGRATIONS.upgrade(engine)`.

After changing a table, write the next revision (see leadflow_platform.migrations):
    .venv/bin/python -m leadflow_platform.migrations new leadflow_crm_changes.migrations "what changed"
"""

from pathlib import Path

from leadflow_platform.migrations import Migrations

from leadflow_crm_changes.adapters.repository import metadata as crm_changes_metadata

MIGRATIONS = Migrations(Path(__file__).parent / "versions", (crm_changes_metadata,))
