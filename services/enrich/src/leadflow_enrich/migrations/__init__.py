"""Schema revisions of the enrich database, applied at start-up by `MIGRATIONS.upgrade(engine)`.

After changing a table, write the next revision (see leadflow_platform.migrations):
    .venv/bin/python -m leadflow_platform.migrations new leadflow_enrich.migrations "what changed"
"""

from pathlib import Path

from leadflow_platform.migrations import Migrations

from leadflow_enrich.adapters.identity_claims import metadata as identity_metadata
from leadflow_enrich.adapters.mirror_repository import metadata as enrich_metadata

MIGRATIONS = Migrations(Path(__file__).parent / "versions", (enrich_metadata, identity_metadata))
