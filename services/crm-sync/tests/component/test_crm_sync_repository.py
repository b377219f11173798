"""The repository on SQLite and PostgreSQL: one code path, every table, claims in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from leadflow_crm_sync.adapters.repository import Repository, UnitOfWork
from leadflow_crm_sync.domain.conversion import ConvertedIds
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.testing import T0

pytestmark = pytest.mark.component


async def test_unit_of_work_round_trip(database_url: str) -> None:
    from leadflow_platform.db import create_engine

    engine = create_engine(database_url)
    repo = Repository(engine)
    try:
        await repo.create_tables()
        await repo.create_tables()  # idempotent
        state = LeadState(
            lead_id="l1",
            salesforce_id="00Q000000000001AAA",
            content_hash="h" * 64,
            owner_id="005000000000001AAA",
            submitted_at=T0,
            key_account=True,
            sla_status="On Track",
        )
        unit = UnitOfWork(
            states={"l1": state},
            tasks=[("callback-abc", "l1", "callback", "00T000000000001AAA")],
            conversions=[("00Q000000000001AAA", "l1", ConvertedIds("001A", "003C", "006O"))],
            claims=["e1", "e2"],
        )
        unit.defer("Lead|upsert|l1", "l1", "lead_update", {"content_hash": "x"})
        assert await repo.commit(unit, T0) == {"e1", "e2"}
        loaded = await repo.load_states(["l1", "missing"])
        assert loaded == {"l1": state}
        assert (await repo.state_by_salesforce_id("00Q000000000001AAA")) == state
        assert await repo.task_ids(["callback-abc", "other"]) == {"callback-abc": "00T000000000001AAA"}
        assert await repo.conversion("00Q000000000001AAA") == ConvertedIds("001A", "003C", "006O")
        assert [d[0] for d in await repo.deferred_writes()] == ["Lead|upsert|l1"]
        assert await repo.already_processed(["e1", "e3"]) == {"e1"}

        again = UnitOfWork(
            states={"l1": state.with_(sla_status="Breached", converted=True)},
            tasks=[("callback-abc", "l1", "callback", "00T000000000001AAA")],
            claims=["e2", "e3"],
        )
        again.undefer("Lead|upsert|l1")
        assert await repo.commit(again, T0 + timedelta(minutes=1)) == {"e3"}, "e2 was claimed already"
        (after,) = (await repo.load_states(["l1"])).values()
        assert after.sla_status == "Breached" and after.converted is True and after.submitted_at == T0
        assert await repo.count_deferred() == 0
    finally:
        await engine.dispose()
