"""The route use cases: route a batch of leads, apply CRM changes, keep the roster fresh.

Each batch is one database transaction holding the team locks: claim the event ids, load the
ledger and the leads' owner history, decide (pure domain), write everything back, commit.
Replayed event ids republish the decision stored the first time, so the ledger never advances twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from leadflow_contracts import ChangeType, CrmChange, LeadRouted, LeadScored
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger

from leadflow_route.adapters.roster_source import RosterSource
from leadflow_route.adapters.store import OwnerRecord, RouteStore
from leadflow_route.domain.events import (
    Incoming,
    person_owner,
    person_root,
    routed_event,
    routing_request,
    sla_input,
)
from leadflow_route.domain.ledger import Ledger
from leadflow_route.domain.roster import Roster, merge_user_change
from leadflow_route.domain.routing import Router
from leadflow_route.domain.sla import SlaPlanner

log = get_logger(__name__)

CHANGES_CONSUMER = "route-changes"
CLOSED_STATUSES = frozenset({"Qualified", "Unqualified"})


def _is_closed(record: dict[str, Any]) -> bool:
    status = record.get("Status")
    return bool(record.get("IsConverted")) or (
        isinstance(status, str) and (status in CLOSED_STATUSES or status.startswith("Closed"))
    )


def _same_id(a: str | None, b: str | None) -> bool:
    return bool(a and b and a[:15] == b[:15])


class RosterManager:
    """The roster in memory, cached in the database, refreshed from its source."""

    def __init__(self, store: RouteStore, source: RosterSource | None, clock: Clock) -> None:
        self.store = store
        self.source = source
        self.clock = clock
        self.current = Roster()
        self.loaded_from: str = "none"
        self.last_error: str | None = None
        self.on_change: Callable[[str], Awaitable[None]] | None = None
        """Called with the roster's source after every change (app: publish ``RosterPublished``)."""

    async def _changed(self, source: str) -> None:
        if self.on_change is None:
            return
        try:
            await self.on_change(source)
        except Exception as exc:  # routing goes on; the next change (or refresh) publishes the roster again
            log.warning("roster_publish_failed", error=f"{type(exc).__name__}: {exc}")

    async def start(self) -> None:
        cached = await self.store.load_roster()
        if cached is not None:
            self.current, self.loaded_from = cached, "cache"
        await self.refresh()

    async def refresh(self) -> bool:
        if self.source is None:
            return False
        try:
            roster = await self.source.fetch()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("roster_refresh_failed", error=self.last_error, cached=len(self.current))
            return False
        if not roster.reps:
            log.warning("roster_refresh_empty")
            return False
        await self.store.save_roster(roster, self.clock.now())
        self.current, self.loaded_from, self.last_error = roster, "source", None
        log.info("roster_loaded", users=len(roster.reps), queues=len(roster.queues))
        await self._changed("salesforce")
        return True

    async def run_periodic(self, interval: float, retry_empty: float = 2.0) -> None:
        """Refresh every ``interval``; while there is no roster at all (first start, Salesforce down), retry sooner."""
        while True:
            await asyncio.sleep(min(interval, retry_empty) if not self.current.reps else interval)
            await self.refresh()

    async def apply_user(self, record: dict[str, Any], *, publish: bool = True) -> None:
        user_id = record.get("Id")
        if not isinstance(user_id, str):
            return
        rep = merge_user_change(self.current.rep(user_id), record)
        self.current = self.current.with_rep(rep)
        await self.store.save_rep(rep, self.clock.now())
        log.info("roster_user_changed", user_id=rep.id, active=rep.active, absent=rep.absent)
        if publish:
            await self._changed("crm.changes")

    async def users_changed(self) -> None:
        """After a batch of ``apply_user(..., publish=False)``: publish the roster once."""
        await self._changed("crm.changes")


@dataclass
class RouteResult:
    published: list[tuple[str, bytes]] = field(default_factory=list)
    """(lead_id, LeadRouted JSON) in input order, including republished replays."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(event_id, reason) for leads no owner could be found for."""
    routed: list[LeadRouted] = field(default_factory=list)
    replays: int = 0


class RouteService:
    def __init__(
        self, store: RouteStore, router: Router, planner: SlaPlanner, roster: RosterManager, clock: Clock
    ) -> None:
        self.store = store
        self.router = router
        self.planner = planner
        self.roster = roster
        self.clock = clock

    async def route(self, events: Sequence[Incoming]) -> RouteResult:
        result = RouteResult()
        if not events:
            return result
        now = self.clock.now()
        roster = self.roster.current
        async with self.store.unit_of_work() as uow:
            fresh = await uow.claim([e.event_id for e in events], now)
            replayed = [e.event_id for e in events if e.event_id not in fresh]
            stored = await uow.stored_decisions(replayed) if replayed else {}
            ledger = await uow.load_ledger()
            todo = [e for e in events if e.event_id in fresh]
            roots = {r for e in todo if (r := person_root(e)) is not None}
            histories = await uow.histories([*(e.lead_id for e in todo), *roots])
            persons = await uow.person_owners([*roots, *(e.lead_id for e in todo if isinstance(e, LeadScored))])
            first_decided: list[tuple[str, str, str]] = []
            new_owners: list[OwnerRecord] = []
            closed: list[OwnerRecord] = []
            produced: list[tuple[str, str, bytes]] = []
            handled: set[str] = set()
            for ev in events:
                if ev.event_id not in fresh:
                    payload = stored.get(ev.event_id)
                    if payload is not None:
                        result.published.append((ev.lead_id, payload))
                        result.replays += 1
                    continue
                if ev.event_id in handled:
                    continue
                handled.add(ev.event_id)
                history = histories.setdefault(ev.lead_id, [])
                owner_ids = [h.owner_id for h in history]
                snapshot = ledger.snapshot()
                request = routing_request(ev, owner_ids)
                root = person_root(ev)
                root_history = histories.get(root) if root is not None else None
                follows = person_owner(
                    ev, root_history[-1].owner_id if root_history else None, persons.get(root or ev.lead_id)
                )
                if follows is not None:
                    request = replace(request, duplicate_owner_id=follows[0], duplicate_reason=follows[1])
                try:
                    decision = self.router.route(request, roster, ledger, now)
                    sla = self.planner.plan(sla_input(ev, decision.team), now)
                except Exception as exc:  # pure code: the same input fails the same way, so dead-letter it
                    ledger.restore(snapshot)
                    result.failed.append((ev.event_id, f"{type(exc).__name__}: {exc}"))
                    continue
                for previous in history:
                    if previous.open:
                        previous.open = False
                        closed.append(previous)
                        if previous.owner_type == "user":
                            ledger.release(previous.owner_id)
                if root is not None and follows is None:  # the person's first lead to reach route: others follow
                    persons[root] = decision.owner_id
                    first_decided.append((root, decision.owner_id, ev.lead_id))
                routed = routed_event(ev, decision, sla, history=owner_ids, now=now)
                payload = routed.to_json_bytes()
                record = OwnerRecord(
                    lead_id=ev.lead_id,
                    seq=len(history) + 1,
                    owner_id=decision.owner_id,
                    owner_type=decision.owner_type,
                    team=decision.team,
                    policy=decision.policy,
                    event_id=ev.event_id,
                    routed_at=now,
                    open=decision.owner_type == "user",
                )
                history.append(record)
                new_owners.append(record)
                produced.append((ev.event_id, ev.lead_id, payload))
                result.published.append((ev.lead_id, payload))
                result.routed.append(routed)
            closed = [c for c in closed if c not in new_owners]
            await uow.save(
                ledger, new_owners=new_owners, closed=closed, produced=produced, persons=first_decided, now=now
            )
        return result

    async def apply_changes(self, changes: Sequence[CrmChange]) -> int:
        """Keep rep load and the roster current from Salesforce changes; returns the number applied."""
        applied = 0
        for change in changes:
            if change.object == "User":
                await self.roster.apply_user({"Id": change.record_id, **change.record}, publish=False)
                applied += 1
        if applied:
            await self.roster.users_changed()  # one roster event per batch, not one per User
        lead_changes = [c for c in changes if c.object == "Lead"]
        if not lead_changes:
            return applied
        now = self.clock.now()
        async with self.store.unit_of_work() as uow:
            fresh = await uow.claim([c.event_id for c in lead_changes], now, consumer=CHANGES_CONSUMER)
            todo = [c for c in lead_changes if c.event_id in fresh]
            histories = await uow.histories(c.lead_id for c in todo)
            ledger = await uow.load_ledger()
            closed: list[OwnerRecord] = []
            added: list[OwnerRecord] = []
            for change in todo:
                history = histories.get(change.lead_id) or []
                if not history:
                    continue
                applied += self._apply_lead_change(change, history, ledger, closed, added, now)
            await uow.save(ledger, new_owners=added, closed=[c for c in closed if c not in added], now=now)
        return applied

    @staticmethod
    def _apply_lead_change(
        change: CrmChange,
        history: list[OwnerRecord],
        ledger: Ledger,
        closed: list[OwnerRecord],
        added: list[OwnerRecord],
        now: datetime,
    ) -> int:
        record = change.record
        last = history[-1]
        new_owner = record.get("OwnerId")
        ends = change.change_type == ChangeType.DELETED or _is_closed(record)
        moved = isinstance(new_owner, str) and not _same_id(new_owner, last.owner_id)
        if not (ends or moved):
            return 0
        for previous in history:
            if previous.open:
                previous.open = False
                closed.append(previous)
                if previous.owner_type == "user":
                    ledger.release(previous.owner_id)
        if moved and not ends:
            assert isinstance(new_owner, str)
            is_user = new_owner.startswith("005")
            record_ = OwnerRecord(
                lead_id=change.lead_id,
                seq=len(history) + 1,
                owner_id=new_owner,
                owner_type="user" if is_user else "queue",
                team=None,
                policy="salesforce",
                event_id=change.event_id,
                routed_at=now,
                open=is_user,
            )
            history.append(record_)
            added.append(record_)
            if is_user:
                ledger.add_open(new_owner)
        return 1
