"""Use cases: start clocks when a lead is routed, stop them when the CRM shows a touch or qualification.

Each batch runs in one database transaction that also claims the incoming event ids
(``claim_new_events``); the resulting events are published *before* the commit, with event ids
derived from (lead, clock, cycle, kind, step), so a crash in between re-publishes the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from leadflow_businesstime import BusinessCalendar, CalendarsFile, SlaPolicy, SlaPolicySet
from leadflow_contracts import topics
from leadflow_contracts.base import TraceStep
from leadflow_contracts.crm import CrmChange
from leadflow_contracts.pipeline import LeadRouted, ReassignRequested
from leadflow_contracts.sla import SlaEvent, SlaEventKind
from leadflow_platform.clock import Clock, from_wall
from leadflow_platform.db import claim_new_events
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import SLA_EVENTS
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_sla_monitor.adapters.publisher import EventPublisher, Outgoing
from leadflow_sla_monitor.adapters.store import LeadRecord, TimerStore
from leadflow_sla_monitor.domain.merged import activity_floor, change_keys, merged_into, merged_record
from leadflow_sla_monitor.domain.signals import SignalRules, classify, owner_change, salesforce_ids
from leadflow_sla_monitor.domain.timers import (
    UNMET_STATES,
    Emission,
    Target,
    Timer,
    TimerState,
    callback_is_ahead,
    callback_target,
    first_touch_for_callback,
    first_touch_target,
    lead_status,
    meet,
    new_timer,
    qualify_target,
    restart_for_new_owner,
    stop_ladder,
)

log = get_logger("leadflow_sla_monitor.service")
SERVICE = "sla-monitor"


@dataclass(frozen=True)
class Topics:
    sla_events: str = topics.SLA_EVENTS
    reassign: str = topics.LEADS_REASSIGN
    deadletter: str = topics.LEADS_DEADLETTER

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(prefix + topics.SLA_EVENTS, prefix + topics.LEADS_REASSIGN, prefix + topics.LEADS_DEADLETTER)


class Calendars:
    """Looks up the calendar a timer was computed in (by its stored name and time zone)."""

    def __init__(self, file: CalendarsFile) -> None:
        self.file = file
        self._cache: dict[tuple[str, str], BusinessCalendar] = {}

    @property
    def by_name(self) -> Mapping[str, BusinessCalendar]:
        return self.file.calendars

    def for_timer(self, name: str, timezone: str) -> BusinessCalendar:
        key = (name, timezone)
        found = self._cache.get(key)
        if found is None:
            base_name = name.split(":", 1)[-1].split("@", 1)[0]
            base = (
                self.file.calendars.get(base_name)
                or self.file.for_team(None)
                or next(iter(self.file.calendars.values()))
            )
            found = base if base.timezone == timezone else base.with_timezone(timezone, name=name)
            self._cache[key] = found
        return found

    def for_lead(self, policy: SlaPolicy, team: str | None, prospect_timezone: str | None) -> BusinessCalendar:
        """As route decides it: the team's calendar from the ``teams`` mapping, else the policy's fallback."""
        name = self.file.teams.get(team) if team else None
        team_calendar = self.file.calendars[name] if name else None
        return policy.resolve_calendar(self.file.calendars, prospect_timezone, team_calendar=team_calendar)


def sla_event(timer: Timer, emission: Emission, *, trace_reason: str | None = None) -> SlaEvent:
    return SlaEvent(
        event_id=emission.event_id,
        lead_id=timer.lead_id,
        occurred_at=emission.at,
        kind=SlaEventKind(emission.kind),
        clock=timer.clock,
        policy=timer.policy,
        due_at=timer.due_at,
        owner_id=timer.owner_id,
        team=timer.team,
        rating=timer.rating,
        lead_source=timer.lead_source,
        started_at=timer.started_at,
        met_by=timer.met_by if emission.kind == "met" else None,
        met_how=timer.met_how if emission.kind == "met" else None,
        business_seconds=emission.business_seconds,
        wall_seconds=emission.wall_seconds,
        escalation_step=emission.escalation_step,
        escalation_action=emission.escalation_action,
        trace=(
            TraceStep(
                service=SERVICE,
                decision=emission.kind,
                reason=trace_reason or emission.reason,
                at=emission.at,
                data={"clock": timer.clock, "cycle": timer.cycle, "calendar": timer.calendar},
            ),
        ),
    )


def stamped(
    out: Sequence[Outgoing], timers_of: Mapping[str, Mapping[str, Timer]], leads: Mapping[str, LeadRecord]
) -> list[Outgoing]:
    """Each SLA event with its lead's standing over all its clocks after this batch (``lead_status``) and, for a
    duplicate, the record it went into (``merged_into``): what crm-sync writes to ``SLA_Status__c`` (or not)."""
    merged: dict[str, str | None] = {}
    result: list[Outgoing] = []
    for m in out:
        ev = m.event
        if isinstance(ev, SlaEvent):
            if ev.lead_id not in merged:
                lead = leads.get(ev.lead_id)
                routed = LeadRouted.model_validate_json(lead.routed_json) if lead is not None else None
                merged[ev.lead_id] = merged_record(routed) if routed is not None else None
            status = lead_status(timers_of.get(ev.lead_id, {}).values())
            m = Outgoing(m.topic, ev.model_copy(update={"lead_status": status, "merged_into": merged[ev.lead_id]}))
        result.append(m)
    return result


def reassign_request(timer: Timer, emission: Emission, lead: LeadRecord, now: datetime) -> ReassignRequested | None:
    """The ``leads.reassign`` request for a reassign/team-queue escalation (never back to a previous owner)."""
    if emission.reassign_target is None:
        return None
    routed = LeadRouted.model_validate_json(lead.routed_json)
    exclude = tuple(
        dict.fromkeys(
            o for o in (*lead.previous_owners, *routed.assignment.previous_owner_ids, routed.assignment.owner_id) if o
        )
    )
    return ReassignRequested(
        event_id=emission.event_id,
        lead_id=timer.lead_id,
        occurred_at=now,
        trace=routed.with_step(TraceStep(service=SERVICE, decision="reassign", reason=emission.reason, at=emission.at)),
        lead=routed.lead,
        enrichment=routed.enrichment,
        score=routed.score,
        reason=f"sla {timer.clock} breached at {timer.due_at.isoformat()}: {emission.reason}",
        requested_by=SERVICE,
        exclude_owner_ids=exclude,
        target=emission.reassign_target,
        escalation_step=emission.escalation_step,
        previous_routing=routed,
    )


class SlaMonitor:
    def __init__(
        self,
        store: TimerStore,
        publisher: EventPublisher,
        policies: SlaPolicySet,
        calendars: Calendars,
        clock: Clock,
        *,
        rules: SignalRules | None = None,
        topics_: Topics | None = None,
        consumer: str = "sla-monitor",
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.policies = policies
        self.calendars = calendars
        self.clock = clock
        self.rules = rules or SignalRules()
        self.topics = topics_ or Topics()
        self.consumer = consumer

    def policy(self, name: str) -> SlaPolicy:
        return self.policies.by_name(name) or self.policies.policies[-1]

    async def _publish_and_commit(self, conn: AsyncConnection, out: list[Outgoing]) -> None:
        if out:
            await self.publisher.publish_all(out)
        await conn.commit()
        for m in out:
            if isinstance(m.event, SlaEvent):
                SLA_EVENTS.labels(m.event.kind.value, m.event.clock).inc()

    # --- leads.routed -----------------------------------------------------------------------------

    async def handle_routed(self, batch: Sequence[LeadRouted]) -> int:
        """Start (or, after a reassignment, restart) the clocks; returns the number of events published.

        The batch's leads and timers are read with one query each and new rows are written with one
        ``executemany`` each, so a batch costs a handful of round trips, not a few per lead.
        """
        now = self.clock.now()
        out: list[Outgoing] = []
        async with self.store.engine.connect() as conn:
            fresh = await claim_new_events(conn, f"{self.consumer}:routed", [r.event_id for r in batch], now)
            todo = [r for r in batch if r.event_id in fresh]
            work = _RoutedBatch(
                leads=await self.store.get_leads(conn, [r.lead_id for r in todo]),
                timers=await self.store.get_timers_of(conn, [r.lead_id for r in todo]),
            )
            for routed in todo:
                out.extend(await self._on_routed(conn, routed, now, work))
            await work.flush(self.store, conn, now)
            # a duplicate's clocks are stopped by activity on the record it was merged into
            await self.store.add_merged(conn, [(key, r.lead_id) for r in todo for key in merged_into(r)], now)
            await self._publish_and_commit(conn, stamped(out, work.timers, work.leads))
        return len(out)

    async def _on_routed(
        self, conn: AsyncConnection, routed: LeadRouted, now: datetime, work: _RoutedBatch
    ) -> list[Outgoing]:
        lead_id = routed.lead_id
        existing_lead = work.leads.get(lead_id)
        if existing_lead is not None and routed.reassignment < existing_lead.reassignment:
            log.info("routed_stale_ignored", lead_id=lead_id, reassignment=routed.reassignment)
            return []
        assignment = routed.assignment
        policy = self.policies.by_name(routed.sla.policy) or self.policies.select(
            routed.score.rating.value, routed.lead.lead_source.value, routed.enrichment.client_type.value
        )
        callback = routed.lead.callback
        prospect_tz = routed.enrichment.timezone or (callback.timezone if callback else None)
        calendar = self.calendars.for_lead(policy, assignment.team, prospect_tz)
        previous = list(existing_lead.previous_owners if existing_lead else ())
        if existing_lead and existing_lead.owner_id and existing_lead.owner_id != assignment.owner_id:
            previous.append(existing_lead.owner_id)
        previous.extend(assignment.previous_owner_ids)
        record = LeadRecord(
            lead_id=lead_id,
            salesforce_id=existing_lead.salesforce_id if existing_lead else None,
            owner_id=assignment.owner_id,
            reassignment=routed.reassignment,
            previous_owners=tuple(dict.fromkeys(o for o in previous if o and o != assignment.owner_id)),
            routed_json=routed.model_dump_json(),
            prospect_timezone=prospect_tz,
        )
        work.leads[lead_id] = record
        work.lead_writes[lead_id] = record

        started_at = routed.occurred_at
        context = {
            "owner_id": assignment.owner_id,
            "team": assignment.team,
            "rating": routed.score.rating.value,
            "lead_source": routed.lead.lead_source.value,
            "client_type": routed.enrichment.client_type.value,
        }
        timers = work.timers.setdefault(lead_id, {})
        out: list[Outgoing] = []
        if "first_touch" not in timers:
            sla = routed.sla
            first_touch = first_touch_target(policy, calendar, started_at, _after(sla.first_touch_due, started_at))
            targets = [first_touch, qualify_target(policy, calendar, started_at, _after(sla.qualify_due, started_at))]
            if callback is not None:
                requested = callback_target(policy, callback.start, callback.end)
                targets[0] = first_touch_for_callback(first_touch, requested, started_at)
                if callback_is_ahead(requested, started_at):
                    targets.append(requested)
                else:  # a window that closed before routing cannot be honoured: the first touch counts
                    log.info("callback_already_past", lead_id=lead_id, due_at=requested.due_at.isoformat())
            for target in targets:
                timer, started = new_timer(
                    lead_id,
                    target,
                    policy=policy,
                    calendar=calendar,
                    started_at=started_at,
                    cycle=routed.reassignment,
                    **context,
                )
                timers[timer.clock] = timer
                work.timer_inserts.append(timer)
                out.append(Outgoing(self.topics.sla_events, sla_event(timer, started)))
            log.info("sla_clocks_started", lead_id=lead_id, policy=policy.name, calendar=calendar.name)
            return out

        await work.flush(self.store, conn, now)  # rows created earlier in this batch must exist to be updated
        callback_timer = timers.get("callback")
        for clock, timer in list(timers.items()):
            if timer.state not in UNMET_STATES:
                continue
            if clock == "callback" and policy.reset_on_reassign and routed.reassignment > timer.cycle:
                # The lead was moved after the missed callback: the new owner's first touch takes over.
                stopped = replace(stop_ladder(timer), owner_id=assignment.owner_id, team=assignment.team)
                if stopped != timer and await self.store.save_timer(conn, stopped, now):
                    timers[clock] = replace(stopped, version=stopped.version + 1)
                continue
            if clock == "first_touch" and policy.reset_on_reassign and routed.reassignment > timer.cycle:
                target = first_touch_target(
                    policy, calendar, started_at, _after(routed.sla.first_touch_due, started_at)
                )
                if callback_timer is not None and callback_timer.state in (TimerState.OPEN, TimerState.WARNED):
                    # The callback is still ahead: the new owner's first touch follows it, as before.
                    pending = Target("callback", callback_timer.due_at, callback_timer.warn_at, business=False)
                    target = first_touch_for_callback(target, pending, started_at)
                updated, started = restart_for_new_owner(
                    timer,
                    target,
                    owner_id=assignment.owner_id,
                    team=assignment.team,
                    started_at=started_at,
                    cycle=routed.reassignment,
                )
                updated = replace(updated, calendar=calendar.name, timezone=calendar.timezone, policy=policy.name)
                if await self.store.save_timer(conn, updated, now):
                    timers[clock] = replace(updated, version=updated.version + 1)
                    out.append(Outgoing(self.topics.sla_events, sla_event(updated, started)))
            elif timer.owner_id != assignment.owner_id:
                updated = replace(timer, owner_id=assignment.owner_id, team=assignment.team)
                if await self.store.save_timer(conn, updated, now):
                    timers[clock] = replace(updated, version=updated.version + 1)
        log.info("sla_owner_changed", lead_id=lead_id, owner_id=assignment.owner_id, reassignment=routed.reassignment)
        return out

    # --- crm.changes ------------------------------------------------------------------------------

    async def handle_changes(self, batch: Sequence[CrmChange]) -> int:
        """Stop the clocks a touch or qualification meets; returns the number of events published."""
        now = self.clock.now()
        out: list[Outgoing] = []
        async with self.store.engine.connect() as conn:
            fresh = await claim_new_events(conn, f"{self.consumer}:changes", [c.event_id for c in batch], now)
            todo = [c for c in batch if c.event_id in fresh]
            leads = await self.store.get_leads(conn, [c.lead_id for c in todo])
            relevant: list[tuple[CrmChange, LeadRecord, bool]] = []  # (change, lead, merged into the record)
            learnt: dict[str, LeadRecord] = {}  # Salesforce id → lead, from Lead changes earlier in the batch
            for change in todo:
                lead = leads.get(change.lead_id)
                if lead is None and change.object in ("Lead", "Task"):
                    ids = (change.lead_id, *salesforce_ids(change))
                    lead = next((learnt[i] for i in ids if i in learnt), None)
                    lead = lead or await self.store.find_lead_by_salesforce_id(conn, ids)
                if lead is not None:
                    relevant.append((change, lead, False))
                    if change.object == "Lead":
                        learnt[change.record_id] = lead
            seen = {(c.event_id, lead.lead_id) for c, lead, _ in relevant}
            relevant.extend(await self._merged_leads(conn, todo, seen))
            timers = await self.store.get_timers_of(conn, [lead.lead_id for _, lead, _ in relevant])
            for change, lead, merged in relevant:
                out.extend(
                    await self._on_change(conn, change, lead, timers.setdefault(lead.lead_id, {}), now, merged=merged)
                )
            await self._publish_and_commit(conn, stamped(out, timers, {lead.lead_id: lead for _, lead, _ in relevant}))
        return len(out)

    async def _merged_leads(
        self, conn: AsyncConnection, changes: Sequence[CrmChange], seen: set[tuple[str, str]]
    ) -> list[tuple[CrmChange, LeadRecord, bool]]:
        """(change, lead) for every lead merged into the record a change concerns (``domain.merged``)."""
        by_key = await self.store.merged_leads(conn, [k for c in changes for k in change_keys(c)])
        if not by_key:
            return []
        wanted = {c.event_id: [lid for k in change_keys(c) for lid in by_key.get(k, ())] for c in changes}
        leads = await self.store.get_leads(conn, [lid for ids in wanted.values() for lid in ids])
        out: list[tuple[CrmChange, LeadRecord, bool]] = []
        for change in changes:
            for lead_id in dict.fromkeys(wanted[change.event_id]):
                lead = leads.get(lead_id)
                if lead is not None and (change.event_id, lead_id) not in seen:
                    seen.add((change.event_id, lead_id))
                    out.append((change, lead, True))
        return out

    async def _on_change(
        self,
        conn: AsyncConnection,
        change: CrmChange,
        lead: LeadRecord,
        timers: dict[str, Timer],
        now: datetime,
        *,
        merged: bool = False,
    ) -> list[Outgoing]:
        if change.object == "Lead" and lead.salesforce_id != change.record_id and not merged:
            await self.store.set_salesforce_id(conn, lead.lead_id, change.record_id, now)
        new_owner = owner_change(change)
        if new_owner is not None:
            # Reassigned by hand in Salesforce: the open clocks now belong to the new owner (deadline kept).
            for clock, held in list(timers.items()):
                if held.state in UNMET_STATES and held.owner_id != new_owner:
                    moved = replace(held, owner_id=new_owner)
                    if await self.store.save_timer(conn, moved, now):
                        timers[clock] = replace(moved, version=moved.version + 1)
                        log.info("sla_owner_changed_in_crm", lead_id=lead.lead_id, clock=clock, owner_id=new_owner)
        signal = classify(change, self.rules)
        if signal is None:
            return []
        # a merged lead is answered only by activity after its inquiry (domain.merged)
        not_before = None
        if merged:
            routed = LeadRouted.model_validate_json(lead.routed_json)
            not_before = activity_floor(routed, from_wall(self.clock, routed.lead.accepted_at))
        out: list[Outgoing] = []
        for clock in signal.clocks:
            timer = timers.get(clock)
            if timer is None:
                continue
            calendar = self.calendars.for_timer(timer.calendar, timer.timezone)
            # Salesforce stamps the wall clock; on the demo clock the touch happened at the matching demo instant.
            at = from_wall(self.clock, signal.at)
            transition = meet(timer, at=at, by=signal.by, how=signal.how, calendar=calendar, not_before=not_before)
            if not transition.emissions:
                continue
            if not await self.store.save_timer(conn, transition.timer, now):
                log.warning("timer_changed_concurrently", lead_id=lead.lead_id, clock=clock)
                continue
            timers[clock] = replace(transition.timer, version=transition.timer.version + 1)
            if transition.reason == "met_on_time" and timer.owner_id:
                await self.store.set_streak(conn, timer.owner_id, 0, now)
            for emission in transition.emissions:
                out.append(Outgoing(self.topics.sla_events, sla_event(transition.timer, emission)))
            log.info(
                "sla_met",
                lead_id=lead.lead_id,
                clock=clock,
                how=signal.how,
                late=transition.reason == "met_late",
            )
        return out


@dataclass
class _RoutedBatch:
    """One batch's view of its leads and timers, and the rows to write at the end."""

    leads: dict[str, LeadRecord]
    timers: dict[str, dict[str, Timer]]
    lead_writes: dict[str, LeadRecord] = field(default_factory=dict)
    timer_inserts: list[Timer] = field(default_factory=list)

    async def flush(self, store: TimerStore, conn: AsyncConnection, now: datetime) -> None:
        if self.lead_writes:
            await store.save_leads(conn, list(self.lead_writes.values()), now)
            self.lead_writes.clear()
        if self.timer_inserts:
            await store.insert_timers(conn, self.timer_inserts, now)
            self.timer_inserts.clear()


def _after(value: datetime | None, start: datetime) -> datetime | None:
    """A precomputed deadline, if it is after the start (else recompute from the policy)."""
    return value if value is not None and value > start else None
