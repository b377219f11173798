"""Run an import: read → map → validate → publish (batched) → wait for intake's verdicts → report."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from leadflow_contracts import topics
from leadflow_intake.domain.emails import EmailPolicy
from leadflow_platform.offsets import end_offsets_of_topics

from leadflow_importer.mapping import MappingFile, detect
from leadflow_importer.reader import RowSource
from leadflow_importer.rows import Built, build


@dataclass
class ImportOptions:
    path: Path
    source_kind: str = "list_upload"
    campaign: str = ""
    source_system: str = "list-import"
    bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = ""
    mapping: MappingFile | None = None
    wait_seconds: float = 60.0
    ledger: Path | None = None
    force: bool = False
    sheet: str | None = None
    batch_size: int = 2000
    progress_stream: TextIO | None = None
    default_region: str | None = None
    """Intake's default region for this source (so local verdicts equal intake's)."""
    email_internationalization: bool = False
    """Intake's INTAKE_EMAIL_ADDRESS_INTERNATIONALIZATION (the org has Salesforce EAI on)."""
    run_started: datetime | None = None
    """The time that names this run's rejects file (default: now)."""


@dataclass
class ImportSummary:
    read: int = 0
    published: int = 0
    already_imported: int = 0
    rejected_locally: int = 0
    accepted: int = 0
    rejected_by_intake: int = 0
    no_verdict: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    contact_notes: Counter[str] = field(default_factory=Counter)
    """Accepted rows whose contact data intake will not take as given: e-mail not stored, phone unverified."""
    unmapped_columns: list[str] = field(default_factory=list)
    mapped_columns: dict[str, str] = field(default_factory=dict)
    rejects_file: Path | None = None
    summary_file: Path | None = None
    seconds: float = 0.0
    encoding: str | None = None
    delimiter: str | None = None

    def lines(self) -> list[str]:
        rate = self.read / self.seconds if self.seconds else 0.0
        out = [
            f"read {self.read} rows in {self.seconds:.1f}s ({rate:,.0f} rows/s)",
            f"published {self.published}, already imported {self.already_imported}, "
            f"rejected locally {self.rejected_locally}",
            f"intake verdicts: accepted {self.accepted}, rejected {self.rejected_by_intake}, "
            f"no verdict yet {self.no_verdict}",
        ]
        for reason, n in self.reasons.most_common():
            out.append(f"  {reason}: {n}")
        for note, n in self.contact_notes.most_common():
            out.append(f"accepted with {note}: {n}")
        if self.unmapped_columns:
            out.append("columns not imported: " + ", ".join(self.unmapped_columns))
        if self.rejects_file:
            out.append(f"rejected rows with reasons: {self.rejects_file}")
        if self.summary_file:
            out.append(f"this summary: {self.summary_file}")
        return out


def run_paths(path: Path, started: datetime) -> tuple[Path, Path]:
    """This run's rejects file and summary, named by the run's start (UTC), never overwriting an earlier
    run's: ``FILE.rejects.20261204T163205Z.csv`` and ``FILE.rejects.20261204T163205Z.summary.txt``."""
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    n = 0
    while True:
        suffix = stamp if n == 0 else f"{stamp}-{n}"
        rejects = path.with_name(f"{path.stem}.rejects.{suffix}.csv")
        summary = path.with_name(f"{path.stem}.rejects.{suffix}.summary.txt")
        if not rejects.exists() and not summary.exists():
            return rejects, summary
        n += 1


class Ledger:
    """Event ids this machine has already published (so a re-import publishes nothing twice)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS published (event_id TEXT PRIMARY KEY, at TEXT)")

    def known(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = f"SELECT event_id FROM published WHERE event_id IN ({','.join('?' * len(chunk))})"  # noqa: S608
            found.update(r[0] for r in self.db.execute(q, chunk))
        return found

    def add(self, ids: list[str]) -> None:
        now = datetime.now(UTC).isoformat()
        self.db.executemany("INSERT OR IGNORE INTO published VALUES (?, ?)", [(i, now) for i in ids])
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def _bar(stream: TextIO, done: float, rows: int, started: float) -> None:
    elapsed = max(1e-6, time.monotonic() - started)
    rate = rows / elapsed
    eta = (elapsed / done - elapsed) if done > 0 else 0
    width = 30
    filled = int(width * done)
    stream.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done * 100:5.1f}%  {rows:,} rows  {rate:,.0f} rows/s  "
        f"ETA {eta:4.0f}s"
    )
    stream.flush()


async def _end_offsets(bootstrap: str, names: list[str]) -> dict[TopicPartition, int]:
    # the fetch high watermark: the embedded broker's ListOffsets(latest) is not the log end
    return await end_offsets_of_topics(bootstrap, names)


async def _collect_verdicts(
    bootstrap: str, start: dict[TopicPartition, int], pending: set[str], accepted_topic: str, timeout: float
) -> tuple[set[str], dict[str, tuple[str, str, str | None]]]:
    accepted: set[str] = set()
    rejected: dict[str, tuple[str, str, str | None]] = {}
    if not pending or not start or timeout <= 0:
        return accepted, rejected
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=250, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    try:
                        body = json.loads(record.value or b"{}")
                    except ValueError:
                        continue
                    if tp.topic == accepted_topic:
                        eid = (body.get("lead") or {}).get("source_event_id")
                        if eid in pending:
                            pending.discard(eid)
                            accepted.add(eid)
                    else:
                        eid = body.get("source_event_id")
                        if eid in pending:
                            pending.discard(eid)
                            rejected[eid] = (body.get("reason", "?"), body.get("message", ""), body.get("field"))
        return accepted, rejected
    finally:
        await consumer.stop()


async def run_import(opts: ImportOptions) -> ImportSummary:
    summary = ImportSummary()
    started = time.monotonic()
    progress = opts.progress_stream if opts.progress_stream is not None else sys.stderr
    source = RowSource(opts.path, sheet=opts.sheet)
    rows = source.rows()
    first = next(rows, None)
    assert source.info is not None or first is None
    headers = source.info.headers if source.info else []
    summary.encoding = source.info.encoding if source.info else None
    summary.delimiter = source.info.delimiter if source.info else None
    mapping = detect(headers, opts.mapping)
    summary.mapped_columns = {headers[i]: t for i, t in mapping.items()}
    summary.unmapped_columns = [h for i, h in enumerate(headers) if i not in mapping and h]
    if "person.email" not in mapping.values() and "person.phone" not in mapping.values():
        raise ValueError(
            "no e-mail or phone column recognised in headers "
            f"{headers!r}; add a mapping file (--mapping) with columns: {{'<header>': 'person.email'}}"
        )
    accepted_topic = opts.topic_prefix + topics.LEADS_ACCEPTED
    rejected_topic = opts.topic_prefix + topics.LEADS_REJECTED
    verdict_start = await _end_offsets(opts.bootstrap, [accepted_topic, rejected_topic])
    ledger = Ledger(opts.ledger) if opts.ledger else None
    now = opts.run_started or datetime.now(UTC)
    rejects_path, summary_path = run_paths(opts.path, now)
    email_policy = EmailPolicy(internationalized=opts.email_internationalization)
    rejects_fh = None
    rejects_writer = None
    local_rejects: list[Built] = []
    published_rows: dict[str, tuple[int, list[str]]] = {}
    producer = AIOKafkaProducer(bootstrap_servers=opts.bootstrap, linger_ms=10, max_batch_size=512 * 1024)
    await producer.start()
    inbound = opts.topic_prefix + topics.LEADS_INBOUND

    def write_reject(row_number: int, values: list[str], reason: str, field_: str | None, message: str) -> None:
        nonlocal rejects_fh, rejects_writer
        if rejects_writer is None:
            rejects_fh = rejects_path.open("w", encoding="utf-8-sig", newline="")
            rejects_writer = csv.writer(rejects_fh)
            rejects_writer.writerow(["row", "reject_reason", "reject_field", "reject_message", *headers])
        rejects_writer.writerow([row_number, reason, field_ or "", message, *values])
        summary.reasons[reason] += 1

    async def flush(batch: list[tuple[Built, list[str]]]) -> None:
        if not batch:
            return
        ids = [b.event_id for b, _ in batch]
        known = ledger.known(ids) if ledger and not opts.force else set()
        futures = []
        sent: list[str] = []
        for built, values in batch:
            if built.event_id in known:
                summary.already_imported += 1
                continue
            futures.append(await producer.send(inbound, built.payload, key=built.lead_id.encode()))
            published_rows[built.event_id] = (built.row_number, values)
            sent.append(built.event_id)
        if futures:
            await asyncio.gather(*futures)
        summary.published += len(sent)
        if ledger:
            ledger.add(sent)

    try:
        batch: list[tuple[Built, list[str]]] = []
        all_rows = [first] if first else []
        for row_number, values in _chain(all_rows, rows):
            summary.read += 1
            built = build(
                row_number,
                values,
                mapping,
                source_kind=opts.source_kind,
                source_system=opts.source_system,
                campaign=opts.campaign,
                now=now,
                default_country=opts.mapping.default_country if opts.mapping else None,
                default_region=opts.default_region,
                email_policy=email_policy,
            )
            if built.payload is None:
                summary.rejected_locally += 1
                local_rejects.append(built)
                write_reject(row_number, values, built.reason or "invalid", built.field, built.message or "")
                continue
            email_decision, phone_status = built.contact
            if email_decision in {"not_storable", "invalid"}:
                summary.contact_notes[f"e-mail not stored ({email_decision})"] += 1
            if phone_status == "unverified":
                summary.contact_notes["phone unverified (kept as given)"] += 1
            batch.append((built, values))
            if len(batch) >= opts.batch_size:
                await flush(batch)
                batch = []
                _bar(progress, source.progress(), summary.read, started)
        await flush(batch)
        _bar(progress, 1.0, summary.read, started)
        progress.write("\n")
        await producer.flush()
        pending = set(published_rows)
        accepted, rejected = await _collect_verdicts(
            opts.bootstrap, verdict_start, pending, accepted_topic, opts.wait_seconds
        )
        summary.accepted = len(accepted)
        summary.rejected_by_intake = len(rejected)
        summary.no_verdict = len(pending)
        for event_id, (reason, message, field_) in rejected.items():
            row_number, values = published_rows[event_id]
            write_reject(row_number, values, reason, field_, message)
    finally:
        await producer.stop()
        if rejects_fh is not None:
            rejects_fh.close()
            summary.rejects_file = rejects_path
        if ledger:
            ledger.close()
        summary.seconds = time.monotonic() - started
        summary.summary_file = summary_path
        summary_path.write_text(
            f"import of {opts.path.name} started {now.isoformat()}\n" + "\n".join(summary.lines()) + "\n",
            encoding="utf-8",
        )
    return summary


def _chain(
    first: Iterable[tuple[int, list[str]]], rest: Iterable[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield from first
    yield from rest
