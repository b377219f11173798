"""The micro-batcher and retry engine between crm-sync's handlers and Salesforce.

Writes submitted at about the same time (from any handler) are grouped per (mode, sObject, external-id
field) and sent as one sObject Collections call when 200 are waiting or ``linger`` has passed (by default
at the end of the event-loop turn in which the first of them was submitted). Each call
is retried the way Salesforce needs:

- per-record ``UNABLE_TO_LOCK_ROW`` (and other retriable codes): only those records again, with backoff;
- 5xx, timeouts, connection errors, expired sessions: the whole call again, exponential backoff + jitter;
- ``REQUEST_LIMIT_EXCEEDED``: every call pauses (``paused_until``) with a longer backoff;
- any other whole-request 400: the chunk is split so the bad record is found and only it fails;
- a record refused for named fields (``INVALID_EMAIL_ADDRESS``, ``STRING_TOO_LONG``, …): that record again
  in the next call without those values (``domain.fallback``), until it is written or nothing is left to drop.

A write that cannot be done within ``hold_seconds`` resolves to :class:`Unavailable`; the caller keeps its
messages in Kafka (no commit) and tries again later, so nothing is lost and nothing spins.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from leadflow_platform.logging import get_logger
from prometheus_client import Counter

from leadflow_crm_sync.adapters.gateway import SalesforceCallError, SalesforceGateway
from leadflow_crm_sync.domain.backoff import Backoff
from leadflow_crm_sync.domain.fallback import without_refused
from leadflow_crm_sync.domain.outcomes import classify_save_result
from leadflow_crm_sync.domain.writes import Outcome, RecordWrite, SaveResult

log = get_logger(__name__)
FIELDS_DROPPED = Counter(
    "leadflow_crm_fields_dropped_total",
    "Values Salesforce refused: the record was written without them",
    ["sobject", "field", "reason"],
)
T = TypeVar("T")
MAX_COLLECTION = 200
_AGAIN = object()


class Unavailable(Exception):
    """Salesforce could not take the write within the hold time (outage, limit, persistent lock)."""


@dataclass(frozen=True)
class WriterConfig:
    flush_size: int = MAX_COLLECTION
    linger_seconds: float = 0.0
    """0: a group goes out at the end of the event-loop turn (``CrmSyncSettings.linger_ms``)."""
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=30.0))
    rate_limit_backoff: Backoff = field(default_factory=lambda: Backoff(base=5.0, cap=300.0, jitter=0.2))
    hold_seconds: float = 60.0
    max_record_retries: int = 8
    bulk_min_records: int = 1000
    """In backlog mode, an upsert group this large goes through one Bulk API 2.0 job instead of Collections."""
    placeholders: Mapping[tuple[str, str], Any] = field(default_factory=dict)
    """(sObject, required field) → the value that stands in when Salesforce refuses the real one."""


@dataclass
class _Item:
    write: RecordWrite
    future: asyncio.Future[SaveResult]
    attempts: int = 0


@dataclass
class WriterStats:
    calls: int = 0
    records: int = 0
    retried_records: int = 0
    dropped_fields: int = 0
    bulk_jobs: int = 0
    bulk_records: int = 0
    failed_calls: int = 0
    rate_limited: int = 0
    call_seconds: float = 0.0
    busy_seconds: float = 0.0
    """Wall time with at least one call in flight."""


class BatchWriter:
    def __init__(
        self,
        gateway: SalesforceGateway,
        config: WriterConfig | None = None,
        *,
        rng: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.config = config or WriterConfig()
        self._rng = rng
        self._now = monotonic
        self._pending: dict[tuple[str, str, str | None], list[_Item]] = {}
        self._keys: dict[tuple[str, str, str | None], set[str]] = {}
        self._timers: dict[tuple[str, str, str | None], asyncio.TimerHandle] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        self.paused_until = 0.0
        self.pause_reason: str | None = None
        self._rate_attempt = 0
        self._fail_attempt = 0
        self.stats = WriterStats()
        self._in_flight = 0
        self._busy_since = 0.0

    # ---- pause state -------------------------------------------------------------------------------
    def paused_for(self) -> float:
        return max(0.0, self.paused_until - self._now())

    def _pause(self, seconds: float, reason: str) -> None:
        until = self._now() + seconds
        if until > self.paused_until:
            self.paused_until = until
            self.pause_reason = reason
            log.warning("salesforce_paused", seconds=round(seconds, 3), reason=reason)

    def _on_error(self, e: SalesforceCallError) -> None:
        if e.kind == "rate_limited":
            self._rate_attempt += 1
            self.stats.rate_limited += 1
            self._pause(
                self.config.rate_limit_backoff.delay(self._rate_attempt, self._rng()),
                f"{e.code or 'REQUEST_LIMIT_EXCEEDED'}: {e.message}",
            )
        elif e.kind == "session":
            self._pause(0.05, "session expired: logging in again")
        else:
            self._fail_attempt += 1
            self._pause(self.config.backoff.delay(self._fail_attempt, self._rng()), f"{e.status} {e.code}: {e.message}")

    def _on_success(self) -> None:
        self._rate_attempt = 0
        self._fail_attempt = 0
        self.pause_reason = None

    async def _wait_open(self, deadline: float) -> None:
        while True:
            wait = self.paused_for()
            if wait <= 0:
                return
            if self._now() + wait > deadline:
                raise Unavailable(f"Salesforce paused for {wait:.1f}s more: {self.pause_reason}")
            await asyncio.sleep(wait)

    def _call_started(self) -> float:
        now = self._now()
        if self._in_flight == 0:
            self._busy_since = now
        self._in_flight += 1
        return now

    def _call_ended(self, started: float) -> None:
        now = self._now()
        self.stats.call_seconds += now - started
        self._in_flight -= 1
        if self._in_flight == 0:
            self.stats.busy_seconds += now - self._busy_since

    # ---- generic call with the same retry rules (convertLead, queries) ------------------------------
    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one gateway call with pause/backoff; raises Unavailable or a bad_request SalesforceCallError."""
        deadline = self._now() + self.config.hold_seconds
        while True:
            await self._wait_open(deadline)
            try:
                result = await fn()
            except SalesforceCallError as e:
                self.stats.failed_calls += 1
                if e.kind == "bad_request":
                    raise
                self._on_error(e)
                continue
            self._on_success()
            return result

    # ---- batching ----------------------------------------------------------------------------------
    async def write(self, writes: list[RecordWrite]) -> list[SaveResult | Unavailable]:
        """Submit writes; one SaveResult (or Unavailable) per write, in order."""
        futures = [self._enqueue(w) for w in writes]
        results = await asyncio.gather(*futures, return_exceptions=True)
        out: list[SaveResult | Unavailable] = []
        for r in results:
            if isinstance(r, SaveResult | Unavailable):
                out.append(r)
            elif isinstance(r, BaseException):
                raise r
        return out

    async def write_bulk(self, writes: list[RecordWrite]) -> list[SaveResult | Unavailable]:
        """Backlog mode: each large upsert group as one Bulk API 2.0 job; the rest (and what a job refuses or
        leaves unprocessed) through Collections, with the same retries and field-level fallback."""
        groups: dict[tuple[str, str, str | None], list[int]] = {}
        for i, w in enumerate(writes):
            groups.setdefault(w.group(), []).append(i)
        out: list[SaveResult | Unavailable | None] = [None] * len(writes)
        small: list[int] = []
        again: dict[int, RecordWrite] = {}
        for (mode, sobject, ext_field), idx in groups.items():
            if mode != "upsert" or ext_field is None or len(idx) < self.config.bulk_min_records:
                small += idx
                continue
            results = await self._bulk_group(sobject, ext_field, [writes[i] for i in idx])
            for i, res in zip(idx, results, strict=True):
                if isinstance(res, RecordWrite):
                    again[i] = res
                else:
                    out[i] = res
        redo = {i: writes[i] for i in small} | again
        for i, res in zip(redo, await self.write(list(redo.values())), strict=True):
            out[i] = res
        return [r if r is not None else Unavailable("no result") for r in out]

    async def _bulk_group(
        self, sobject: str, ext_field: str, writes: list[RecordWrite]
    ) -> list[SaveResult | Unavailable | RecordWrite]:
        """One Bulk job; a RecordWrite for a record to send again through Collections (without the values the
        job refused, or as it was when it was not processed)."""
        try:
            raw = await self.call(lambda: self.gateway.bulk_upsert(sobject, ext_field, [w.record() for w in writes]))
        except Unavailable as e:
            return [Unavailable(str(e)) for _ in writes]
        except SalesforceCallError as e:
            log.warning("salesforce_bulk_refused", sobject=sobject, records=len(writes), code=e.code)
            return list(writes)  # e.g. Bulk API not enabled: Collections it is
        self.stats.bulk_jobs += 1
        self.stats.bulk_records += len(writes)
        results: list[SaveResult | Unavailable | RecordWrite] = []
        for w, item in zip(writes, raw, strict=True):
            res = classify_save_result(item, "upsert")
            if res.ok or res.outcome is Outcome.CONVERTED_LEAD:
                results.append(res)
                continue
            smaller = without_refused(w, res, self.config.placeholders)
            if smaller is not None:
                self._note_dropped(smaller, len(w.dropped))
            results.append(smaller or w)
        log.info(
            "salesforce_bulk_job",
            sobject=sobject,
            records=len(writes),
            again=sum(1 for r in results if isinstance(r, RecordWrite)),
        )
        return results

    def _enqueue(self, write: RecordWrite) -> asyncio.Future[SaveResult]:
        loop = asyncio.get_running_loop()
        group = write.group()
        if write.key in self._keys.get(group, ()):
            self._seal(group)  # the same record twice in one call is refused: send the first one now
        chunk = self._pending.setdefault(group, [])
        self._keys.setdefault(group, set()).add(write.key)
        fut: asyncio.Future[SaveResult] = loop.create_future()
        chunk.append(_Item(write, fut))
        if len(chunk) >= self.config.flush_size:
            self._seal(group)
        elif group not in self._timers:
            self._timers[group] = loop.call_later(self.config.linger_seconds, self._seal, group)
        return fut

    def _seal(self, group: tuple[str, str, str | None]) -> None:
        timer = self._timers.pop(group, None)
        if timer is not None:
            timer.cancel()
        chunk = self._pending.pop(group, [])
        self._keys.pop(group, None)
        if chunk:
            task = asyncio.get_running_loop().create_task(self._flush(group, chunk))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def drain(self) -> None:
        """Send everything waiting and wait for the calls in flight (shutdown)."""
        for group in list(self._pending):
            self._seal(group)
        while self._flushes:
            await asyncio.gather(*list(self._flushes), return_exceptions=True)

    async def _flush(self, group: tuple[str, str, str | None], chunk: list[_Item]) -> None:
        try:
            await self._send(group, chunk, self._now() + self.config.hold_seconds)
        except Exception as e:  # never leave a caller waiting
            log.exception("salesforce_flush_failed", sobject=group[1], mode=group[0])
            for it in chunk:
                if not it.future.done():
                    it.future.set_exception(Unavailable(f"{type(e).__name__}: {e}"))

    async def _send(self, group: tuple[str, str, str | None], chunk: list[_Item], deadline: float) -> None:
        todo = chunk
        lock_round = 0
        while todo:
            raw = await self._call(group, todo, deadline)
            if raw is None:
                return  # settled: unavailable, failed or split
            if raw is _AGAIN:
                continue
            assert isinstance(raw, list)
            again, reduced = self._settle(group[0], todo, raw)
            if reduced and not again:
                todo = reduced  # without the refused values, at once (no backoff: nothing to wait for)
                continue
            again += reduced
            if again:
                lock_round += 1
                if not await self._back_off(group[1], again, lock_round, deadline):
                    return
            todo = again

    async def _call(
        self, group: tuple[str, str, str | None], todo: list[_Item], deadline: float
    ) -> list[Any] | object | None:
        """One Collections call: its answers, ``_AGAIN`` (retry the call), or None (every item settled)."""
        mode, sobject, ext_field = group
        try:
            await self._wait_open(deadline)
        except Unavailable as e:
            for it in todo:
                it.future.set_exception(Unavailable(str(e)))
            return None
        self.stats.calls += 1
        self.stats.records += len(todo)
        started = self._call_started()
        try:
            raw = await self.gateway.save(mode, sobject, ext_field, [it.write.record() for it in todo])  # type: ignore[arg-type]
        except SalesforceCallError as e:
            self._call_ended(started)
            self.stats.failed_calls += 1
            if e.kind != "bad_request":
                self._on_error(e)
                return _AGAIN
            await self._bad_request(group, todo, deadline, e)
            return None
        self._call_ended(started)
        self._on_success()
        return raw

    async def _bad_request(
        self, group: tuple[str, str, str | None], todo: list[_Item], deadline: float, e: SalesforceCallError
    ) -> None:
        """A whole-request 400: split the chunk so only the bad record fails."""
        if len(todo) > 1:
            log.warning("salesforce_bad_request_split", sobject=group[1], records=len(todo), code=e.code)
            for it in todo:
                await self._send(group, [it], deadline)
            return
        todo[0].future.set_result(
            SaveResult(Outcome.FAILED, status_code=e.code or f"HTTP_{e.status}", message=e.message)
        )

    def _settle(self, mode: str, todo: list[_Item], raw: list[Any]) -> tuple[list[_Item], list[_Item]]:
        """Resolve each record's future; returns (to retry after a pause, to send again without refused values)."""
        again: list[_Item] = []
        reduced: list[_Item] = []
        for it, item in zip(todo, raw, strict=True):
            result = classify_save_result(item, mode)  # type: ignore[arg-type]
            if result.outcome is Outcome.RETRY:
                it.attempts += 1
                if it.attempts <= self.config.max_record_retries:
                    again.append(it)
                else:
                    it.future.set_exception(Unavailable(f"{result.status_code}: {result.message}"))
                continue
            smaller = without_refused(it.write, result, self.config.placeholders)
            if smaller is not None:
                self._note_dropped(smaller, len(it.write.dropped))
                it.write = smaller
                reduced.append(it)
                continue
            it.future.set_result(replace(result, dropped=it.write.dropped) if it.write.dropped else result)
        return again, reduced

    async def _back_off(self, sobject: str, again: list[_Item], lock_round: int, deadline: float) -> bool:
        """Wait before retrying locked records; False (and Unavailable for them) past the hold time."""
        self.stats.retried_records += len(again)
        delay = self.config.backoff.delay(lock_round, self._rng())
        if self._now() + delay > deadline:
            for it in again:
                it.future.set_exception(Unavailable("record still locked after retries"))
            return False
        log.info("salesforce_records_retry", sobject=sobject, records=len(again), delay=round(delay, 3))
        await asyncio.sleep(delay)
        return True

    def _note_dropped(self, write: RecordWrite, before: int) -> None:
        for d in write.dropped[before:]:
            self.stats.dropped_fields += 1
            FIELDS_DROPPED.labels(write.sobject, d.field, d.code).inc()
            log.info("salesforce_field_dropped", sobject=write.sobject, key=write.key, field=d.field, code=d.code)


def describe_result(result: Any) -> str:
    if isinstance(result, SaveResult):
        return f"{result.outcome.value} {result.status_code or ''}".strip()
    return type(result).__name__
