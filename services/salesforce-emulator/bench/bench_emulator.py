"""Sustained sObject Collections upserts/s (200-record batches) and SOQL queries/s against a real emulator.

    .venv/bin/python services/salesforce-emulator/bench/bench_emulator.py [--seconds 10] [--data file.db]

Starts the emulator (HTTPS, SQLite file in a temp dir by default), logs in with simple-salesforce through
leadflow_salesforce.connect, then upserts Leads by Leadflow_Id__c via
`sf.restful('composite/sobjects/Lead/Leadflow_Id__c', method='PATCH', json=...)` in a bounded loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from leadflow_salesforce import connect
from leadflow_salesforce.testing import running_emulator


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--data", help="SQLite file (default: a temp file, WAL)")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="sfemu-bench-")
    data = args.data or str(Path(tmp) / "bench.db")
    with running_emulator(data=data) as emu:
        emu.configure(dailyApiLimit=10_000_000)
        sf = connect(emu.salesforce_settings())
        n = 0
        batches = 0
        created = 0
        start = time.perf_counter()
        deadline = start + args.seconds
        while time.perf_counter() < deadline and batches < 100_000:
            records = [
                {
                    "attributes": {"type": "Lead"},
                    "Leadflow_Id__c": f"bench-{(n + i) % 20000}",
                    "LastName": f"Lead {n + i}",
                    "Company": f"Company {(n + i) % 997}",
                    "Email": f"lead{n + i}@example.com",
                    "Score__c": (n + i) % 100,
                    "Status": "Open - Not Contacted",
                    "Country": "Norway",
                    "Language__c": "no",
                }
                for i in range(args.batch)
            ]
            res = sf.restful(
                "composite/sobjects/Lead/Leadflow_Id__c", method="PATCH", json={"allOrNone": False, "records": records}
            )
            assert all(r["success"] for r in res), res[:3]
            created += sum(1 for r in res if r.get("created"))
            n += args.batch
            batches += 1
        upsert_s = time.perf_counter() - start
        print(
            f"collections upsert: {n} records in {batches} batches of {args.batch} over {upsert_s:.1f}s "
            f"= {n / upsert_s:,.0f} records/s ({batches / upsert_s:.1f} requests/s; {created} created, "
            f"{n - created} updated)"
        )

        queries = 0
        start = time.perf_counter()
        deadline = start + args.seconds
        while time.perf_counter() < deadline and queries < 1_000_000:
            key = f"bench-{queries % 20000}"
            r = sf.query(f"SELECT Id, Name, Status, Owner.Name FROM Lead WHERE Leadflow_Id__c = '{key}'")
            assert r["totalSize"] <= 1
            queries += 1
        q_s = time.perf_counter() - start
        print(f"SOQL by external id: {queries} queries over {q_s:.1f}s = {queries / q_s:,.0f} queries/s")

        pages = 0
        start = time.perf_counter()
        res = sf.query_all("SELECT Id, Leadflow_Id__c, SystemModstamp FROM Lead ORDER BY SystemModstamp, Id")
        pages_s = time.perf_counter() - start
        pages = (len(res["records"]) + 1999) // 2000
        print(f"SOQL full scan with paging: {len(res['records'])} records, {pages} pages in {pages_s:.2f}s")


if __name__ == "__main__":
    main()
