"""Keeping the Salesforce mirror: tables (durable) + in-memory index (fast), always written in that order.

- ``start``: rebuild the index from the tables; then, when a reader is configured, a full Bulk 2.0 load
  for objects never loaded, or an incremental catch-up from the stored SystemModstamp cursor.
- ``apply_changes``: ``CrmChange`` events from ``crm.changes`` (partial records merge over what we have).
- ``poll_once`` / ``run_poller``: the periodic incremental query, when configured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow_contracts import ChangeType, CrmChange
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger

from leadflow_enrich.adapters.mirror_repository import MirrorRepository
from leadflow_enrich.adapters.salesforce_reader import SalesforceReader
from leadflow_enrich.domain.index import MirrorIndex
from leadflow_enrich.domain.records import (
    MIRROR_OBJECTS,
    MirrorObject,
    MirrorRecord,
    from_salesforce,
    merge_partial,
    object_for,
    parse_bool,
    parse_datetime,
)

log = get_logger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class MirrorStats:
    full_loads: dict[str, int] = field(default_factory=dict)
    incremental: dict[str, int] = field(default_factory=dict)
    changes_applied: int = 0
    changes_ignored: int = 0
    last_poll_at: datetime | None = None


def _newer_or_same(new: MirrorRecord, old: MirrorRecord | None) -> bool:
    if old is None or old.system_modstamp is None or new.system_modstamp is None:
        return True
    return new.system_modstamp >= old.system_modstamp


class Mirror:
    def __init__(
        self,
        repo: MirrorRepository,
        index: MirrorIndex,
        clock: Clock,
        reader: SalesforceReader | None = None,
        *,
        overlap: timedelta = timedelta(minutes=2),
    ) -> None:
        self.repo = repo
        self.index = index
        self.clock = clock
        self.reader = reader
        self.overlap = overlap
        self.stats = MirrorStats()
        self.ready = False
        self._lock = asyncio.Lock()

    # ---- start ------------------------------------------------------------------------------------
    async def rebuild_index(self) -> dict[str, int]:
        started = time.perf_counter()
        for obj in MIRROR_OBJECTS:
            async for rec in self.repo.stream(obj):
                self.index.apply(rec)
        counts = self.index.counts()
        log.info("mirror_index_built", seconds=round(time.perf_counter() - started, 3), **counts)
        return counts

    async def start(self, *, sync: bool = True) -> None:
        await self.rebuild_index()
        if sync and self.reader is not None:
            for obj in MIRROR_OBJECTS:
                cursor = await self.repo.cursor(obj)
                if cursor.full_load_at is None:
                    await self.full_load(obj)
                else:
                    await self.poll_object(obj)
        self.ready = True

    async def full_load(self, obj: MirrorObject) -> int:
        assert self.reader is not None
        started = time.perf_counter()
        raw = await self.reader.full(obj)
        records = _parse(obj, raw)
        stamp = max((r.system_modstamp for r in records if r.system_modstamp), default=None)
        async with self._lock:
            async with self.repo.engine.begin() as conn:
                gone = [i for i in self._ids(obj) if i not in {r.id for r in records}]
                await self.repo.delete(conn, obj, gone)
                await self.repo.upsert(conn, obj, records)
                await self.repo.save_cursor(conn, obj, stamp, full_load_at=self.clock.now(), records=len(records))
            for rid in gone:
                self.index.remove(obj, rid)
            for rec in records:
                self.index.apply(rec)
        self.stats.full_loads[obj] = len(records)
        log.info(
            "mirror_full_load",
            object=obj,
            records=len(records),
            removed=len(gone),
            seconds=round(time.perf_counter() - started, 3),
        )
        return len(records)

    def _ids(self, obj: MirrorObject) -> list[str]:
        tables: dict[MirrorObject, Mapping[str, object]] = {
            "Account": self.index.accounts,
            "Contact": self.index.contacts,
            "Lead": self.index.leads,
            "User": self.index.users,
            "Queue": self.index.queues,
        }
        return list(tables[obj])

    # ---- incremental ------------------------------------------------------------------------------
    async def poll_object(self, obj: MirrorObject) -> int:
        assert self.reader is not None
        cursor = await self.repo.cursor(obj)
        since = (cursor.system_modstamp or _EPOCH) - self.overlap
        raw = await self.reader.changed_since(obj, since)
        latest: dict[str, Mapping[str, Any]] = {}
        for item in raw:  # one row per record; if a record shows up twice, its newest state wins
            rid = str(item.get("Id") or "")
            if not rid:
                continue
            seen = latest.get(rid)
            if seen is None or (parse_datetime(item.get("SystemModstamp")) or _EPOCH) >= (
                parse_datetime(seen.get("SystemModstamp")) or _EPOCH
            ):
                latest[rid] = item
        deletes = [rid for rid, item in latest.items() if parse_bool(item.get("IsDeleted"))]
        upserts = _parse(obj, [item for item in latest.values() if not parse_bool(item.get("IsDeleted"))])
        stamps = [parse_datetime(item.get("SystemModstamp")) for item in latest.values()]
        stamp = max((t for t in stamps if t is not None), default=None)
        changed = await self._write(obj, upserts, deletes, cursor=stamp)
        self.stats.incremental[obj] = self.stats.incremental.get(obj, 0) + changed
        if changed:
            log.info("mirror_incremental", object=obj, read=len(raw), changed=changed)
        return changed

    async def poll_once(self) -> int:
        total = 0
        for obj in MIRROR_OBJECTS:
            total += await self.poll_object(obj)
        self.stats.last_poll_at = self.clock.now()
        return total

    async def run_poller(self, interval: float) -> None:
        while True:
            await self.clock.sleep(interval)
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep polling; the next round catches up from the cursor
                log.warning("mirror_poll_failed", error=type(e).__name__, detail=str(e)[:300])

    async def _write(
        self,
        obj: MirrorObject,
        upserts: Sequence[MirrorRecord],
        deletes: Iterable[str],
        *,
        cursor: datetime | None = None,
    ) -> int:
        deletes = list(deletes)
        async with self._lock:
            fresh = [r for r in upserts if (old := self.index.get(obj, r.id)) != r and _newer_or_same(r, old)]
            deletes = [rid for rid in deletes if self.index.get(obj, rid) is not None]
            async with self.repo.engine.begin() as conn:
                await self.repo.delete(conn, obj, deletes)
                await self.repo.upsert(conn, obj, fresh)
                if cursor is not None:
                    await self.repo.save_cursor(conn, obj, cursor)
            for rid in deletes:
                self.index.remove(obj, rid)
            for rec in fresh:
                self.index.apply(rec)
        return len(fresh) + len(deletes)

    # ---- crm.changes --------------------------------------------------------------------------------
    async def apply_changes(self, changes: Sequence[CrmChange]) -> int:
        """Apply mirror-relevant changes (Account, Contact, Lead, User, Queue); others are ignored."""
        by_obj: dict[MirrorObject, tuple[dict[str, MirrorRecord], set[str]]] = {}
        applied = 0
        for change in changes:
            obj = object_for(change.object, change.record)
            if obj is None:
                self.stats.changes_ignored += 1
                continue
            upserts, deletes = by_obj.setdefault(obj, ({}, set()))
            if change.change_type == ChangeType.DELETED:
                deletes.add(change.record_id)
                upserts.pop(change.record_id, None)
                continue
            raw = dict(change.record)
            raw["Id"] = change.record_id
            raw.setdefault("SystemModstamp", change.system_modstamp)
            current = upserts.get(change.record_id) or self.index.get(obj, change.record_id)
            try:
                rec = merge_partial(obj, current, raw)
            except ValueError as e:
                log.warning("mirror_change_unusable", object=obj, record_id=change.record_id, error=str(e))
                self.stats.changes_ignored += 1
                continue
            upserts[change.record_id] = rec
            deletes.discard(change.record_id)
        for obj, (upserts, deletes) in by_obj.items():
            applied += await self._write(obj, list(upserts.values()), deletes)
        self.stats.changes_applied += applied
        return applied


def _parse(obj: MirrorObject, raw: Iterable[Mapping[str, Any]]) -> list[MirrorRecord]:
    out: list[MirrorRecord] = []
    for item in raw:
        try:
            out.append(from_salesforce(obj, item))
        except ValueError:
            log.warning("mirror_record_skipped", object=obj, reason="no Id")
    return out
