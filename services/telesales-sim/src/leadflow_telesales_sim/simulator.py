"""The simulation loop: find each rep's queue, plan new leads (domain), do what is due as the rep.

A rep's queue is its open Leads and its open follow-up Tasks: a repeat inquiry that crm-sync filed as a
"Follow up: new inquiry" Task on an existing Lead or Contact (a merged lead) is worked like a new lead, with
the same response times: calls logged on the Task's WhoId, then the Task completed (and the Lead set
"Working - Contacted" if nobody had touched it yet).

A lead or follow-up that leaves the queue (reassigned, converted, closed by someone else) before its plan is
done has its plan cancelled; one reassigned to another simulated rep is planned afresh for that rep.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from leadflow_telesales_sim.adapters.repository import PlanStore, StoredPlan
from leadflow_telesales_sim.adapters.salesforce import Rep, SimulatorPort
from leadflow_telesales_sim.domain.model import (
    OPEN_STATUS,
    WORKING_STATUS,
    Action,
    ActionKind,
    Behaviour,
    Plan,
    due_actions,
    lead_rng,
    pick_status,
    plan_follow_up,
    plan_lead,
)

log = get_logger(__name__)


@dataclass
class SimStats:
    planned: int = 0
    calls: int = 0
    status_changes: int = 0
    cancelled: int = 0
    follow_ups_completed: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


class Simulator:
    def __init__(
        self,
        port: SimulatorPort,
        store: PlanStore,
        clock: Clock,
        behaviour: Behaviour,
        *,
        time_scale: float,
        seed: int,
        rep_roles: list[str],
        rep_usernames: list[str],
        poll_interval: float = 2.0,
        error_backoff: float = 5.0,
        follow_up_subjects: list[str] | None = None,
    ) -> None:
        self.port = port
        self.store = store
        self.clock = clock
        self.behaviour = behaviour
        self.time_scale = time_scale
        self.seed = seed
        self.rep_roles = rep_roles
        self.rep_usernames = rep_usernames
        self.poll_interval = poll_interval
        self.error_backoff = error_backoff
        self.follow_up_subjects = list(follow_up_subjects if follow_up_subjects is not None else ["Follow up"])
        self.reps: dict[str, Rep] = {}
        self.plans: dict[str, StoredPlan] = {}
        self.qualified_status = ""
        self.disqualified_status = ""
        self.started = False
        self.stats = SimStats()

    async def start(self) -> None:
        self.reps = {r.user_id: r for r in await self.port.reps(self.rep_roles, self.rep_usernames)}
        available = await self.port.lead_statuses()
        self.qualified_status = pick_status(self.behaviour.qualified_statuses, available)
        self.disqualified_status = pick_status(self.behaviour.disqualified_statuses, available)
        self.plans = await self.store.load()
        self.started = True
        log.info(
            "simulation_started",
            reps=len(self.reps),
            qualified_status=self.qualified_status,
            disqualified_status=self.disqualified_status,
            time_scale=self.time_scale,
        )

    async def run(self) -> None:
        while True:
            delay = self.poll_interval
            try:
                if not self.started:
                    await self.start()
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.exception("simulation_step_failed", error=type(e).__name__)
                delay = max(delay, self.error_backoff)
            await self.clock.sleep(delay)

    async def tick(self) -> SimStats:
        """Plan what is new in the queues (Leads and follow-up Tasks), then do every action that is due."""
        owners = sorted(self.reps)
        queue = await self.port.queued_leads(owners, [OPEN_STATUS, WORKING_STATUS])
        follow_ups = await self.port.open_follow_ups(owners, self.follow_up_subjects) if self.follow_up_subjects else []
        in_queue = {q.lead_id: q.owner_id for q in queue} | {f.task_id: f.owner_id for f in follow_ups}
        untouched = {q.lead_id for q in queue if q.status == OPEN_STATUS}
        now = self.clock.now()
        for q in queue:
            await self._plan_if_new(q.lead_id, q.owner_id, None)
        for f in follow_ups:
            await self._plan_if_new(f.task_id, f.owner_id, f.who_id)
        for record_id, sp in list(self.plans.items()):
            if sp.state == "active":
                await self._advance(record_id, sp, now, in_queue.get(record_id), untouched)
        return self.stats

    async def _cancel(self, record_id: str, sp: StoredPlan) -> None:
        sp.state = "cancelled"
        self.stats.cancelled += 1
        await self.store.progress(record_id, sp.done, sp.state)

    async def _advance(
        self, record_id: str, sp: StoredPlan, now: datetime, queued_for: str | None, untouched: set[str]
    ) -> None:
        """Do what is due of one plan; cancel it if the record left the rep's queue or Salesforce refuses it."""
        if queued_for != sp.plan.owner_id:
            await self._cancel(record_id, sp)
            log.info("plan_cancelled", lead_id=record_id, reason="left the rep's queue")
            return
        for action in due_actions(sp.plan, sp.done, sp.seen_at, now, self.time_scale):
            try:
                await self._do(self.reps[sp.plan.owner_id], sp.plan, action.kind, action, untouched)
            except (SalesforceMalformedRequest, SalesforceResourceNotFound) as e:
                # Salesforce refuses this one record (e.g. a follow-up's Lead was converted meanwhile): the rep
                # gives up on it. An outage (any other error) stops the tick, which is retried.
                await self._cancel(record_id, sp)
                log.warning("plan_refused", lead_id=record_id, action=action.kind.value, error=type(e).__name__)
                return
            sp.done += 1
            if sp.done == len(sp.plan.actions):
                sp.state = "finished"
            await self.store.progress(record_id, sp.done, sp.state)

    async def _plan_if_new(self, record_id: str, owner_id: str, who_id: str | None) -> None:
        existing = self.plans.get(record_id)
        if existing is not None and existing.plan.owner_id == owner_id:
            return
        rng = lead_rng(self.seed, record_id, owner_id)
        if who_id is None:
            plan = plan_lead(record_id, owner_id, self.behaviour, rng)
        else:
            plan = plan_follow_up(record_id, who_id, owner_id, self.behaviour, rng)
        sp = StoredPlan(plan, self.clock.now(), 0, "active" if plan.actions else "finished")
        self.plans[record_id] = sp
        await self.store.save(sp)
        self.stats.planned += 1
        outcome = plan.reason.rsplit("; ", 1)[-1]
        self.stats.by_outcome[outcome] = self.stats.by_outcome.get(outcome, 0) + 1
        log.info(
            "lead_planned",
            lead_id=record_id,
            owner_id=owner_id,
            who_id=who_id,
            reason=plan.reason,
            actions=len(plan.actions),
        )

    async def _do(self, rep: Rep, plan: Plan, kind: ActionKind, action: Action, untouched: set[str]) -> None:
        target = plan.who_id or plan.lead_id  # a follow-up's calls go on the Lead or Contact it concerns
        if kind is ActionKind.CALL:
            task_id = await self.port.log_call(
                rep, target, action.disposition or "Connected", action.call_seconds or 0, self.clock.now().date()
            )
            self.stats.calls += 1
            log.info("call_logged", lead_id=target, rep_id=rep.user_id, task_id=task_id, disposition=action.disposition)
            return
        if kind is ActionKind.COMPLETE:
            await self.port.complete_task(rep, plan.lead_id)
            self.stats.follow_ups_completed += 1
            log.info("follow_up_completed", task_id=plan.lead_id, who_id=target, rep_id=rep.user_id)
            if target in untouched:  # a Lead nobody had touched yet: the rep is working it now
                await self._set_status(rep, target, WORKING_STATUS, kind)
                untouched.discard(target)
            return
        status = {
            ActionKind.WORKING: WORKING_STATUS,
            ActionKind.QUALIFY: self.qualified_status,
            ActionKind.DISQUALIFY: self.disqualified_status,
        }[kind]
        await self._set_status(rep, target, status, kind)
        untouched.discard(target)

    async def _set_status(self, rep: Rep, lead_id: str, status: str, kind: ActionKind) -> None:
        await self.port.set_status(rep, lead_id, status)
        self.stats.status_changes += 1
        log.info("lead_status_set", lead_id=lead_id, rep_id=rep.user_id, status=status, action=kind.value)
