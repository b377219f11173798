"""The scheduler loop: claim due timers, fire them, publish, then commit the new state.

Exactly-once effect per timer step, with any number of instances and restarts:
1. ``claim_due`` leases a batch of due timers to this instance (SKIP LOCKED / BEGIN IMMEDIATE).
2. The pure ``fire`` computes the transition (warning, breach, ladder steps) from ``now``.
3. The events are published (ids deterministic per lead/clock/cycle/kind/step).
4. ``save_timer`` writes the new state only if the version is unchanged and the lease is ours.
A crash after 3 and before 4 leaves the lease to expire; the next claim re-publishes the same ids.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from leadflow_contracts.pipeline import LeadRouted
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import SLA_EVENTS, SLA_TIMERS
from prometheus_client import Histogram

from leadflow_sla_monitor.adapters.publisher import Outgoing
from leadflow_sla_monitor.adapters.store import LeadRecord
from leadflow_sla_monitor.domain.merged import hold_the_record
from leadflow_sla_monitor.domain.timers import (
    MARK_UNAVAILABLE,
    Emission,
    Timer,
    Transition,
    event_id,
    fire,
    owner_unavailable,
)
from leadflow_sla_monitor.service import SlaMonitor, reassign_request, sla_event, stamped

log = get_logger("leadflow_sla_monitor.scheduler")

FIRE_LAG = Histogram(
    "leadflow_sla_fire_lag_seconds",
    "Time from a timer's scheduled instant to its events being published",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300),
)


def _held(transition: Transition, lead: LeadRecord | None) -> Transition:
    """A merged lead's reassign / team-queue rungs notify the team leader instead (``domain.merged``)."""
    if lead is None or not any(e.reassign_target for e in transition.emissions):
        return transition
    routed = LeadRouted.model_validate_json(lead.routed_json)
    return replace(transition, emissions=tuple(hold_the_record(e, routed) for e in transition.emissions))


class Scheduler:
    def __init__(
        self,
        monitor: SlaMonitor,
        clock: Clock,
        *,
        instance_id: str,
        batch_size: int = 500,
        lease: timedelta = timedelta(seconds=30),
        poll_seconds: float = 0.1,
    ) -> None:
        self.monitor = monitor
        self.store = monitor.store
        self.clock = clock
        self.instance_id = instance_id
        self.batch_size = batch_size
        self.lease = lease
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self.rounds = 0
        self.fired = 0

    def wake(self) -> None:
        """Look for due timers now (e.g. a test moved the clock)."""
        self._wake.set()

    async def run_once(self) -> int:
        """One round: returns the number of timers claimed."""
        now = self.clock.now()
        claimed = await self.store.claim_due(now, self.instance_id, self.lease, self.batch_size)
        self.rounds += 1
        if not claimed:
            return 0
        try:
            await self._fire(claimed, now)
        except Exception:
            await self.store.release(claimed, self.instance_id)
            raise
        return len(claimed)

    async def _fire(self, claimed: list[Timer], now: datetime) -> None:
        monitor = self.monitor
        transitions: list[tuple[Transition, list[Emission]]] = []
        owners = {t.owner_id for t in claimed if t.owner_id}
        async with self.store.engine.connect() as conn:
            streaks = await self.store.streaks(conn, owners)
            for timer in claimed:
                policy = monitor.policy(timer.policy)
                calendar = monitor.calendars.for_timer(timer.calendar, timer.timezone)
                transition = fire(timer, policy, calendar, now)
                extra: list[Emission] = []
                if transition.breached and timer.owner_id:
                    streaks[timer.owner_id] += 1
                    run = streaks[timer.owner_id]
                    if owner_unavailable(run, policy):
                        extra.append(
                            Emission(
                                event_id(timer.lead_id, timer.clock, timer.cycle, MARK_UNAVAILABLE, run),
                                "escalated",
                                timer.due_at,
                                reason=f"{run} breaches in a row by {timer.owner_id}",
                                escalation_action=MARK_UNAVAILABLE,
                            )
                        )
                transitions.append((transition, extra))
            lead_ids = [t.lead_id for t in claimed]
            lead_records = await self.store.get_leads(conn, lead_ids)
            timers_of = await self.store.get_timers_of(conn, lead_ids)
        transitions = [(_held(t, lead_records.get(t.timer.lead_id)), extra) for t, extra in transitions]
        for transition, _ in transitions:  # the lead's clocks as they will be once this round commits
            timers_of.setdefault(transition.timer.lead_id, {})[transition.timer.clock] = transition.timer

        out: list[Outgoing] = []
        for transition, extra in transitions:
            timer = transition.timer
            for emission in (*transition.emissions, *extra):
                out.append(Outgoing(monitor.topics.sla_events, sla_event(timer, emission)))
                lead = lead_records.get(timer.lead_id)
                if emission.reassign_target and lead is not None:
                    request = reassign_request(timer, emission, lead, now)
                    if request is not None:
                        out.append(Outgoing(monitor.topics.reassign, request))
        out = stamped(out, timers_of, lead_records)
        if out:
            await monitor.publisher.publish_all(out)
        published_at = self.clock.now()

        async with self.store.engine.begin() as conn:
            saved = await self.store.save_claimed(conn, [t.timer for t, _ in transitions], now, self.instance_id)
            breaches: dict[str, int] = {}
            for ok, (transition, _extra), original in zip(saved, transitions, claimed, strict=True):
                if not ok:
                    log.warning("timer_changed_while_firing", lead_id=original.lead_id, clock=original.clock)
                    continue
                if transition.breached and original.owner_id:
                    breaches[original.owner_id] = breaches.get(original.owner_id, 0) + 1
            await self.store.add_to_streaks(conn, breaches, now)
        kinds: dict[str, int] = {}
        for transition, extra in transitions:
            for emission in (*transition.emissions, *extra):
                SLA_EVENTS.labels(emission.kind, transition.timer.clock).inc()
                FIRE_LAG.observe(max((published_at - emission.at).total_seconds(), 0.0))
                kinds[emission.kind] = kinds.get(emission.kind, 0) + 1
            log.debug(
                "sla_timer_fired",
                lead_id=transition.timer.lead_id,
                clock=transition.timer.clock,
                state=transition.timer.state.value,
                reason=transition.reason,
            )
        log.info("sla_timers_fired", timers=len(claimed), instance=self.instance_id, **kinds)
        self.fired += len(claimed)

    async def run(self) -> None:
        """Loop until cancelled: rounds back to back while work is due, else wait ``poll_seconds``."""
        log.info("scheduler_started", instance=self.instance_id)
        while True:
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("scheduler_round_failed", error=type(exc).__name__, exc_info=True)
                claimed = 0
                await asyncio.sleep(min(1.0, self.poll_seconds * 10))
            if claimed >= self.batch_size:
                continue
            self._wake.clear()
            idle = await self._idle_seconds()  # before the wait's coroutine exists: a stop here leaves none unawaited
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=idle)
            except TimeoutError:
                pass

    async def _idle_seconds(self) -> float:
        """How long to wait before the next round: until the next deadline, at most ``poll_seconds``."""
        try:
            next_due = await self.store.next_due()
        except Exception:
            return self.poll_seconds
        if next_due is None:
            return self.poll_seconds
        ahead = (next_due - self.clock.now()).total_seconds()
        if ahead <= 0:  # due but claimed by another instance (or just fired): the normal pace
            return self.poll_seconds
        return min(self.poll_seconds, ahead)

    async def refresh_gauges(self) -> None:
        for state, count in (await self.store.count_by_state()).items():
            SLA_TIMERS.labels(state).set(count)
