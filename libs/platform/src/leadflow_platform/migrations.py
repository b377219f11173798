"""Schema migrations with Alembic, one code path for SQLite and PostgreSQL.

Each service keeps its revisions in its own package (``leadflow_<service>/migrations/versions``) and
describes them with a :class:`Migrations`; at start-up it calls ``await MIGRATIONS.upgrade(engine)``
instead of ``metadata.create_all``. No ``alembic.ini`` and no ``env.py`` are needed: the revisions
run through Alembic's programmatic :class:`~alembic.runtime.environment.EnvironmentContext` on the
service's own connection, in one transaction, with batch mode so ALTERs work on SQLite too.

A database made by a release from before migrations (tables present, no ``alembic_version``) is
stamped at the baseline revision first and then upgraded, so upgrading keeps its rows.

``python -m leadflow_platform.migrations new <module> <message>`` writes the next revision by
comparing a database upgraded to the newest revision with the service's SQLAlchemy metadata
(Alembic autogenerate); ``check`` lists differences (a test runs it for every service).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, TypeDecorator, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_platform.db import create_engine

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Migrations:
    """A service's revisions (a ``versions`` folder) and the metadata they must reach."""

    versions: Path
    metadata: Sequence[MetaData]
    baseline: str = "0001"

    def config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.versions.parent))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(self.versions))
        return config

    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    def merged_metadata(self) -> MetaData:
        merged = MetaData()
        for md in self.metadata:
            for table in md.tables.values():
                if table.name not in merged.tables:
                    table.to_metadata(merged)
        return merged

    async def upgrade(self, engine: AsyncEngine, revision: str = "head") -> None:
        async with engine.begin() as conn:
            await conn.run_sync(self.upgrade_sync, revision)

    def upgrade_sync(self, connection: Connection, revision: str = "head") -> None:
        script = self.script()
        tables = set(inspect(connection).get_table_names())
        if tables - {VERSION_TABLE} and VERSION_TABLE not in tables:
            # Made by a release before migrations: its tables are the baseline revision's.
            self._run(connection, script, lambda rev, ctx: script._stamp_revs(self.baseline, rev))
        self._run(connection, script, lambda rev, ctx: script._upgrade_revs(revision, rev))

    def _run(self, connection: Connection, script: ScriptDirectory, fn: Any) -> None:
        with EnvironmentContext(self.config(), script, fn=fn) as env:
            env.configure(
                connection=connection,
                target_metadata=self.merged_metadata(),
                render_as_batch=True,
                transactional_ddl=True,
            )
            env.run_migrations()

    def current(self, connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    def differences(self, connection: Connection) -> list[Any]:
        """What the database lacks or has extra compared with the metadata (empty = in step)."""
        ctx = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
        return [d for d in compare_metadata(ctx, self.merged_metadata()) if not _ignored(d)]


def _ignored(diff: Any) -> bool:
    # Alembic's own bookkeeping table is not part of the service's metadata.
    return isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == VERSION_TABLE


def load(module: str) -> Migrations:
    """The ``MIGRATIONS`` object of a service's migrations package, e.g. ``leadflow_route.migrations``."""
    found = getattr(importlib.import_module(module), "MIGRATIONS", None)
    if not isinstance(found, Migrations):
        raise SystemExit(f"{module} defines no MIGRATIONS = Migrations(...)")
    return found


def _next_revision(script: ScriptDirectory) -> tuple[str, str | None]:
    heads = script.get_heads()
    if len(heads) > 1:
        raise SystemExit(f"several heads {heads}: merge them first")
    head = heads[0] if heads else None
    number = int(head) + 1 if head and head.isdigit() else 1
    return f"{number:04d}", head


def write_revision(migrations: Migrations, message: str, engine_url: str | None = None) -> Path | None:
    """Autogenerate the next revision from the difference between head and the metadata."""

    async def diff() -> Any:
        with tempfile.TemporaryDirectory() as tmp:
            engine = create_engine(engine_url or f"sqlite+aiosqlite:///{tmp}/schema.db")
            try:
                await migrations.upgrade(engine)
                async with engine.connect() as conn:
                    return await conn.run_sync(
                        lambda c: produce_migrations(
                            MigrationContext.configure(c, opts={"compare_type": True}), migrations.merged_metadata()
                        )
                    )
            finally:
                await engine.dispose()

    ops = asyncio.run(diff())
    if ops.upgrade_ops.is_empty():
        return None
    script = migrations.script()
    revision, head = _next_revision(script)
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    upgrade = render_python_code(ops.upgrade_ops, render_as_batch=True, render_item=_render_item)
    downgrade = render_python_code(ops.downgrade_ops, render_as_batch=True, render_item=_render_item)
    body = (
        f'"""{message}\n\nRevision {revision}, after {head or "nothing"}. Generated by '
        f'`python -m leadflow_platform.migrations new`; review before committing."""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "{revision}"\ndown_revision = {head!r}\nbranch_labels = None\ndepends_on = None\n\n\n'
        f"def upgrade() -> None:\n{_indent(upgrade)}\n\n\ndef downgrade() -> None:\n{_indent(downgrade)}\n"
    )
    migrations.versions.mkdir(parents=True, exist_ok=True)
    target = migrations.versions / f"{revision}_{slug}.py"
    target.write_text(body)
    return target


def _render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    """A service's TypeDecorator (e.g. aware UTC datetimes) is stored as its plain SQL type."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _indent(code: str) -> str:
    lines = [line for line in code.splitlines() if line.strip() and not line.strip().startswith("# ###")]
    return "\n".join("    " + line.strip() if not line.startswith("    ") else line for line in lines) or "    pass"


def _check(modules: Iterable[str]) -> int:
    failed = 0
    for module in modules:
        migrations = load(module)

        async def run(m: Migrations = migrations) -> list[Any]:
            with tempfile.TemporaryDirectory() as tmp:
                engine = create_engine(f"sqlite+aiosqlite:///{tmp}/check.db")
                try:
                    await m.upgrade(engine)
                    async with engine.connect() as conn:
                        return await conn.run_sync(m.differences)
                finally:
                    await engine.dispose()

        diffs = asyncio.run(run())
        print(f"{module}: {'in step' if not diffs else diffs}")
        failed += bool(diffs)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leadflow_platform.migrations")
    sub = parser.add_subparsers(dest="cmd", required=True)
    new = sub.add_parser("new", help="write the next revision of a service from its metadata")
    new.add_argument("module", help="e.g. leadflow_route.migrations")
    new.add_argument("message")
    check = sub.add_parser("check", help="non-zero when a service's metadata is ahead of its revisions")
    check.add_argument("modules", nargs="+")
    args = parser.parse_args(argv)
    if args.cmd == "new":
        written = write_revision(load(args.module), args.message)
        print(written or "no difference: nothing written")
        return 0
    return _check(args.modules)


if __name__ == "__main__":
    # Run the importable module's main, so services' Migrations objects are instances of its class.
    from leadflow_platform import migrations as _importable

    sys.exit(_importable.main())
