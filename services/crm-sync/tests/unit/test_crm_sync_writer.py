"""The micro-batcher and retry engine against the hand-written fake gateway (no sockets)."""

from __future__ import annotations

import asyncio

import pytest
from leadflow_crm_sync.adapters.gateway import SalesforceCallError
from leadflow_crm_sync.domain.backoff import Backoff
from leadflow_crm_sync.domain.ids import LEAD_EXTERNAL_ID
from leadflow_crm_sync.domain.policy import WriteKind
from leadflow_crm_sync.domain.writes import Outcome, RecordWrite, SaveResult
from leadflow_crm_sync.testing import FakeSalesforce
from leadflow_crm_sync.writer import BatchWriter, Unavailable, WriterConfig

pytestmark = pytest.mark.unit
FAST = WriterConfig(
    linger_seconds=0.002,
    backoff=Backoff(base=0.01, cap=0.05),
    rate_limit_backoff=Backoff(base=0.05, cap=0.2),
    hold_seconds=2.0,
    max_record_retries=3,
)


def lead(i: int, **extra: object) -> RecordWrite:
    return RecordWrite(
        "Lead",
        "upsert",
        f"lead-{i}",
        {"LastName": f"L{i}", "Company": "C", **extra},
        WriteKind.NEW_LEAD,
        ext_field=LEAD_EXTERNAL_ID,
    )


async def test_writes_are_grouped_into_collections_calls_of_at_most_200() -> None:
    fake = FakeSalesforce()
    writer = BatchWriter(fake, FAST)
    results = await writer.write([lead(i) for i in range(450)])
    assert [len(c.records) for c in fake.writes()] == [200, 200, 50]
    assert all(isinstance(r, SaveResult) and r.outcome is Outcome.CREATED for r in results)
    assert len(fake.table("Lead")) == 450


async def test_writes_from_concurrent_callers_share_a_call() -> None:
    fake = FakeSalesforce()
    writer = BatchWriter(fake, WriterConfig(linger_seconds=0.05))
    a, b = await asyncio.gather(writer.write([lead(1), lead(2)]), writer.write([lead(3)]))
    assert len(fake.writes()) == 1 and len(fake.writes()[0].records) == 3
    assert {r.id for r in (*a, *b) if isinstance(r, SaveResult)} == set(fake.table("Lead"))


async def test_the_same_record_twice_goes_into_separate_calls_in_order() -> None:
    fake = FakeSalesforce()
    writer = BatchWriter(fake, FAST)
    await asyncio.gather(writer.write([lead(1, Rating="Cold")]), writer.write([lead(1, Rating="Hot")]))
    assert [len(c.records) for c in fake.writes()] == [1, 1]
    assert next(iter(fake.table("Lead").values()))["Rating"] == "Hot"


async def test_locked_rows_are_retried_alone_until_they_succeed() -> None:
    fake = FakeSalesforce(record_errors={"lead-2": [("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access")] * 2})
    writer = BatchWriter(fake, FAST)
    results = await writer.write([lead(1), lead(2), lead(3)])
    assert [len(c.records) for c in fake.writes()] == [3, 1, 1]
    assert fake.writes()[1].records[0][LEAD_EXTERNAL_ID] == "lead-2"
    assert all(isinstance(r, SaveResult) and r.ok for r in results)


async def test_a_record_locked_for_too_long_stays_unavailable_not_dead_lettered() -> None:
    fake = FakeSalesforce(record_errors={"lead-1": [("UNABLE_TO_LOCK_ROW", "locked")] * 10})
    (result,) = await BatchWriter(fake, FAST).write([lead(1)])
    assert isinstance(result, Unavailable)


async def test_permanent_record_errors_come_back_with_the_salesforce_code() -> None:
    fake = FakeSalesforce()
    (bad, good) = await BatchWriter(fake, FAST).write(
        [RecordWrite("Lead", "upsert", "x", {"LastName": "only"}, WriteKind.NEW_LEAD, LEAD_EXTERNAL_ID), lead(2)]
    )
    assert isinstance(bad, SaveResult) and bad.outcome is Outcome.FAILED and bad.status_code == "REQUIRED_FIELD_MISSING"
    assert isinstance(good, SaveResult) and good.ok
    assert len(fake.writes()) == 1, "a per-record failure does not cost extra calls"


async def test_server_errors_back_off_and_retry_the_whole_call() -> None:
    fake = FakeSalesforce(
        fail_calls=[
            SalesforceCallError("retry", 503, "SERVER_UNAVAILABLE", "down"),
            SalesforceCallError("retry", None, "ReadTimeout", "timed out"),
        ]
    )
    writer = BatchWriter(fake, FAST)
    results = await writer.write([lead(1), lead(2)])
    assert all(isinstance(r, SaveResult) and r.ok for r in results)
    assert len(fake.writes()) == 3 and writer.stats.failed_calls == 2
    assert len(fake.table("Lead")) == 2


async def test_rate_limit_pauses_every_call_then_resumes() -> None:
    fake = FakeSalesforce(fail_calls=[SalesforceCallError("rate_limited", 403, "REQUEST_LIMIT_EXCEEDED", "limit")])
    writer = BatchWriter(fake, FAST)
    calls_at: list[float] = []
    loop = asyncio.get_running_loop()
    fake.on_call = lambda _c: calls_at.append(loop.time())
    results = await writer.write([lead(1)])
    assert isinstance(results[0], SaveResult) and results[0].ok
    assert writer.stats.rate_limited == 1
    # Backoff(base=0.05, jitter=0.5): the first pause is at least 0.025 s.
    assert calls_at[1] - calls_at[0] >= 0.025, "waited for the rate-limit backoff, did not spin"
    assert writer.paused_for() == 0.0 and writer.pause_reason is None


async def test_outage_longer_than_the_hold_time_resolves_unavailable() -> None:
    fake = FakeSalesforce(fail_calls=[SalesforceCallError("retry", 503, "SERVER_UNAVAILABLE", "down")] * 1000)
    writer = BatchWriter(
        fake, WriterConfig(linger_seconds=0.001, backoff=Backoff(base=0.05, cap=0.1), hold_seconds=0.4)
    )
    results = await writer.write([lead(1), lead(2)])
    assert all(isinstance(r, Unavailable) for r in results)
    assert len(fake.writes()) < 15, "backoff, not a tight loop"
    assert fake.table("Lead") == {}


async def test_a_bad_request_is_split_so_only_the_bad_record_fails() -> None:
    fake = FakeSalesforce(fail_calls=[SalesforceCallError("bad_request", 400, "JSON_PARSER_ERROR", "bad json")])
    results = await BatchWriter(fake, FAST).write([lead(1), lead(2), lead(3)])
    assert [len(c.records) for c in fake.writes()] == [3, 1, 1, 1]
    assert all(isinstance(r, SaveResult) and r.ok for r in results)
    fake2 = FakeSalesforce(fail_calls=[SalesforceCallError("bad_request", 400, "JSON_PARSER_ERROR", "bad json")] * 2)
    (only,) = await BatchWriter(fake2, FAST).write([lead(1)])
    assert isinstance(only, SaveResult) and only.outcome is Outcome.FAILED and only.status_code == "JSON_PARSER_ERROR"


async def test_generic_call_retries_transient_errors_and_raises_bad_requests() -> None:
    fake = FakeSalesforce(
        fail_calls=[SalesforceCallError("session", 401, "INVALID_SESSION_ID", "expired")], users=[{"Id": "005A"}]
    )
    writer = BatchWriter(fake, FAST)
    assert await writer.call(lambda: fake.query("SELECT Id FROM User WHERE IsActive = true")) == [{"Id": "005A"}]
    fake.fail_calls = [SalesforceCallError("bad_request", 400, "MALFORMED_QUERY", "bad")]
    with pytest.raises(SalesforceCallError):
        await writer.call(lambda: fake.query("SELECT"))


async def test_without_a_linger_a_batch_and_callers_of_the_same_loop_turn_share_one_call() -> None:
    fake = FakeSalesforce()
    writer = BatchWriter(fake, WriterConfig())
    assert writer.config.linger_seconds == 0
    a, b = await asyncio.gather(writer.write([lead(1), lead(2)]), writer.write([lead(3)]))
    assert [len(c.records) for c in fake.writes()] == [3]
    assert all(isinstance(r, SaveResult) and r.ok for r in (*a, *b))
    await writer.write([lead(4)])
    assert [len(c.records) for c in fake.writes()] == [3, 1]


async def test_without_a_linger_a_write_does_not_wait_for_a_timer() -> None:
    fake = FakeSalesforce()
    writer = BatchWriter(fake, WriterConfig(linger_seconds=0))
    loop = asyncio.get_running_loop()
    timers: list[float] = []
    original = loop.call_later

    def call_later(delay: float, *args: object) -> asyncio.TimerHandle:
        timers.append(delay)
        return original(delay, *args)  # type: ignore[arg-type]

    loop.call_later = call_later  # type: ignore[method-assign]
    try:
        await writer.write([lead(1)])
    finally:
        del loop.call_later  # type: ignore[method-assign]
    assert fake.writes() and all(delay == 0 for delay in timers)
