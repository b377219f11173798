"""identity_claims on SQLite and PostgreSQL: replicas racing on the same people agree on one root each."""

import asyncio
from datetime import UTC, datetime

import pytest
from leadflow_enrich.adapters.identity_claims import IdentityClaims
from leadflow_enrich.domain.identity import Candidate
from leadflow_platform.db import create_engine

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


async def test_two_replicas_claim_the_same_people_concurrently(database_url: str) -> None:
    engines = [create_engine(database_url), create_engine(database_url)]
    replicas = [IdentityClaims(e) for e in engines]
    await replicas[0].create_tables()
    people = 60
    # replica 0 gets the first submission of each person, replica 1 the second (other lead ids, other order)
    first = [Candidate(f"a-{i}", (f"email:p{i}@x.no", f"phone:+4790000{i:03d}")) for i in range(people)]
    second = [
        Candidate(f"b-{i}", (f"email:p{i}@x.no",) if i % 2 else (f"phone:+4790000{i:03d}",))
        for i in reversed(range(people))
    ]
    try:
        plans = await asyncio.gather(
            *(r.resolve(b, lambda _: True, NOW) for r, b in zip(replicas, (first, second), strict=True))
        )
        root = {c.lead_id: c.lead_id for c in first + second}
        for plan in plans:
            root.update({lead: d.root for lead, d in plan.duplicates.items()})
        for i in range(people):
            assert root[f"a-{i}"] == root[f"b-{i}"], i  # one person, one root, whoever was first
            assert {root[f"a-{i}"]} <= {f"a-{i}", f"b-{i}"}
        async with engines[0].connect() as conn:
            table = await replicas[0].owners(conn, [k for c in first for k in c.keys])
        assert all(table[k] == root[c.lead_id] for c in first for k in c.keys)
        # redelivery of both batches: the same decisions, nothing written
        again = await replicas[1].resolve(second, lambda _: True, NOW)
        assert {lead: d.root for lead, d in again.duplicates.items()} == {
            c.lead_id: root[c.lead_id] for c in second if root[c.lead_id] != c.lead_id
        }
    finally:
        for e in engines:
            await e.dispose()
