"""The simulation loop: find each rep's queue, plan new leads (domain), do what is due as the rep.

A lead that leaves the queue (reassigned, converted, closed by someone else) before its plan is done
has its plan cancelled; a lead reassigned to another simulated rep is planned afresh for that rep.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger

from leadflow_telesales_sim.adapters.repository import PlanStore, StoredPlan
from leadflow_telesales_sim.adapters.salesforce import QueuedLead, Rep, SimulatorPort
from leadflow_telesales_sim.domain.model import (
    OPEN_STATUS,
    WORKING_STATUS,
    ActionKind,
    Behaviour,
    due_actions,
    lead_rng,
    pick_status,
    plan_lead,
)

log = get_logger(__name__)


@dataclass
class SimStats:
    planned: int = 0
    calls: int = 0
    status_changes: int = 0
    cancelled: int = 0
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
        """Plan what is new in the queues, then do every action that is due."""
        queue = await self.port.queued_leads(sorted(self.reps), [OPEN_STATUS, WORKING_STATUS])
        in_queue = {q.lead_id: q for q in queue}
        now = self.clock.now()
        for q in queue:
            await self._plan_if_new(q)
        for lead_id, sp in list(self.plans.items()):
            if sp.state != "active":
                continue
            if lead_id not in in_queue or in_queue[lead_id].owner_id != sp.plan.owner_id:
                sp.state = "cancelled"
                self.stats.cancelled += 1
                await self.store.progress(lead_id, sp.done, sp.state)
                log.info("plan_cancelled", lead_id=lead_id, reason="left the rep's queue")
                continue
            for action in due_actions(sp.plan, sp.done, sp.seen_at, now, self.time_scale):
                await self._do(
                    self.reps[sp.plan.owner_id], lead_id, action.kind, action.disposition, action.call_seconds or 0
                )
                sp.done += 1
                if sp.done == len(sp.plan.actions):
                    sp.state = "finished"
                await self.store.progress(lead_id, sp.done, sp.state)
        return self.stats

    async def _plan_if_new(self, q: QueuedLead) -> None:
        existing = self.plans.get(q.lead_id)
        if existing is not None and existing.plan.owner_id == q.owner_id:
            return
        plan = plan_lead(q.lead_id, q.owner_id, self.behaviour, lead_rng(self.seed, q.lead_id, q.owner_id))
        sp = StoredPlan(plan, self.clock.now(), 0, "active" if plan.actions else "finished")
        self.plans[q.lead_id] = sp
        await self.store.save(sp)
        self.stats.planned += 1
        outcome = plan.reason.rsplit("; ", 1)[-1]
        self.stats.by_outcome[outcome] = self.stats.by_outcome.get(outcome, 0) + 1
        log.info("lead_planned", lead_id=q.lead_id, owner_id=q.owner_id, reason=plan.reason, actions=len(plan.actions))

    async def _do(self, rep: Rep, lead_id: str, kind: ActionKind, disposition: str | None, seconds: int) -> None:
        if kind is ActionKind.CALL:
            task_id = await self.port.log_call(
                rep, lead_id, disposition or "Connected", seconds, self.clock.now().date()
            )
            self.stats.calls += 1
            log.info("call_logged", lead_id=lead_id, rep_id=rep.user_id, task_id=task_id, disposition=disposition)
            return
        status = {
            ActionKind.WORKING: WORKING_STATUS,
            ActionKind.QUALIFY: self.qualified_status,
            ActionKind.DISQUALIFY: self.disqualified_status,
        }[kind]
        await self.port.set_status(rep, lead_id, status)
        self.stats.status_changes += 1
        log.info("lead_status_set", lead_id=lead_id, rep_id=rep.user_id, status=status, action=kind.value)
