from __future__ import annotations

import pytest
from leadflow_crm_sync.adapters.repository import UnitOfWork

pytestmark = pytest.mark.unit


def test_a_later_write_of_the_same_record_supersedes_a_deferred_one() -> None:
    u = UnitOfWork()
    u.defer("sla|l1", "l1", "sla_status", {"sla_status": "Warning"})
    u.undefer("sla|l1")
    assert u.deferred == [] and u.undeferred == ["sla|l1"]


def test_a_deferral_after_a_write_in_the_same_batch_is_kept() -> None:
    u = UnitOfWork()
    u.undefer("Lead|upsert|l1")
    u.defer("Lead|upsert|l1", "l1", "lead_update", {"content_hash": "b"})
    u.defer("Lead|upsert|l1", "l1", "lead_update", {"content_hash": "c"})
    assert u.undeferred == [] and [d[3]["content_hash"] for d in u.deferred] == ["c"]
