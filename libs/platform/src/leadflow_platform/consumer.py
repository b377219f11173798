"""The consumer runtime every service uses: raw batch → parse once → use case → publish → commit.

One FastStream batch subscriber per service hands the records as they came (``RawRecord``) to a
``ConsumerRuntime``, which

1. parses every record once into its contract type (by topic). A record that is not a valid contract
   event is *poison*: it becomes a ``DeadLetter`` (reason, message, lead id from the key, original bytes,
   deterministic event id) built by ``kafka_io.dead_letter`` — the one dead-letter builder;
2. calls the service's use case with the parsed ``Batch``; the use case returns the events to publish
   (``Outgoing``), or publishes them itself through the same ``BatchPublisher`` when it must publish
   inside its own transaction;
3. publishes the outputs and the dead letters with one acknowledgement round per batch;
4. returns; the batch's own offsets are committed by a background task (``BackgroundCommitter``, setting
   ``commit_in_background``), so the consume loop does not wait a broker round trip per batch; a failed
   batch is nacked and rewound (``AckPolicy.NACK_ON_ERROR``) and none of its offsets is committed.

Failure policy, the same in every service:

- **Infrastructure errors** (connection, timeout, database, broker — see ``is_infrastructure_error``)
  are logged with their message (``consumer_batch_failed``), counted
  (``leadflow_consumer_batch_failures_total``) and re-raised: the ack policy nacks the batch and
  FastStream ≥ 0.7.8 rewinds *every* partition of the batch to its first record. The capped, jittered
  exponential back-off is a pause, as for a wait (below): the batch's partitions are paused on the consumer
  and resumed by a loop timer, so the handler returns at once, the fetch loop and heartbeats go on and the
  member's other partitions keep flowing during the back-off. No in-handler retry loop, no sleep.
- **Deterministic errors** (anything else: a ``ValueError``/``KeyError`` in domain code, a calendar that
  cannot produce a due time, an explicit ``DomainError``): the batch is split in halves until the
  failing record is alone; that record is tried once more, and if it fails *the same way twice*
  (same exception type and message) it goes to the dead-letter topic with its lead id, the exception
  message and its original bytes (``reason="processing_error"``), is logged (``record_dead_lettered``
  with ``lead_id`` and ``error``) and counted (``leadflow_dead_letters_total``; alert
  ``LeadflowRecordsDeadLettered``). Every other record of the batch is processed; the partition moves on.
- **Waits a dependency asks for** (a Salesforce ``REQUEST_LIMIT_EXCEEDED``, an outage, a revoked session):
  the use case raises ``RetryAfter(seconds, reason)``. The runtime pauses the batch's partitions on the
  consumer (``AIOKafkaConsumer.pause``; the whole assignment with ``whole_assignment=True``), nacks the
  batch so FastStream seeks every partition back to its first record, and resumes them from a loop timer.
  Nothing sleeps in the handler: the fetch loop keeps polling (empty) and heartbeats run, so a wait of
  minutes keeps the group membership; metric ``leadflow_consumer_waits_total`` counts them and
  ``leadflow_consumer_paused_seconds`` shows what is left of a wait or back-off.

Every runtime ``subscribe`` registers is recorded for its broker (``consumers_of``): the service's
``/readyz`` (``build_http_app``) shows each one's ``status()`` (waiting or backing off, paused partitions,
consecutive failures, age of the last batch) and turns red when its fetch task is gone (``fetching()``).

Example (what a service's ``handlers.py`` looks like)::

    from leadflow_platform.consumer import Batch, BatchPublisher, ConsumerRuntime, Outgoing, subscribe

    class ScoreService:                       # services/<x>/src/leadflow_<x>/service.py
        async def __call__(self, batch: Batch) -> list[Outgoing]:
            return [Outgoing.of(self.scored_topic, score(item.event, batch.now)) for item in batch.items]

    def register(broker, settings, service):
        runtime = ConsumerRuntime(
            service=settings.service_name,
            contracts={settings.topic(topics.LEADS_ENRICHED): LeadEnriched},
            use_case=service,
            publisher=BatchPublisher(broker),
            deadletter_topic=settings.topic(topics.LEADS_DEADLETTER),
            settings=settings,
        )
        return subscribe(broker, settings, runtime, title="score/leads.enriched")

Batch size, batch window, consumer group, back-off and the group options (partition assignment strategy,
max poll interval, session timeout, heartbeat) come from ``ServiceSettings`` (``batch_max_records``,
``batch_timeout_ms``, ``group_id()``, ``retry_backoff_*``, ``partition_assignment_strategy``,
``max_poll_interval_ms``, ``session_timeout_ms``, ``heartbeat_interval_ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import random
import sqlite3
import time
import weakref
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.errors import KafkaError
from faststream.exceptions import FastStreamException, NackMessage
from faststream.message import AckStatus
from leadflow_contracts import DeadLetter, Event
from leadflow_contracts.topics import LEADS_DEADLETTER as DEADLETTER_TOPIC
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from leadflow_platform.broker import DEFAULT_ACK_POLICY
from leadflow_platform.clock import Clock, SystemClock
from leadflow_platform.kafka_io import JSON_HEADERS, RawRecord, dead_letter, raw_batch_decoder, validation_summary
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import (
    CONSUMER_BATCH_FAILURES,
    CONSUMER_COMMITS,
    CONSUMER_PAUSED_SECONDS,
    CONSUMER_PHASE_SECONDS,
    CONSUMER_WAITS,
    EVENTS_FAILED,
    EVENTS_IN,
    EVENTS_OUT,
    HANDLER_SECONDS,
    RECORDS_DEAD_LETTERED,
)
from leadflow_platform.settings import ServiceSettings

log = get_logger("leadflow_platform.consumer")

E = TypeVar("E", bound=Event)
T = TypeVar("T")

PROCESSING_ERROR = "processing_error"
INVALID_EVENT = "invalid_event"


class DomainError(Exception):
    """Raise (or subclass) for an error that a retry cannot fix: the record is dead-lettered."""


class InfrastructureError(Exception):
    """Raise (or subclass) for an error a retry can fix: the batch is backed off and read again."""


class RetryAfter(Exception):
    """Raise from a use case when a dependency says when to try again (a rate limit, an outage).

    The runtime pauses the batch's partitions for ``seconds`` (every assigned partition with
    ``whole_assignment``: the dependency is shared by all of them), rewinds the batch and resumes the
    partitions on a timer; the handler never sleeps. Whatever the use case already did for the batch must
    be idempotent (it is read again), as with every redelivery.
    """

    def __init__(self, seconds: float, reason: str = "", *, whole_assignment: bool = False) -> None:
        super().__init__(f"retry after {seconds:.3f}s: {reason}" if reason else f"retry after {seconds:.3f}s")
        self.seconds = max(0.0, float(seconds))
        self.reason = reason
        self.whole_assignment = whole_assignment


_INFRA: tuple[type[BaseException], ...] = (
    InfrastructureError,
    OSError,  # ConnectionError, TimeoutError, socket and file errors
    asyncio.TimeoutError,
    sqlite3.OperationalError,  # "database is locked"
    KafkaError,
    FastStreamException,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # connection pool exhausted
)
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock: run it again


def _transient_database_error(exc: BaseException) -> bool:
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return bool(exc.connection_invalidated) or code in _RETRYABLE_SQLSTATES


def is_infrastructure_error(exc: BaseException) -> bool:
    """True for errors a later attempt can succeed on (network, broker, database availability, timeouts).

    A ``DomainError`` is never infrastructure; an exception whose cause/context is infrastructure is.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DomainError | RetryAfter):
            return False
        if isinstance(current, _INFRA) or _transient_database_error(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def failure_signature(exc: BaseException) -> tuple[str, str]:
    """What "the same way" means: the exception type and its message."""
    return type(exc).__qualname__, str(exc)[:1000]


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential back-off with full jitter: attempt n waits uniform(0.5, 1) × min(cap, base × 2ⁿ⁻¹)."""

    initial_seconds: float = 0.2
    max_seconds: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        if attempt <= 0 or self.max_seconds <= 0:
            return 0.0
        ceiling = min(self.max_seconds, self.initial_seconds * (2 ** min(attempt - 1, 30)))
        jitter: float = (rng or random).random()
        return float(ceiling * (0.5 + 0.5 * jitter))

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> RetryPolicy:
        return cls(settings.retry_backoff_initial_seconds, settings.retry_backoff_max_seconds)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish: topic, key (the lead id) and the JSON bytes."""

    topic: str
    key: bytes | None
    value: bytes

    @classmethod
    def of(cls, topic: str, event: Event) -> Outgoing:
        return cls(topic, event.kafka_key(), event.to_json_bytes())


class Producer(Protocol):
    async def publish(
        self, message: Any, topic: str = ..., *, key: Any = ..., headers: Any = ..., no_confirm: bool = ...
    ) -> Any: ...


class BatchPublisher:
    """Hands every message to the producer (``no_confirm``), then awaits all acknowledgements at once.

    The producer batches them (linger), so a batch costs one broker round trip; a failure raises here,
    before the consumer commits. The in-memory ``TestKafkaBroker`` delivers inline and returns nothing.
    """

    def __init__(self, broker: Producer, service: str = "leadflow") -> None:
        self.broker = broker
        self.service = service

    async def publish_all(self, messages: Sequence[Outgoing]) -> None:
        if not messages:
            return
        pending: list[Awaitable[Any]] = []
        for m in messages:
            sent = await self.broker.publish(m.value, m.topic, key=m.key, headers=JSON_HEADERS, no_confirm=True)
            if inspect.isawaitable(sent):
                pending.append(sent)
        if pending:
            await asyncio.gather(*pending)
        for topic, n in Tally(m.topic for m in messages).items():
            EVENTS_OUT.labels(self.service, topic).inc(n)

    async def publish_events(self, topic: str, events: Sequence[Event]) -> None:
        await self.publish_all([Outgoing.of(topic, e) for e in events])


@dataclass(frozen=True, slots=True)
class Consumed(Generic[E]):
    """A record and the contract event parsed from it (once)."""

    record: RawRecord
    event: E

    @property
    def lead_id(self) -> str:
        return self.event.lead_id


@dataclass(frozen=True, slots=True)
class Poison:
    """A record that is not a valid contract event, from a topic whose poison the use case keeps itself
    (``ConsumerRuntime(keep_poison_from=…)``, e.g. ops reading the dead-letter topics: re-dead-lettering
    those would loop)."""

    record: RawRecord
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Batch:
    """What a use case receives: the parsed records in arrival order, kept poison, and one clock reading."""

    items: Sequence[Consumed[Any]]
    now: datetime
    poison: Sequence[Poison] = ()
    raw: Sequence[RawRecord] = ()
    """Records of raw topics (``contracts[topic] = None``): the service judges the bytes itself (intake)."""
    behind: int = 0
    """Records still in Kafka behind this batch on its partitions (high watermark − next offset), as far as
    the consumer knows: a use case can switch to a bulk path for a backlog."""

    def of(self, topic: str) -> list[Any]:
        """The events that came from ``topic``."""
        return [c.event for c in self.items if c.record.topic == topic]

    def __len__(self) -> int:
        return len(self.items) + len(self.poison) + len(self.raw)


UseCase = Callable[[Batch], Awaitable[Sequence[Outgoing] | None]]


@dataclass
class ConsumerRuntime:
    """Parse once, run the use case, publish with one confirm, apply the failure policy (module docstring)."""

    service: str
    contracts: Mapping[str, type[Event] | None]
    """Real topic name (prefix included) → the contract type its records are parsed as (``None``: handed
    over unparsed in ``Batch.raw``)."""
    use_case: UseCase
    publisher: BatchPublisher
    deadletter_topic: str
    settings: ServiceSettings | None = None
    clock: Clock = field(default_factory=SystemClock)
    retry: RetryPolicy | None = None
    name: str = ""
    """Subscriber name for metrics and logs (defaults to the service name)."""
    keep_poison_from: frozenset[str] = frozenset()
    count_in: bool = True
    """Count consumed records in ``leadflow_events_in_total`` (off when the use case counts them itself)."""
    subscriber: Any = None
    """The FastStream subscriber ``subscribe`` registered (its ``consumer`` shows the partition assignment)."""
    monotonic: Callable[[], float] = time.monotonic
    consecutive_failures: int = 0
    processed: int = 0
    dead_lettered: int = 0
    waits: int = 0
    """Batches a use case asked to retry later (``RetryAfter``)."""
    paused_until: float = 0.0
    """``monotonic()`` time until which partitions are paused (0 = not waiting)."""
    wait_reason: str | None = None
    last_batch_at: float | None = None
    """``monotonic()`` time the last batch was processed (None before the first)."""
    _paused: set[TopicPartition] = field(default_factory=set)
    _resume: asyncio.TimerHandle | None = None
    _phases: dict[str, float] = field(default_factory=dict)
    _handled_at: float | None = None

    def __post_init__(self) -> None:
        if self.retry is None:
            self.retry = RetryPolicy.from_settings(self.settings) if self.settings is not None else RetryPolicy()
        self.name = self.name or self.service

    @property
    def topics(self) -> list[str]:
        return list(self.contracts)

    # -- the batch -------------------------------------------------------------------------------

    async def handle(self, records: Sequence[RawRecord]) -> None:
        """The FastStream handler body. Raises on a wait (``RetryAfter``) or an infrastructure error, after
        pausing the batch's partitions for the wait or back-off; the caller nacks, so the batch is rewound."""
        started = time.perf_counter()
        self._handled_at = None
        self._phases = {"waited": _mean_age(records, time.time())}
        now = self.clock.now()
        if self.count_in:
            for topic, n in Tally(r.topic for r in records).items():
                EVENTS_IN.labels(self.service, topic).inc(n)
        items, poison, raw, letters = self.parse(records, now)
        self._phases["parse"] = time.perf_counter() - started
        try:
            out = await self._run(Batch(items, now, poison, raw, self.behind(records)), letters)
        except RetryAfter as wait:
            self.wait(records, wait)
            raise
        except Exception as exc:
            self._back_off(records, exc)
            raise
        self.consecutive_failures = 0
        self.processed += len(records)
        self.last_batch_at = self.monotonic()
        HANDLER_SECONDS.labels(self.service, self.name).observe(time.perf_counter() - started)
        for phase, seconds in self._phases.items():
            CONSUMER_PHASE_SECONDS.labels(self.service, self.name, phase).observe(seconds)
        self._handled_at = time.perf_counter()
        log.info(
            "batch_processed",
            subscriber=self.name,
            received=len(records),
            published=out,
            dead_lettered=len(letters),
            seconds=round(time.perf_counter() - started, 4),
        )

    def parse(
        self, records: Sequence[RawRecord], now: datetime
    ) -> tuple[list[Consumed[Any]], list[Poison], list[RawRecord], list[DeadLetter]]:
        items: list[Consumed[Any]] = []
        poison: list[Poison] = []
        raw: list[RawRecord] = []
        letters: list[DeadLetter] = []
        for rec in records:
            model = self.contracts.get(rec.topic)
            if model is None and rec.topic in self.contracts:
                raw.append(rec)
                continue
            if model is None:
                reason, message = "unknown_topic", f"{self.service} has no contract for topic {rec.topic}"
            else:
                try:
                    items.append(Consumed(rec, model.model_validate_json(rec.value)))
                    continue
                except ValidationError as exc:
                    reason, message = INVALID_EVENT, validation_summary(exc)
            if rec.topic in self.keep_poison_from:
                poison.append(Poison(rec, reason, message))
            else:
                letters.append(dead_letter(self.service, rec, reason, message, now))
        return items, poison, raw, letters

    async def _timed(self, phase: str, step: Awaitable[T]) -> T:
        """Await ``step`` and add its time to ``phase`` of the batch's budget (``leadflow_consumer_phase_seconds``)."""
        started = time.perf_counter()
        try:
            return await step
        finally:
            self._phases[phase] = self._phases.get(phase, 0.0) + time.perf_counter() - started

    def polled(self) -> None:
        """The subscriber asks for its next batch: the time since the last handler returned is FastStream's
        acknowledgement, the ``ack`` phase (the offset commit round trip, unless it runs in the background)."""
        if self._handled_at is not None:
            seconds = time.perf_counter() - self._handled_at
            CONSUMER_PHASE_SECONDS.labels(self.service, self.name, "ack").observe(seconds)
            self._handled_at = None

    def reject(self, item: Consumed[Any], reason: str, message: str, now: datetime) -> Outgoing:
        """A dead letter for a record the use case decided it cannot handle (e.g. route: no owner at all),
        built, logged and counted like the runtime's own; the use case returns it with its outputs."""
        letter = dead_letter(self.service, item.record, reason, message, now, lead_id=item.lead_id)
        self.record_letter(letter)
        return Outgoing.of(self.deadletter_topic, letter)

    async def _run(self, batch: Batch, letters: list[DeadLetter]) -> int:
        """Run the use case on the whole batch; on a non-infrastructure error, isolate the failing records."""
        try:
            done = await self._timed("use_case", self.use_case(batch))
            out = list(done or ())
        except Exception as exc:
            if isinstance(exc, RetryAfter) or is_infrastructure_error(exc) or len(batch) == 0:
                raise
            if letters:  # poison first: it is already known, whatever the use case does next
                await self._publish([], letters)
            return await self._isolate(batch, exc)
        await self._publish(out, letters)
        return len(out)

    async def _isolate(self, batch: Batch, exc: Exception) -> int:
        if len(batch) == 1:
            return await self._second_chance(batch, exc)
        halves = _split(batch)
        published = 0
        for half in halves:
            published += await self._run(half, [])
        return published

    async def _second_chance(self, batch: Batch, first: Exception) -> int:
        try:
            done = await self._timed("use_case", self.use_case(batch))
            out = list(done or ())
        except Exception as again:
            if (
                isinstance(again, RetryAfter)
                or is_infrastructure_error(again)
                or failure_signature(again) != failure_signature(first)
            ):
                raise again from first
            await self._dead_letter_failed(batch, again)
            return 0
        await self._publish(out, [])
        return len(out)

    async def _dead_letter_failed(self, batch: Batch, exc: Exception) -> None:
        lead_id: str | None = None
        if batch.items:
            record, lead_id = batch.items[0].record, batch.items[0].lead_id
        elif batch.raw:
            record = batch.raw[0]
        else:
            record = batch.poison[0].record
        letter = dead_letter(self.service, record, PROCESSING_ERROR, describe(exc), batch.now, lead_id=lead_id)
        await self._publish([], [letter], exc)

    async def _publish(self, out: list[Outgoing], letters: list[DeadLetter], exc: BaseException | None = None) -> None:
        messages = out + [Outgoing.of(self.deadletter_topic, d) for d in letters]
        await self._timed("publish", self.publisher.publish_all(messages))
        for d in letters:
            self.record_letter(d, exc)

    def record_letter(self, d: DeadLetter, exc: BaseException | None = None) -> None:
        """Count and log one dead letter: ERROR with the traceback for a record that failed twice, else WARNING.
        A use case that publishes its own dead letters (inside its transaction) calls this for each."""
        self.dead_lettered += 1
        RECORDS_DEAD_LETTERED.labels(self.service, d.topic, d.reason).inc()
        EVENTS_FAILED.labels(self.service, d.topic, d.reason).inc()
        emit = log.error if exc is not None else log.warning
        emit(
            "record_dead_lettered",
            subscriber=self.name,
            lead_id=d.lead_id,
            topic=d.topic,
            partition=d.detail.get("partition"),
            offset=d.detail.get("offset"),
            reason=d.reason,
            error=d.message[:300],
            dead_letter_id=d.event_id,
            exc_info=exc,
        )

    def _back_off(self, records: Sequence[RawRecord], exc: Exception) -> None:
        """Log and count a failed batch, and pause its partitions for the capped, jittered back-off: the
        handler returns at once (the caller re-raises, the batch is nacked and rewound) and the timer resumes
        the partitions, while the consumer's other partitions go on."""
        assert self.retry is not None
        self.consecutive_failures += 1
        delay = self.retry.delay(self.consecutive_failures)
        CONSUMER_BATCH_FAILURES.labels(self.service, self.name, type(exc).__name__).inc()
        partitions = sorted({f"{r.topic}/{r.partition}" for r in records})
        log.error(
            "consumer_batch_failed",
            subscriber=self.name,
            error=describe(exc),
            size=len(records),
            partitions=partitions,
            attempt=self.consecutive_failures,
            retry_in=round(delay, 3),
            infrastructure=is_infrastructure_error(exc),
            exc_info=exc,
        )
        if delay > 0:
            self._pause(records, delay, f"back-off after {describe(exc)}"[:300])

    # -- waits (RetryAfter): pause the partitions, rewind, resume on a timer ----------------------------

    @property
    def consumer(self) -> Any:
        """The subscriber's ``AIOKafkaConsumer`` while it runs (None under ``TestKafkaBroker``)."""
        consumer = getattr(self.subscriber, "consumer", None)
        return consumer if consumer is not None and hasattr(consumer, "pause") else None

    def behind(self, records: Sequence[RawRecord]) -> int:
        """Records still in Kafka behind this batch, summed over its partitions (from the fetch high watermarks)."""
        consumer = self.consumer
        if consumer is None or not records:
            return 0
        last: dict[tuple[str, int], int] = {}
        for r in records:
            key = (r.topic, r.partition)
            last[key] = max(last.get(key, -1), r.offset)
        total = 0
        for (topic, partition), offset in last.items():
            with contextlib.suppress(Exception):
                high = consumer.highwater(TopicPartition(topic, partition))
                if high is not None:
                    total += max(0, high - offset - 1)
        return total

    def paused_for(self) -> float:
        return max(0.0, self.paused_until - self.monotonic()) if self.paused_until else 0.0

    def fetching(self) -> bool | None:
        """Whether the subscriber's fetch task runs (None when there is no running Kafka consumer: not
        started, stopped, or the in-memory ``TestKafkaBroker``). FastStream restarts a fetch loop that
        raised; False means none is left, and ``/readyz`` turns red."""
        subscriber = self.subscriber
        if subscriber is None or self.consumer is None or not getattr(subscriber, "running", False):
            return None
        tasks = getattr(subscriber, "tasks", None)
        if tasks is None:
            return None
        return any(not task.done() for task in tasks)

    def status(self) -> dict[str, Any]:
        """What ``/readyz`` shows for this subscriber: consuming, waiting or backing off (why, for how long,
        which partitions), failures in a row, the age of the last batch and whether the fetch task runs."""
        left = self.paused_for()
        now = self.monotonic()
        return {
            "subscriber": self.name,
            "waiting": left > 0,
            "wait_seconds_left": round(left, 3),
            "wait_reason": self.wait_reason if left > 0 else None,
            "paused_partitions": sorted(f"{tp.topic}/{tp.partition}" for tp in self._paused),
            "waits": self.waits,
            "consecutive_failures": self.consecutive_failures,
            "last_batch_age_seconds": None if self.last_batch_at is None else round(now - self.last_batch_at, 3),
            "processed": self.processed,
            "dead_lettered": self.dead_lettered,
            "fetching": self.fetching(),
        }

    def wait(self, records: Sequence[RawRecord], request: RetryAfter) -> None:
        """Pause the batch's partitions (or the whole assignment) for ``request.seconds``; the caller nacks."""
        self.waits += 1
        CONSUMER_WAITS.labels(self.service, self.name).inc()
        partitions = self._pause(records, request.seconds, request.reason, whole_assignment=request.whole_assignment)
        log.warning(
            "consumer_waiting",
            subscriber=self.name,
            seconds=round(self.paused_for(), 3),
            reason=request.reason,
            size=len(records),
            partitions=sorted(f"{tp.topic}/{tp.partition}" for tp in partitions),
        )

    def _pause(
        self, records: Sequence[RawRecord], seconds: float, reason: str, *, whole_assignment: bool = False
    ) -> set[TopicPartition]:
        """Pause the records' partitions (or every assigned one) until ``seconds`` from now, or longer if a
        pause already runs: one deadline, one timer that resumes them all. Returns the partitions paused."""
        now = self.monotonic()
        until = now + seconds
        if until >= self.paused_until:
            self.wait_reason = reason or self.wait_reason
        self.paused_until = max(self.paused_until, until)
        CONSUMER_PAUSED_SECONDS.labels(self.service, self.name).set(self.paused_until - now)
        partitions = {TopicPartition(r.topic, r.partition) for r in records}
        consumer = self.consumer
        if consumer is not None:
            if whole_assignment:
                with contextlib.suppress(Exception):
                    partitions |= set(consumer.assignment())
            for tp in partitions:
                with contextlib.suppress(Exception):  # revoked meanwhile: nothing to pause
                    consumer.pause(tp)
                    self._paused.add(tp)
        if self._resume is not None:
            self._resume.cancel()
        self._resume = asyncio.get_running_loop().call_later(self.paused_until - now, self.resume)
        return partitions

    def resume(self) -> None:
        """Resume the partitions this runtime paused (those still assigned); the next fetch reads them again."""
        if self._resume is not None:
            self._resume.cancel()  # called early (shutdown, an operator): the timer has nothing left to do
            self._resume = None
        consumer = self.consumer
        resumed = sorted(f"{tp.topic}/{tp.partition}" for tp in self._paused)
        if consumer is not None:
            for tp in self._paused:
                with contextlib.suppress(Exception):  # no longer assigned: a rebalance already unpaused it
                    consumer.resume(tp)
        self._paused.clear()
        self.paused_until = 0.0
        CONSUMER_PAUSED_SECONDS.labels(self.service, self.name).set(0)
        log.info("consumer_resumed", subscriber=self.name, partitions=resumed, reason=self.wait_reason)
        self.wait_reason = None


_ASSIGNORS: dict[str, Any] = {
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
    "sticky": StickyPartitionAssignor,
}


def group_options(settings: ServiceSettings) -> dict[str, Any]:
    """The consumer-group options set in ``settings`` (unset ones keep the client's defaults)."""
    options: dict[str, Any] = {}
    if settings.partition_assignment_strategy is not None:
        options["partition_assignment_strategy"] = (_ASSIGNORS[settings.partition_assignment_strategy],)
    if settings.max_poll_interval_ms is not None:
        options["max_poll_interval_ms"] = settings.max_poll_interval_ms
    if settings.session_timeout_ms is not None:
        options["session_timeout_ms"] = settings.session_timeout_ms
    heartbeat = settings.heartbeat_interval_ms
    if heartbeat is None and settings.session_timeout_ms is not None:
        heartbeat = max(100, settings.session_timeout_ms // 10)
    if heartbeat is not None:
        options["heartbeat_interval_ms"] = heartbeat
    return options


def _mean_age(records: Sequence[RawRecord], now: float) -> float:
    """Mean seconds since the records' timestamps (0 when none has one; never negative)."""
    stamps = [r.timestamp_ms for r in records if r.timestamp_ms is not None and r.timestamp_ms > 0]
    return max(0.0, now - sum(stamps) / len(stamps) / 1000) if stamps else 0.0


def _split(batch: Batch) -> list[Batch]:
    """Two non-empty halves in arrival order (kept poison counts as records of its own)."""
    units: list[Consumed[Any] | Poison | RawRecord] = [*batch.items, *batch.raw, *batch.poison]
    mid = len(units) // 2
    halves = []
    for part in (units[:mid], units[mid:]):
        items = [u for u in part if isinstance(u, Consumed)]
        raw = [u for u in part if isinstance(u, RawRecord)]
        poison = [u for u in part if isinstance(u, Poison)]
        halves.append(Batch(items, batch.now, poison, raw, batch.behind))
    return [h for h in halves if len(h)]


def subscribe(
    broker: Any,
    settings: ServiceSettings,
    runtime: ConsumerRuntime,
    *,
    group_id: str | None = None,
    title: str | None = None,
    description: str | None = None,
) -> Any:
    """Register ``runtime`` as one batch subscriber on all its topics (one consumer-group member).

    Batch size and window, the group, its options (``group_options``) and the ack policy come from the
    settings; the decoder hands the raw records to the runtime, which parses them itself.
    """
    subscriber = broker.subscriber(
        *runtime.topics,
        group_id=group_id or settings.group_id(),
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        ack_policy=DEFAULT_ACK_POLICY,
        decoder=raw_batch_decoder,
        title=title or f"{settings.service_name}/{'+'.join(runtime.topics)}",
        description=description,
        **group_options(settings),
    )

    _poll_without_idle_sleep(subscriber, runtime)
    committer = (
        BackgroundCommitter(runtime.service, runtime.name, settings.commit_interval_ms / 1000)
        if settings.commit_in_background
        else None
    )
    if committer is not None:
        _flush_before_stop(subscriber, committer)

    # The message comes from the broker's context, not from a ``Context("message")`` parameter: FastDepends
    # resolves such a parameter by running its (sync) getter in anyio's worker thread, a thread hand-off per
    # batch: 5.6 % of intake's CPU samples at 200 leads/s on the consume loop, plus the worker thread's.
    scope = getattr(broker, "context", None)

    async def consume(records: list[Any]) -> None:
        try:
            await runtime.handle(records)
        except RetryAfter:
            raise NackMessage() from None  # partitions paused by the runtime; rewind, nothing to log twice
        if committer is None or scope is None:
            return
        message = scope.get_local("message")
        if committer.take(message, records):
            message.committed = AckStatus.ACKED  # FastStream's acknowledgement has nothing left to commit

    consume.__doc__ = description or runtime.use_case.__doc__ or f"{runtime.service} consumer"
    subscriber(consume)
    runtime.subscriber = subscriber
    _RUNTIMES.setdefault(broker, []).append(runtime)
    return subscriber


class BackgroundCommitter:
    """Commits a consumer's offsets off its consume loop (``ServiceSettings.commit_in_background``).

    ``take`` is called after a batch was handled and its outputs confirmed: it notes each partition's last
    record + 1 and starts a commit task unless one is running; acks that arrive while a commit is in flight
    are merged (highest offset per partition) and sent together next. The consume loop goes on to the next
    batch at once instead of waiting a broker round trip per batch. A failed commit (a rebalance took the
    partitions, the broker is gone) is logged and counted; offsets of partitions still assigned wait for the
    next commit. Anything not committed is read again after a restart or rebalance and recognised by its
    event ids, as after any crash between publish and commit. ``interval`` (``commit_interval_ms``) spaces
    the commits: one goes out at most that often, carrying every ack since the one before; ``flush`` sends
    the pending ones at once."""

    def __init__(self, service: str, name: str, interval: float = 0.0) -> None:
        self.service, self.name, self.interval = service, name, interval
        self.pending: dict[TopicPartition, int] = {}
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._last = -float("inf")  # loop time the last commit went out
        self._hurry = asyncio.Event()  # set by flush: what is pending goes out without waiting the interval

    def take(self, message: Any, records: Sequence[RawRecord]) -> bool:
        """Queue the batch's offsets; False when ``message`` has no real consumer (FastStream's test broker),
        which then acknowledges the usual way."""
        consumer = getattr(message, "consumer", None)
        if consumer is None or not hasattr(consumer, "commit") or getattr(message, "committed", None) is not None:
            return False
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            if r.offset + 1 > self.pending.get(tp, -1):
                self.pending[tp] = r.offset + 1
        self._consumer = consumer
        if self._task is None or self._task.done():
            self._start()
        return True

    def _start(self) -> asyncio.Task[None]:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"commit:{self.name}")
        return self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            delay = self._last + self.interval - loop.time()
            if delay > 0 and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):  # acks meanwhile join this commit
                    await asyncio.wait_for(self._hurry.wait(), delay)
            self._last = loop.time()
            offsets, self.pending = self.pending, {}
            try:
                await self._consumer.commit(offsets)
            except Exception as exc:
                CONSUMER_COMMITS.labels(self.service, self.name, "failed").inc()
                log.warning("offset_commit_failed", subscriber=self.name, error=describe(exc))
                with contextlib.suppress(Exception):
                    assigned = self._consumer.assignment()
                    for tp, offset in offsets.items():
                        if tp in assigned and offset > self.pending.get(tp, -1):
                            self.pending[tp] = offset
                return
            CONSUMER_COMMITS.labels(self.service, self.name, "ok").inc()

    async def flush(self) -> None:
        """Wait for the commit in flight and send what is pending, without waiting out the interval (before
        the consumer stops)."""
        self._hurry.set()
        try:
            if self._task is not None and not self._task.done():
                await asyncio.wait([self._task])  # never raises the task's error; leaves it running if cancelled
            if self.pending and self._consumer is not None:
                with contextlib.suppress(Exception):
                    await self._start()
        finally:
            self._hurry.clear()


def _flush_before_stop(subscriber: Any, committer: BackgroundCommitter) -> None:
    """The subscriber's ``stop`` sends the pending commit first, so a graceful stop reads nothing twice."""
    stop = getattr(subscriber, "stop", None)
    if stop is None:
        return

    async def flushing_stop(*args: Any, **kwargs: Any) -> Any:
        await committer.flush()
        return await stop(*args, **kwargs)

    subscriber.stop = flushing_stop


def _poll_without_idle_sleep(subscriber: Any, runtime: ConsumerRuntime | None = None) -> None:
    """FastStream's batch subscriber (``BatchSubscriber.get_msg``, 0.6 and 0.7) sleeps ``batch_timeout_ms``
    after every empty poll, on top of the poll's own wait. aiokafka's ``getmany`` already returns as soon
    as a record is there, so the sleep only delays a record that arrives during it: up to
    ``batch_timeout_ms`` per hop on an idle or lightly loaded pipeline. The runtime's subscribers poll
    again at once instead; an idle consumer still waits in ``getmany`` (its ``batch_timeout_ms``) between
    polls, not in a busy loop. A subscriber without that method (``TestKafkaBroker`` swaps in its own) is
    left alone."""
    if not hasattr(subscriber, "get_msg") or not hasattr(subscriber, "batch_timeout_ms"):
        return

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        if runtime is not None:
            runtime.polled()
        messages = await consumer.getmany(timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records)
        return tuple(itertools.chain.from_iterable(messages.values()))

    subscriber.get_msg = get_msg


_RUNTIMES: weakref.WeakKeyDictionary[Any, list[ConsumerRuntime]] = weakref.WeakKeyDictionary()


def consumers_of(broker: Any) -> list[ConsumerRuntime]:
    """The runtimes ``subscribe`` registered on ``broker``, in order (what ``/readyz`` shows)."""
    if broker is None:
        return []
    return list(_RUNTIMES.get(broker, ()))


def register_consumer(
    broker: Any,
    settings: ServiceSettings,
    contracts: Mapping[str, type[Event] | None],
    use_case: UseCase,
    *,
    clock: Clock | None = None,
    title: str | None = None,
    description: str | None = None,
    group_id: str | None = None,
    **options: Any,
) -> ConsumerRuntime:
    """Build the runtime for a service's use case (its publisher, dead-letter topic and back-off from the
    settings) and subscribe it: what every service's ``handlers.py`` calls. ``options`` go to
    ``ConsumerRuntime`` (``name``, ``keep_poison_from``, ``count_in``)."""
    runtime = ConsumerRuntime(
        service=settings.service_name,
        contracts=contracts,
        use_case=use_case,
        publisher=BatchPublisher(broker, settings.service_name),
        deadletter_topic=settings.topic(DEADLETTER_TOPIC),
        settings=settings,
        clock=clock or SystemClock(),
        **options,
    )
    subscribe(broker, settings, runtime, group_id=group_id, title=title, description=description)
    return runtime
