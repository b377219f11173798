"""Import a generated 100,000-row CSV over a fresh embedded broker and print rows/s.

    .venv/bin/python libs/importer/bench/bench_import.py [--rows 100000] [--with-intake]

With --with-intake the intake service runs in-process too and the figure includes waiting for
every verdict (accepted/rejected) to come back.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import tempfile
import time
from pathlib import Path

from leadflow_importer.runner import ImportOptions, run_import
from leadflow_platform.embedded_kafka import EmbeddedKafka


def make_file(path: Path, rows: int) -> None:
    rng = random.Random(1)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["Vorname", "Nachname", "E-Mail", "Telefon", "Firma", "Land", "Kommentar"])
        for i in range(rows):
            w.writerow(
                [
                    f"Anna{i}",
                    "Müller",
                    f"anna{i}@firma{i % 500}.example",
                    f"+49 30 {rng.randint(1000000, 9999999)}",
                    f"Firma {i % 500} GmbH",
                    "DE",
                    "Bitte\nzurückrufen" if i % 50 == 0 else "",
                ]
            )


async def main(rows: int, with_intake: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="leadflow-import-bench-"))
    path = tmp / "list.csv"
    make_file(path, rows)
    with EmbeddedKafka() as kafka:
        from leadflow_platform.topics_admin import ensure_topics

        await ensure_topics(kafka.bootstrap)
        app = None
        if with_intake:
            from leadflow_intake.app import create_app
            from leadflow_intake.settings import IntakeSettings

            app = create_app(
                IntakeSettings(kafka_bootstrap=kafka.bootstrap, database_url=f"sqlite+aiosqlite:///{tmp / 'intake.db'}")
            )
            ctx = app.router.lifespan_context(app)
            await ctx.__aenter__()
        started = time.perf_counter()
        summary = await run_import(
            ImportOptions(
                path=path,
                campaign="bench",
                bootstrap=kafka.bootstrap,
                wait_seconds=120 if with_intake else 0,
                ledger=tmp / "ledger.sqlite",
                progress_stream=io.StringIO(),
            )
        )
        elapsed = time.perf_counter() - started
        if app is not None:
            await ctx.__aexit__(None, None, None)
    print(f"file: {rows:,} rows, {path.stat().st_size / 1e6:.1f} MB, UTF-8 with BOM, ';' separator")
    print(f"published {summary.published:,} in {elapsed:.2f}s = {summary.read / elapsed:,.0f} rows/s")
    if with_intake:
        print(
            f"intake verdicts: accepted {summary.accepted:,}, rejected {summary.rejected_by_intake:,}, "
            f"missing {summary.no_verdict:,}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--with-intake", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.with_intake))
