import argparse
from datetime import date

import pytest
from leadflow_enrich.adapters.mirror_repository import MirrorRepository
from leadflow_enrich.cli import register
from leadflow_enrich.testing import account, contact
from leadflow_platform.db import create_engine

pytestmark = pytest.mark.integration


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_check_validates_the_policy(tmp_path, capsys) -> None:
    assert run(["enrich", "check"]) == 0
    assert "ok: enrich-" in capsys.readouterr().out
    bad = tmp_path / "p.yaml"
    bad.write_text("version: x\nmatching: {fuzzy_threshold: 5}\n")
    assert run(["enrich", "check", "--policy", str(bad)]) == 1
    assert "matching.fuzzy_threshold" in capsys.readouterr().err


async def test_match_ranks_the_mirror_accounts(sqlite_url: str, capsys) -> None:
    engine = create_engine(sqlite_url)
    repo = MirrorRepository(engine)
    await repo.create_tables()
    async with engine.begin() as conn:
        await repo.upsert(
            conn,
            "Account",
            [
                account("001A", "Nord AS", website="nord.no", last_activity=date(2025, 1, 1)),
                account("001B", "Nord Holding AS", website="nord.no", key_account=True),
            ],
        )
        await repo.upsert(conn, "Contact", [contact("003A", "001A", "x@nord.no")])
    await engine.dispose()
    await asyncio_run_in_thread(["enrich", "match", "--database-url", sqlite_url, "--email", "kari@nord.no"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "001" in line]
    assert lines[0].startswith("-> 001B 'Nord Holding AS' email_domain")
    assert "001A" in lines[1]


async def asyncio_run_in_thread(argv: list[str]) -> None:
    import asyncio

    assert await asyncio.to_thread(run, argv) == 0
