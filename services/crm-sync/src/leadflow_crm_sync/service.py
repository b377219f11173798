"""One batch of messages in, Salesforce writes and contract events out (the service layer).

``SyncService.process`` takes the records of one Kafka batch (``leads.routed``, ``sla.events``,
``crm.changes``) as the consumer runtime parsed them, skips events already applied, and runs the pure
steps of ``domain.reconcile``: it only
loads what they need, sends the writes they decide (grouped Collections calls through the ``BatchWriter``,
convertLead in batches), publishes ``crm.synced`` / ``leads.deadletter`` and commits the new state and the
event claims in one transaction. Events whose writes Salesforce could not take (outage, limit) are neither
published nor claimed: the caller (``handlers``) asks the runtime to pause and rewind Kafka to them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from leadflow_contracts import CrmChange, DeadLetter, Event, LeadRouted, SlaEvent, SyncOperation
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_salesforce import LeadConvert

from leadflow_crm_sync.adapters.gateway import SalesforceCallError, SalesforceGateway
from leadflow_crm_sync.adapters.repository import Repository, UnitOfWork
from leadflow_crm_sync.directory import TeamDirectory
from leadflow_crm_sync.domain import budget as budget_policy
from leadflow_crm_sync.domain import reconcile as rc
from leadflow_crm_sync.domain.conversion import ConvertedIds
from leadflow_crm_sync.domain.deferred import DeferredWrite
from leadflow_crm_sync.domain.outputs import Output, synced
from leadflow_crm_sync.domain.policy import SyncPolicy
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import RecordWrite, SaveResult
from leadflow_crm_sync.writer import BatchWriter, Unavailable

log = get_logger(__name__)
SERVICE = "crm-sync"
Kind = Literal["routed", "sla", "changes"]
Publish = Callable[[list[tuple[str, Event]]], Awaitable[None]]
_PARSERS: dict[str, type[Event]] = {"routed": LeadRouted, "sla": SlaEvent, "changes": CrmChange}
CONVERT_CHUNK = 100
"""LeadConverts per SOAP convertLead call (the client library and the emulator take at most 100)."""


@dataclass(frozen=True)
class Incoming:
    """One consumed record: its kind, its bytes (kept for dead letters) and its event as the consumer runtime
    parsed it (``None``: parsed here, for callers outside the runtime such as benches and tests)."""

    kind: Kind
    value: bytes
    event: Event | None = None

    def parsed(self) -> Event:
        return self.event if self.event is not None else _PARSERS[self.kind].model_validate_json(self.value)


@dataclass
class BatchResult:
    published: int = 0
    dead_lettered: int = 0
    unavailable: int = 0
    skipped_replays: int = 0
    deferred: int = 0
    reasons: list[str] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    """The dead letters published for this batch (the runtime logs and counts them)."""


class _Batch:
    """Working state of one batch: what to commit, publish and hold."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.unit = UnitOfWork()
        self.result = BatchResult()
        self.blocked: set[str] = set()  # event ids that must stay in Kafka
        self.bulk = False  # backlog mode: large upsert groups as Bulk API 2.0 jobs

    def take(self, step: rc.Step) -> None:
        self.unit.states.update(step.states)
        for d in step.deferred:
            self.unit.defer(d.key, d.lead_id, d.write.kind.value, d.payload())
        for key in step.undeferred:
            self.unit.undefer(key)
        self.outputs += step.outputs
        self.blocked = (self.blocked | step.blocked) - step.released
        self.result.dead_lettered += step.dead_lettered
        self.result.deferred += len(step.deferred)
        self.result.reasons += step.reasons

    def state(self, states: dict[str, LeadState], lead_id: str) -> LeadState | None:
        return self.unit.states.get(lead_id) or states.get(lead_id)

    def overlay(self, states: dict[str, LeadState]) -> dict[str, LeadState]:
        return {**states, **self.unit.states}


def _written(results: list[SaveResult | Unavailable]) -> list[rc.WriteResult]:
    return [rc.UNWRITTEN if isinstance(r, Unavailable) else r for r in results]


class SyncService:
    def __init__(
        self,
        *,
        repo: Repository,
        writer: BatchWriter,
        gateway: SalesforceGateway,
        policy: SyncPolicy,
        clock: Clock,
        publish: Publish,
        directory: TeamDirectory,
        budget_probe_seconds: float = 300.0,
        shadow: bool = False,
        bulk_threshold: int = 0,
    ) -> None:
        self.repo = repo
        self.writer = writer
        self.gateway = gateway
        self.policy = policy
        self.clock = clock
        self.publish = publish
        self.directory = directory
        self.budget_probe_seconds = budget_probe_seconds
        self.shadow = shadow
        self.bulk_threshold = bulk_threshold
        self._last_probe: float | None = None

    # ---- entry point -------------------------------------------------------------------------------
    async def process(self, records: list[Incoming], backlog: int = 0) -> BatchResult:
        """``backlog``: records still waiting in Kafka behind this batch (decides Bulk API 2.0 vs Collections)."""
        started = time.perf_counter()
        b = _Batch()
        b.bulk = rc.backlog_mode(len(records), backlog, self.bulk_threshold)
        parsed = await self._parse_new(b, records)
        states = await self.repo.load_states(e.lead_id for _, e, _ in parsed)
        routed = [(e, raw) for k, e, raw in parsed if k == "routed"]
        slas = [(e, raw) for k, e, raw in parsed if k == "sla"]
        changes = [(e, raw) for k, e, raw in parsed if k == "changes"]
        if routed:
            await self._routed(b, routed, states)  # type: ignore[arg-type]
        if slas:
            await self._sla(b, slas, states)  # type: ignore[arg-type]
        if changes:
            await self._changes(b, changes, states)  # type: ignore[arg-type]
        b.unit.claims = [e.event_id for _, e, _ in parsed if e.event_id not in b.blocked]
        b.result.unavailable = len(b.blocked)
        b.result.letters = [ev for _, ev in b.outputs if isinstance(ev, DeadLetter)]
        planned = time.perf_counter()
        if b.outputs:
            await self.publish(b.outputs)
            b.result.published = len(b.outputs)
        published = time.perf_counter()
        await self.repo.commit(b.unit, self.clock.now())
        log.info(
            "batch_synced",
            records=len(records),
            routed=len(routed),
            sla=len(slas),
            changes=len(changes),
            published=b.result.published,
            dead_lettered=b.result.dead_lettered,
            replays_skipped=b.result.skipped_replays,
            deferred=b.result.deferred,
            held=b.result.unavailable,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            publish_ms=round((published - planned) * 1000, 1),
            commit_ms=round((time.perf_counter() - published) * 1000, 1),
        )
        return b.result

    async def _parse_new(self, b: _Batch, records: list[Incoming]) -> list[tuple[Kind, Event, bytes]]:
        """The records whose events are not applied yet (a redelivery is recognised by its event id)."""
        parsed: list[tuple[Kind, Event, bytes]] = []
        for n, rec in enumerate(records):
            if n % 500 == 499 and rec.event is None:
                await asyncio.sleep(0)  # a large batch parsed here: let heartbeats and publishes run
            parsed.append((rec.kind, rec.parsed(), rec.value))
        done = await self.repo.already_processed({e.event_id for _, e, _ in parsed})
        b.result.skipped_replays = sum(1 for _, e, _ in parsed if e.event_id in done)
        return [p for p in parsed if p[1].event_id not in done]

    # ---- the writes the steps decide -------------------------------------------------------------------
    async def _write(self, writes: list[RecordWrite], bulk: bool = False) -> list[rc.WriteResult]:
        """Collections calls; in backlog mode (``bulk``) large upsert groups as Bulk API 2.0 jobs."""
        if not writes:
            return []
        return _written(await (self.writer.write_bulk(writes) if bulk else self.writer.write(writes)))

    async def _tasks(self, b: _Batch, jobs: list[rc.TaskJob]) -> dict[tuple[str, str], str]:
        """Create each Task once; returns (event id, purpose) → Task id."""
        if not jobs:
            return {}
        known = await self.repo.task_ids(j.write.key for j in jobs)
        plan = rc.plan_tasks(jobs, known, self.gateway.usage(), self.policy)
        results = dict(zip([w.key for w in plan.writes], await self._write(plan.writes, b.bulk), strict=True))
        step, recorded = rc.apply_tasks(plan, results, self.clock.now())
        b.take(plan)
        b.take(step)
        b.unit.tasks += recorded
        return plan.ids

    # ---- leads.routed ------------------------------------------------------------------------------
    async def _routed(self, b: _Batch, items: list[tuple[LeadRouted, bytes]], states: dict[str, LeadState]) -> None:
        plan = rc.plan_routed(items, states, self.policy, self.gateway.usage())
        b.take(plan)
        lead_ids = list(plan.writes)
        results = dict(zip(lead_ids, await self._write([plan.writes[i] for i in lead_ids], b.bulk), strict=True))
        retries = rc.target_gone_retries(plan, results, states, self.policy)
        if retries:
            plan.plans.update(retries)
            retried = [(lid, p.write) for lid, p in retries.items() if p.write is not None]
            results.update(zip([lid for lid, _ in retried], await self._write([w for _, w in retried]), strict=True))
        step, task_jobs = rc.apply_routed(plan, results, states, self.policy, self.clock.now())
        b.take(step)
        task_ids = await self._tasks(b, task_jobs)
        b.outputs += rc.routed_outputs(
            plan, step.states, results, task_ids, b.blocked, self.clock.now(), shadow=self.shadow
        )

    # ---- sla.events --------------------------------------------------------------------------------
    async def _sla(self, b: _Batch, items: list[tuple[SlaEvent, bytes]], states: dict[str, LeadState]) -> None:
        current = b.overlay(states)
        leaders = await self._leaders(rc.escalations_needing_a_leader(items, current), current)
        plan = rc.plan_sla(items, current, self.policy, self.gateway.usage(), leaders)
        b.take(plan)
        results = await self._write([w for _, _, w, _ in plan.status_writes])
        step = rc.apply_sla(plan, results, b.overlay(states), self.clock.now())
        b.take(step)
        task_ids = await self._tasks(b, plan.tasks)
        b.outputs += rc.sla_outputs(plan, b.overlay(states), task_ids, b.blocked, self.clock.now(), shadow=self.shadow)

    async def _leaders(self, escalations: list[SlaEvent], states: dict[str, LeadState]) -> dict[str, str | None]:
        """Escalation event id → its team leader; an event left out could not be looked up (held)."""
        out: dict[str, str | None] = {}
        for ev in escalations:
            state = states.get(ev.lead_id) or LeadState(lead_id=ev.lead_id)
            try:
                leader, why = await self.directory.escalation_target(
                    ev.team or state.team, ev.owner_id or state.owner_id
                )
            except (Unavailable, SalesforceCallError) as e:
                log.warning("directory_unavailable", lead_id=ev.lead_id, error=str(e))
                continue
            out[ev.event_id] = leader
            log.info("sla_escalation_target", lead_id=ev.lead_id, leader_id=leader, reason=why)
        return out

    # ---- crm.changes: conversion -------------------------------------------------------------------
    async def _changes(self, b: _Batch, items: list[tuple[CrmChange, bytes]], states: dict[str, LeadState]) -> None:
        leads = [(ev, raw) for ev, raw in items if ev.object == "Lead"]
        if not leads:
            return
        with_state = [(ev, raw, await self._state_of(b, states, ev)) for ev, raw in leads]
        converted = {sf: c for sf in {ev.record_id for ev, _ in leads} if (c := await self.repo.conversion(sf))}
        plan = rc.plan_changes(
            with_state, converted, self.policy, self.clock.now().date(), self.clock.now(), shadow=self.shadow
        )
        b.take(plan)
        b.unit.conversions += plan.conversions
        if not plan.jobs:
            return
        results = await self._convert(plan.jobs)
        step, opportunity_writes = rc.apply_conversions(plan.jobs, results, self.clock.now(), shadow=self.shadow)
        b.take(step)
        b.unit.conversions += step.conversions
        for sf_id, lead_id, ids in step.conversions:
            log.info(
                "lead_converted",
                lead_id=lead_id,
                salesforce_id=sf_id,
                opportunity_id=ids.opportunity_id,
                account_id=ids.account_id,
            )
        for w, res in zip(opportunity_writes, await self._write(opportunity_writes), strict=True):
            if not isinstance(res, SaveResult) or not res.ok:
                log.warning("opportunity_update_failed", opportunity_id=w.key, result=str(res))

    async def _state_of(self, b: _Batch, states: dict[str, LeadState], ev: CrmChange) -> LeadState:
        state = b.state(states, ev.lead_id)
        if state is None or state.salesforce_id != ev.record_id:
            state = await self.repo.state_by_salesforce_id(ev.record_id) or state
        return state or LeadState(lead_id=ev.lead_id, salesforce_id=ev.record_id)

    async def _convert(self, jobs: list[rc.ConvertJob]) -> dict[str, rc.ConversionResult | rc.Unwritten]:
        """convertLead for every job, up to CONVERT_CHUNK per call, into the matched Contact when there is one."""
        pairs = [(j.plan.account_id, j.plan.email.lower()) for j in jobs if j.plan.account_id and j.plan.email]
        out: dict[str, rc.ConversionResult | rc.Unwritten] = {}
        try:
            contacts = await self.writer.call(lambda: self.gateway.contacts_for(pairs)) if pairs else {}
        except (Unavailable, SalesforceCallError) as e:
            return self._convert_failed(jobs, e)
        for start in range(0, len(jobs), CONVERT_CHUNK):
            chunk = jobs[start : start + CONVERT_CHUNK]
            converts = [_lead_convert(j, contacts) for j in chunk]
            try:
                answers = await self.writer.call(lambda c=converts: self.gateway.convert(c))  # type: ignore[misc]
            except (Unavailable, SalesforceCallError) as e:
                out.update(self._convert_failed(chunk, e))
                continue
            for j, res in zip(chunk, answers, strict=True):
                err = res.errors[0] if res.errors else None
                out[j.plan.lead_sf_id] = rc.ConversionResult(
                    ids=ConvertedIds(res.account_id, res.contact_id, res.opportunity_id) if res.success else None,
                    code=None if res.success else (err.status_code if err else "UNKNOWN_EXCEPTION"),
                    message="" if res.success else (err.message if err else "convertLead failed"),
                )
        await self._read_back(out)
        return out

    @staticmethod
    def _convert_failed(jobs: list[rc.ConvertJob], e: Exception) -> dict[str, rc.ConversionResult | rc.Unwritten]:
        if isinstance(e, Unavailable):
            log.warning("conversion_postponed", leads=len(jobs), error=str(e))
            return {j.plan.lead_sf_id: rc.UNWRITTEN for j in jobs}
        assert isinstance(e, SalesforceCallError)
        return {j.plan.lead_sf_id: rc.ConversionResult(code=e.code or "BAD_REQUEST", message=e.message) for j in jobs}

    async def _read_back(self, out: dict[str, rc.ConversionResult | rc.Unwritten]) -> None:
        """Leads converted already (an attempt whose claim was lost, or a rep): read what they became."""
        already = [
            sf
            for sf, r in out.items()
            if isinstance(r, rc.ConversionResult) and r.code == "CANNOT_UPDATE_CONVERTED_LEAD"
        ]
        if not already:
            return
        try:
            rows = await self.writer.call(lambda: self.gateway.converted_leads(already))
        except (Unavailable, SalesforceCallError) as e:
            log.warning("conversion_read_back_failed", leads=len(already), error=str(e))
            out.update({sf: rc.UNWRITTEN for sf in already})
            return
        for sf in already:
            row = rows.get(sf, {})
            out[sf] = rc.ConversionResult(
                ids=ConvertedIds(
                    row.get("ConvertedAccountId"), row.get("ConvertedContactId"), row.get("ConvertedOpportunityId")
                ),
                owner_id=row.get("OwnerId"),
                already=True,
            )

    # ---- deferred writes (API budget) ---------------------------------------------------------------
    async def _probe_budget(self) -> bool:
        """Nothing else refreshes the usage while only deferred writes wait: ask /limits, not too often."""
        now = time.monotonic()
        if self._last_probe is not None and now - self._last_probe < self.budget_probe_seconds:
            return False
        self._last_probe = now
        try:
            usage = await self.writer.call(self.gateway.refresh_usage)
        except (Unavailable, SalesforceCallError) as e:
            log.warning("budget_probe_failed", error=str(e))
            return False
        log.info("budget_probed", remaining=usage.remaining if usage else None)
        return True

    def _allowed(self, rows: list[tuple[str, DeferredWrite]]) -> list[tuple[str, DeferredWrite]]:
        usage = self.gateway.usage()
        return [r for r in rows if budget_policy.decide(r[1].write.kind, usage, self.policy.budget).allowed]

    async def drain_deferred(self, limit: int = 1000) -> int:
        """Write what the budget held back, now that it allows it. Returns the number written."""
        rows = [
            (key, DeferredWrite.from_row(lead_id, payload))
            for key, lead_id, _kind, payload in await self.repo.deferred_writes(limit)
        ]
        if not rows:
            return 0
        todo = self._allowed(rows)
        if not todo and await self._probe_budget():
            todo = self._allowed(rows)
        if not todo:
            return 0
        b = _Batch()
        results = await self.writer.write([d.write for _, d in todo])
        states = await self.repo.load_states(d.lead_id for _, d in todo)
        written = 0
        for (key, d), res in zip(todo, results, strict=True):
            if isinstance(res, Unavailable):
                continue
            b.unit.undefer(key)
            if not res.ok:
                log.warning("deferred_write_failed", lead_id=d.lead_id, code=res.status_code)
                continue
            written += 1
            self._deferred_done(b, d, res, b.state(states, d.lead_id) or LeadState(lead_id=d.lead_id))
        if b.outputs:
            await self.publish(b.outputs)
        await self.repo.commit(b.unit, self.clock.now())
        log.info("deferred_drained", written=written, pending=len(rows) - written)
        return written

    def _deferred_done(self, b: _Batch, d: DeferredWrite, res: SaveResult, state: LeadState) -> None:
        if d.kind == "lead":
            assert d.event is not None
            state = rc.state_from_event(state, d.event).with_(
                content_hash=d.content_hash, salesforce_id=state.salesforce_id or res.id
            )
            b.unit.states[d.lead_id] = state
            if state.written:
                b.outputs.append(
                    synced(
                        d.event,
                        state,
                        SyncOperation.UPDATED,
                        "deferred update written (API budget recovered)",
                        self.clock.now(),
                        dropped=res.dropped,
                        shadow=self.shadow,
                    )
                )
        elif d.kind == "sla_status":
            b.unit.states[d.lead_id] = state.with_(sla_status=d.sla_status)
        elif res.id:
            b.unit.tasks.append((d.write.key, d.lead_id, d.purpose or "task", res.id))


def _lead_convert(job: rc.ConvertJob, contacts: dict[tuple[str, str], str]) -> LeadConvert:
    p = job.plan
    contact = contacts.get((p.account_id, p.email.lower())) if p.account_id and p.email else None
    return LeadConvert(
        lead_id=p.lead_sf_id,
        converted_status=p.converted_status,
        account_id=p.account_id,
        contact_id=contact,
        owner_id=p.owner_id,
        do_not_create_opportunity=not p.create_opportunity,
        opportunity_name=p.opportunity_name if p.create_opportunity else None,
    )


__all__ = ["SERVICE", "BatchResult", "Incoming", "Kind", "SyncService"]
