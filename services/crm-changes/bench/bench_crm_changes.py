"""Change-feed throughput: N rep changes in the emulator → CrmChange events on the real embedded broker.

    .venv/bin/python services/crm-changes/bench/bench_crm_changes.py [--changes 50000] [--profile]

Starts the emulator (HTTPS) and an embedded Tansu broker, seeds N Leads written by a rep (one
transaction), runs the feed until every change is published, and prints changes/s delivered, the
API calls it took, and the time of the de-duplicating re-read of the overlap window.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from leadflow_crm_changes.app import create_app
from leadflow_crm_changes.settings import CrmChangesSettings
from leadflow_platform.embedded_kafka import EmbeddedKafka
from leadflow_platform.logging import configure_logging
from leadflow_salesforce.testing import running_emulator
from leadflow_sf_emulator.ids import mint


async def run(n: int, bootstrap: str, emu, db: str) -> None:
    rep = mint("005", 901, pod="RP")
    emu.seed(
        {
            "records": {
                "User": [
                    {"Id": rep, "Username": "bench.rep@leadflow-test.example", "LastName": "Rep", "IsActive": True}
                ]
            }
        }
    )
    settings = CrmChangesSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=f"bench{int(time.time())}.",
        database_url=db,
        salesforce=emu.salesforce_settings(),
        overlap_seconds=2.0,
        start_from="latest",
        log_level="WARNING",
    )
    app = create_app(settings, run_feed=False)
    async with app.router.lifespan_context(app):
        feed = app.state.feed
        await feed.step()
        emu.seed(
            {
                "records": {
                    "Lead": [
                        {
                            "LastName": f"B{i}",
                            "Company": "Bench",
                            "Leadflow_Id__c": f"bench-{i:06d}",
                            "OwnerId": rep,
                            "CreatedById": rep,
                            "LastModifiedById": rep,
                        }
                        for i in range(n)
                    ]
                }
            }
        )
        t0 = time.perf_counter()
        while feed.totals.emitted < n:
            await feed.step()
        delivered = time.perf_counter() - t0
        calls = feed.totals.api_calls
        t1 = time.perf_counter()
        await feed.step()
        reread = time.perf_counter() - t1
        t2 = time.perf_counter()
        await feed.step()
        idle = time.perf_counter() - t2
    print(
        f"changes delivered: {feed.totals.emitted} in {delivered:.1f}s = {n / delivered:,.0f} changes/s "
        f"({calls} API calls)"
    )
    print(
        f"overlap re-read of {feed.totals.duplicates} versions (de-duplicated): {reread:.1f}s; "
        f"idle poll of {len(settings.objects)} objects: {idle * 1000:.0f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--changes", type=int, default=50_000)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    configure_logging("bench", level="WARNING")
    tmp = Path(tempfile.mkdtemp(prefix="crmchanges-bench-"))
    kafka = EmbeddedKafka(log_file=tmp / "tansu.log").start()
    try:
        kafka.create_topics()
        with running_emulator() as emu:
            coro = run(args.changes, kafka.bootstrap, emu, f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
            if args.profile:
                prof = cProfile.Profile()
                prof.runcall(asyncio.run, coro)
                pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
            else:
                asyncio.run(coro)
    finally:
        kafka.stop()


if __name__ == "__main__":
    main()
