"""The change feed's service layer: hold the lease, poll each object, decide, publish, remember.

Per page: read the stored snapshots → domain.decide each version → publish the CrmChange events →
one transaction that renews the lease (fencing), stores the new snapshots and the frontier. A crash
after publishing and before that commit re-emits the same versions with the same event ids.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadflow_contracts.crm import CrmChange
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger

from leadflow_crm_changes.adapters.repository import LeaseLost, Repository, SnapshotRow
from leadflow_crm_changes.adapters.salesforce import SalesforcePort
from leadflow_crm_changes.domain import changes as ch
from leadflow_crm_changes.domain.cursor import CursorState, after_poll, restored
from leadflow_crm_changes.domain.feed import FeedObject, changes_soql, latest_soql
from leadflow_crm_changes.metrics import ACTIVE, CURSOR_SETTLED, POLLS, VERSIONS

log = get_logger(__name__)

Publisher = Callable[[Sequence[CrmChange]], Awaitable[None]]
_LEAD_CACHE_MAX = 200_000


@dataclass(frozen=True)
class FeedConfig:
    objects: tuple[FeedObject, ...]
    poll_interval: float
    overlap: timedelta
    start_from: str
    lease_name: str
    lease_ttl: float
    holder: str
    integration_user_ids: frozenset[str] = frozenset()
    error_backoff: float = 5.0
    snapshot_objects: frozenset[str] = frozenset()
    """Fresh start: read from the beginning (every record), and no echo filter (leadflow never writes them)."""


@dataclass(frozen=True)
class PreparedPage:
    events: list[CrmChange]
    snapshots: list[SnapshotRow]
    newest: datetime | None


@dataclass
class PollStats:
    read: int = 0
    emitted: int = 0
    echoes: int = 0
    duplicates: int = 0
    api_calls: int = 0
    by_object: dict[str, int] = field(default_factory=dict)


def default_holder(instance_id: str) -> str:
    return instance_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class ChangeFeed:
    def __init__(
        self, config: FeedConfig, repo: Repository, salesforce: SalesforcePort, publish: Publisher, clock: Clock
    ) -> None:
        self.config = config
        self.repo = repo
        self.sf = salesforce
        self.publish = publish
        self.clock = clock
        self.active = False
        self.logged_in = False
        self.integration_users: frozenset[str] = config.integration_user_ids
        self.cursors: dict[str, CursorState] = {}
        self._lead_keys: dict[str, str] = {}
        self.polls_completed = 0
        self.totals = PollStats()

    # ---- loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Forever: take or renew the lease; if held, poll every object; sleep the interval."""
        while True:
            delay = self.config.poll_interval
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except LeaseLost:
                self._standby("lease_lost_mid_poll")
            except Exception as e:
                log.exception("poll_failed", error=type(e).__name__)
                delay = max(delay, self.config.error_backoff)
            await self.clock.sleep(delay)

    async def step(self) -> bool:
        """One cycle; True when this instance polled."""
        if not self.logged_in:  # before taking the lease: a slow login must not let it lapse (standbys too)
            await self._login()
        now = self.clock.now()
        held = await self.repo.acquire_lease(self.config.lease_name, self.config.holder, now, self.config.lease_ttl)
        if not held:
            if self.active:
                self._standby("lease_taken")
            return False
        if not self.active:
            await self._activate()
        await self.poll_once()
        return True

    def _standby(self, reason: str) -> None:
        self.active = False
        ACTIVE.set(0)
        log.warning("feed_standby", holder=self.config.holder, reason=reason)

    async def _login(self) -> None:
        await self.sf.login()
        me = await self.sf.current_user_id()
        if me:
            self.integration_users = self.integration_users | {me}
        self.logged_in = True
        log.info("salesforce_logged_in", integration_users=sorted(self.integration_users))

    async def _activate(self) -> None:
        stored = await self.repo.load_cursors()  # another instance may have moved them while we stood by
        self.cursors = {name: restored(*v) for name, v in stored.items()}
        for obj in self.config.objects:
            if obj.name not in self.cursors:
                self.cursors[obj.name] = await self._initial_cursor(obj)
        self.active = True
        ACTIVE.set(1)
        log.info("feed_active", holder=self.config.holder, cursors={k: str(v.settled) for k, v in self.cursors.items()})

    async def _initial_cursor(self, obj: FeedObject) -> CursorState:
        start = self.config.start_from
        if obj.name in self.config.snapshot_objects:
            start = "beginning"  # the roster: every existing User/queue once, then its changes
        if start == "beginning":
            state = CursorState()
        elif start == "latest":
            page = await self.sf.query(latest_soql(obj), include_deleted=True)
            stamp = ch.parse_sf_datetime(page.records[0]["SystemModstamp"]) if page.records else None
            state = CursorState(settled=stamp, frontier=stamp)
        else:
            stamp = datetime.fromisoformat(start.replace("Z", "+00:00"))
            state = CursorState(settled=stamp, frontier=stamp)
        async with self.repo.engine.begin() as conn:
            await self.repo.fence(
                conn, self.config.lease_name, self.config.holder, self.clock.now(), self.config.lease_ttl
            )
            await self.repo.save_cursor(conn, obj.name, state.settled, state.frontier, self.clock.now())
        log.info("cursor_initialised", object=obj.name, start_from=start, settled=str(state.settled))
        return state

    # ---- one poll --------------------------------------------------------------------------------
    async def poll_once(self) -> PollStats:
        stats = PollStats()
        for i, obj in enumerate(self.config.objects):
            if i and not await self.repo.acquire_lease(
                self.config.lease_name, self.config.holder, self.clock.now(), self.config.lease_ttl
            ):
                raise LeaseLost(self.config.lease_name)  # renewed before every object: a slow cycle keeps it
            try:
                await self._poll_object(obj, stats)
            except Exception:
                POLLS.labels(obj.name, "error").inc()
                raise
            POLLS.labels(obj.name, "ok").inc()
        self.polls_completed += 1
        for k in ("read", "emitted", "echoes", "duplicates", "api_calls"):
            setattr(self.totals, k, getattr(self.totals, k) + getattr(stats, k))
        if stats.read:
            log.info(
                "feed_polled",
                read=stats.read,
                emitted=stats.emitted,
                echoes=stats.echoes,
                duplicates=stats.duplicates,
                api_calls=stats.api_calls,
            )
        return stats

    async def _poll_object(self, obj: FeedObject, stats: PollStats) -> None:
        state = self.cursors[obj.name]
        started = self.clock.now()
        page = await self.sf.query(changes_soql(obj, state.query_after), include_deleted=True)
        answered = self.clock.now()
        stats.api_calls += 1
        read_up_to: datetime | None = None
        # A pipeline: page N+1 is fetched and page N decided while page N-1 is published and committed.
        # Pages hold distinct records (one query), and commits stay in page order.
        prefetch: asyncio.Future[Any] | None = None
        in_flight: asyncio.Future[None] | None = None
        try:
            while True:
                prefetch = asyncio.ensure_future(self.sf.query_more(page.next_url)) if page.next_url else None
                prepared = await self._prepare_page(obj, page.records, stats)
                if prepared.newest is not None and (read_up_to is None or prepared.newest > read_up_to):
                    read_up_to = prepared.newest
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(self._finish_page(obj, prepared, stats))
                if prefetch is None:
                    break
                page = await prefetch
                prefetch = None
                stats.api_calls += 1
            await in_flight
        except BaseException:
            for fut in (prefetch, in_flight):
                if fut is not None and not fut.done():
                    fut.cancel()
            raise
        new_state = after_poll(
            state, query_started_at=started, answered_at=answered, read_up_to=read_up_to, overlap=self.config.overlap
        )
        if (new_state.settled, new_state.frontier) != (state.settled, state.frontier):
            async with self.repo.engine.begin() as conn:
                await self.repo.fence(
                    conn, self.config.lease_name, self.config.holder, self.clock.now(), self.config.lease_ttl
                )
                await self.repo.save_cursor(conn, obj.name, new_state.settled, new_state.frontier, self.clock.now())
        self.cursors[obj.name] = new_state
        if new_state.settled is not None:
            CURSOR_SETTLED.labels(obj.name).set(new_state.settled.timestamp())

    async def _prepare_page(self, obj: FeedObject, raw: list[dict[str, Any]], stats: PollStats) -> PreparedPage:
        """Decide every version of a page against the stored snapshots (no writes)."""
        if not raw:
            return PreparedPage([], [], None)
        versions: list[ch.Version] = []
        for r in raw:
            try:
                versions.append(ch.to_version(obj.name, r))
            except ValueError as e:  # a record the API should never return; counted, never silently dropped
                VERSIONS.labels(obj.name, "unreadable").inc()
                log.error("unreadable_record", object=obj.name, error=str(e))
        newest = max((v.system_modstamp for v in versions), default=None)
        async with self.repo.engine.connect() as conn:
            previous = await self.repo.load_snapshots(conn, [v.record_id for v in versions])
            lead_keys = await self._lead_keys_for(conn, obj, versions)
        events: list[CrmChange] = []
        snapshots: list[SnapshotRow] = []
        tracked = obj.tracked_fields
        echoes_of = frozenset() if obj.name in self.config.snapshot_objects else self.integration_users
        for v in versions:
            decision = ch.decide(
                v, previous.get(v.record_id), tracked, echoes_of, ch.REP_OWNED_FIELDS.get(obj.name, ())
            )
            VERSIONS.labels(obj.name, decision.outcome.value).inc()
            stats.read += 1
            if decision.outcome is ch.Outcome.DUPLICATE:
                stats.duplicates += 1
                continue
            key_for_record = v.fields.get("Leadflow_Id__c") if obj.name == "Lead" else None
            if obj.name == "Lead":
                self._remember_lead(v.record_id, str(key_for_record) if key_for_record else v.record_id)
            assert decision.snapshot is not None
            snapshots.append(
                SnapshotRow(obj.name, v.record_id, str(key_for_record) if key_for_record else None, decision.snapshot)
            )
            if decision.outcome is ch.Outcome.ECHO:
                stats.echoes += 1
                continue
            lead_id, reason = ch.lead_key(v, lead_keys)
            events.append(ch.to_event(v, decision, lead_id, reason))
        return PreparedPage(events, snapshots, newest)

    async def _finish_page(self, obj: FeedObject, page: PreparedPage, stats: PollStats) -> None:
        """Publish the page's events, then remember its versions (and renew the lease) in one transaction."""
        if page.events:
            await self.publish(page.events)
            stats.emitted += len(page.events)
            stats.by_object[obj.name] = stats.by_object.get(obj.name, 0) + len(page.events)
        if not page.snapshots and page.newest is None:
            return
        async with self.repo.engine.begin() as conn:
            await self.repo.fence(
                conn, self.config.lease_name, self.config.holder, self.clock.now(), self.config.lease_ttl
            )
            await self.repo.save_snapshots(conn, page.snapshots)
            state = self.cursors[obj.name]
            if page.newest is not None and (state.frontier is None or page.newest > state.frontier):
                await self.repo.save_cursor(conn, obj.name, state.settled, page.newest, self.clock.now())

    def _remember_lead(self, record_id: str, key: str) -> None:
        if len(self._lead_keys) >= _LEAD_CACHE_MAX:
            self._lead_keys.clear()
        self._lead_keys[record_id] = key

    async def _lead_keys_for(self, conn: Any, obj: FeedObject, versions: list[ch.Version]) -> dict[str, str]:
        if obj.name != "Task":
            return {}
        whos = {str(v.fields["WhoId"]) for v in versions if v.fields.get("WhoId")}
        whos = {w for w in whos if w.startswith("00Q")}
        found = {w: self._lead_keys[w] for w in whos if w in self._lead_keys}
        missing = whos - found.keys()
        if missing:
            loaded = await self.repo.load_lead_keys(conn, missing)
            for rid, key in loaded.items():
                self._remember_lead(rid, key)
            found.update(loaded)
        return found
