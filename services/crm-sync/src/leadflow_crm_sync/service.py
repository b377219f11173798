"""One batch of messages in, Salesforce writes and contract events out (the service layer).

``SyncService.process`` takes the raw records of one Kafka batch (``leads.routed``, ``sla.events``,
``crm.changes``), skips events already applied, plans the writes (pure domain), sends them through the
``BatchWriter`` (grouped Collections calls), publishes ``crm.synced`` / ``leads.deadletter`` and then
commits the new state and the event claims in one transaction. Events whose writes Salesforce could not
take (outage, limit) are neither published nor claimed: the caller rewinds Kafka to them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from leadflow_contracts import (
    CrmChange,
    CrmSynced,
    DeadLetter,
    Event,
    LeadRouted,
    SlaEvent,
    SlaEventKind,
    SyncOperation,
    TraceStep,
    topics,
)
from leadflow_contracts.crm import DroppedField
from leadflow_platform.clock import Clock
from leadflow_platform.logging import get_logger
from leadflow_platform.metrics import EVENTS_FAILED
from leadflow_salesforce import LeadConvert
from pydantic import ValidationError

from leadflow_crm_sync.adapters.gateway import SalesforceCallError, SalesforceGateway
from leadflow_crm_sync.adapters.repository import Repository, UnitOfWork
from leadflow_crm_sync.directory import TeamDirectory
from leadflow_crm_sync.domain import budget as budget_policy
from leadflow_crm_sync.domain.conversion import ConvertedIds, observed_conversion, plan_conversion, wants_conversion
from leadflow_crm_sync.domain.ids import derived_event_id
from leadflow_crm_sync.domain.mapping import (
    LeadPlan,
    callback_task,
    escalation_task,
    fallback_upsert,
    inquiry_task,
    plan_lead,
    sla_status_write,
    sla_warning_task,
)
from leadflow_crm_sync.domain.policy import SyncPolicy, WriteKind
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import Dropped, Outcome, RecordWrite, SaveResult
from leadflow_crm_sync.writer import BatchWriter, Unavailable

log = get_logger(__name__)
SERVICE = "crm-sync"
Kind = Literal["routed", "sla", "changes"]
Publish = Callable[[list[tuple[str, Event]]], Awaitable[None]]
_PARSERS: dict[str, type[Event]] = {"routed": LeadRouted, "sla": SlaEvent, "changes": CrmChange}
_SOURCE_TOPIC = {"routed": topics.LEADS_ROUTED, "sla": topics.SLA_EVENTS, "changes": topics.CRM_CHANGES}


@dataclass(frozen=True)
class Incoming:
    kind: Kind
    value: bytes


@dataclass
class BatchResult:
    published: int = 0
    dead_lettered: int = 0
    unavailable: int = 0
    skipped_replays: int = 0
    deferred: int = 0
    reasons: list[str] = field(default_factory=list)


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Batch:
    """Working state of one batch."""

    def __init__(self) -> None:
        self.outputs: list[tuple[str, Event]] = []
        self.unit = UnitOfWork()
        self.result = BatchResult()
        self.blocked: set[str] = set()  # event ids that must stay in Kafka
        self.deferred_leads: set[str] = set()


class SyncService:
    def __init__(self, *, repo: Repository, writer: BatchWriter, gateway: SalesforceGateway, policy: SyncPolicy,
                 clock: Clock, publish: Publish, directory: TeamDirectory,
                 budget_probe_seconds: float = 300.0, shadow: bool = False) -> None:
        self.repo = repo
        self.writer = writer
        self.gateway = gateway
        self.policy = policy
        self.clock = clock
        self.publish = publish
        self.directory = directory
        self.budget_probe_seconds = budget_probe_seconds
        self.shadow = shadow
        self._last_probe: float | None = None

    # ---- helpers -----------------------------------------------------------------------------------
    def _step(self, decision: str, reason: str) -> TraceStep:
        return TraceStep(service=SERVICE, decision=decision, reason=reason[:500], at=self.clock.now())

    def _dead_letter(self, b: _Batch, kind: Kind, raw: bytes, lead_id: str, reason: str, message: str,
                     detail: dict[str, str] | None = None, *, source_event_id: str | None = None,
                     not_in_salesforce: bool = False) -> None:
        now = self.clock.now()
        source = source_event_id or hashlib.sha256(raw).hexdigest()
        b.outputs.append((topics.LEADS_DEADLETTER, DeadLetter(
            event_id=derived_event_id(source, f"deadletter:{reason}:{(detail or {}).get('operation', '')}"),
            lead_id=lead_id or "unknown", occurred_at=now, service=SERVICE, topic=_SOURCE_TOPIC[kind],
            reason=reason, message=message[:2000], original_base64=base64.b64encode(raw).decode(),
            retriable=False, detail=detail or {}, failed_at=now, not_in_salesforce=not_in_salesforce)))
        b.result.dead_lettered += 1
        EVENTS_FAILED.labels(SERVICE, _SOURCE_TOPIC[kind], reason.split(":")[0]).inc()

    def _synced(self, b: _Batch, event: Event, state: LeadState, op: SyncOperation, reason: str, *,
                task_id: str | None = None, ids: ConvertedIds | None = None, dropped: tuple[Dropped, ...] = ()) -> None:
        assert state.salesforce_id is not None
        step = self._step(op.value, reason + "".join(f"; dropped {d.field} ({d.code})" for d in dropped))
        b.outputs.append((topics.CRM_SYNCED, CrmSynced(
            event_id=derived_event_id(event.event_id, f"synced:{state.lead_id}"),
            dropped_fields=tuple(DroppedField(field=d.field, reason=d.code, message=d.message) for d in dropped),
            shadow=self.shadow,
            lead_id=state.lead_id, occurred_at=self.clock.now(), trace=event.with_step(step),
            salesforce_id=state.salesforce_id, object=state.object, operation=op, owner_id=state.owner_id,
            task_id=task_id, submitted_at=state.submitted_at, source_event_id=event.event_id, team=state.team,
            rating=state.rating, lead_source=state.lead_source,
            account_id=ids.account_id if ids else None, contact_id=ids.contact_id if ids else None,
            opportunity_id=ids.opportunity_id if ids else None)))

    def _allowed(self, kind: WriteKind) -> budget_policy.BudgetDecision:
        return budget_policy.decide(kind, self.gateway.usage(), self.policy.budget)

    # ---- entry point -------------------------------------------------------------------------------
    async def process(self, records: list[Incoming]) -> BatchResult:
        started = time.perf_counter()
        b = _Batch()
        # Redeliveries (a rewound batch, a replay) are recognised by their event id before the full parse.
        ids = [_event_id_guess(rec.value) for rec in records]
        done = await self.repo.already_processed(i for i in ids if i)
        b.result.skipped_replays = sum(1 for i in ids if i and i in done)
        parsed: list[tuple[Kind, Event, bytes]] = []
        for rec, guessed in zip(records, ids, strict=True):
            if guessed and guessed in done:
                continue
            try:
                event = _PARSERS[rec.kind].model_validate_json(rec.value)
            except ValidationError as e:
                errs = e.errors()
                where = ".".join(str(p) for p in errs[0]["loc"]) if errs else "(root)"
                why = errs[0]["msg"] if errs else str(e)
                self._dead_letter(b, rec.kind, rec.value, _lead_id_guess(rec.value), "invalid_event",
                                  f"not a valid {_PARSERS[rec.kind].__name__}: {where or '(root)'}: {why}")
                continue
            parsed.append((rec.kind, event, rec.value))
        late = {e.event_id for _, e, _ in parsed} - set(ids)  # ids the quick look could not read
        if late:
            again = await self.repo.already_processed(late)
            b.result.skipped_replays += len(again)
            parsed = [p for p in parsed if p[1].event_id not in again]
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
        planned = time.perf_counter()
        if b.outputs:
            await self.publish(b.outputs)
            b.result.published = len(b.outputs)
        published = time.perf_counter()
        await self.repo.commit(b.unit, self.clock.now())
        log.info("batch_synced", records=len(records), routed=len(routed), sla=len(slas), changes=len(changes),
                 published=b.result.published, dead_lettered=b.result.dead_lettered,
                 replays_skipped=b.result.skipped_replays, deferred=b.result.deferred, held=b.result.unavailable,
                 duration_ms=round((time.perf_counter() - started) * 1000, 1),
                 publish_ms=round((published - planned) * 1000, 1),
                 commit_ms=round((time.perf_counter() - published) * 1000, 1))
        return b.result

    # ---- leads.routed ------------------------------------------------------------------------------
    async def _routed(self, b: _Batch, items: list[tuple[LeadRouted, bytes]], states: dict[str, LeadState]) -> None:
        latest: dict[str, tuple[LeadRouted, bytes]] = {}
        superseded: dict[str, list[LeadRouted]] = {}
        for ev, raw in items:
            cur = latest.get(ev.lead_id)
            if cur is None or (ev.reassignment, ev.occurred_at) >= (cur[0].reassignment, cur[0].occurred_at):
                if cur is not None:
                    superseded.setdefault(ev.lead_id, []).append(cur[0])
                latest[ev.lead_id] = (ev, raw)
            else:
                superseded.setdefault(ev.lead_id, []).append(ev)

        plans: dict[str, LeadPlan] = {}
        writes: list[tuple[str, RecordWrite]] = []
        for lead_id, (ev, _raw) in latest.items():
            state = states.get(lead_id) or LeadState(lead_id=lead_id)
            plan = plan_lead(ev, state, self.policy)
            plans[lead_id] = plan
            if plan.write is None:
                continue
            decision = self._allowed(plan.kind)
            if not decision.allowed:
                self._defer(b, ev, state, plan, decision.reason)
                continue
            b.unit.undefer(_deferred_key(plan.write))
            writes.append((lead_id, plan.write))

        results = dict(zip([lid for lid, _ in writes], await self.writer.write([w for _, w in writes]), strict=True))
        # A duplicate whose target record is gone becomes a new lead.
        retry: list[tuple[str, RecordWrite]] = []
        for lead_id, first_try in list(results.items()):
            if isinstance(first_try, SaveResult) and first_try.outcome is Outcome.TARGET_GONE:
                ev = latest[lead_id][0]
                plan = fallback_upsert(ev, states.get(lead_id) or LeadState(lead_id=lead_id), self.policy)
                plans[lead_id] = plan
                assert plan.write is not None
                log.info("duplicate_target_gone", lead_id=lead_id, code=first_try.status_code)
                retry.append((lead_id, plan.write))
        if retry:
            results.update(zip([lid for lid, _ in retry], await self.writer.write([w for _, w in retry]), strict=True))

        # Apply results to the state; Tasks need the record ids.
        task_writes: list[tuple[str, str, RecordWrite]] = []  # lead_id, purpose, write
        new_states: dict[str, LeadState] = {}
        for lead_id, (ev, raw) in latest.items():
            plan = plans[lead_id]
            state = states.get(lead_id) or LeadState(lead_id=lead_id)
            base = _state_from_event(state, ev)
            if plan.target == "contact":
                dup = ev.enrichment.duplicate_of
                assert dup is not None
                st = base.with_(salesforce_id=dup.record_id, object="Contact", mode="update",
                                content_hash=plan.content_hash)
                new_states[lead_id] = st
                task_writes.append((lead_id, "inquiry", inquiry_task(ev, dup.record_id, self.policy)))
                cb = callback_task(ev, dup.record_id, self.policy)
                if cb is not None:
                    task_writes.append((lead_id, "callback", cb))
                continue
            if lead_id in b.deferred_leads:
                continue  # _defer recorded the state; the drain publishes when it writes
            res: SaveResult | Unavailable | None = results.get(lead_id)
            if plan.write is None:
                if state.written:
                    new_states[lead_id] = base
                    if state.object == "Lead" and not state.converted and state.salesforce_id:
                        cb = callback_task(ev, state.salesforce_id, self.policy)  # created before, or now
                        if cb is not None:
                            task_writes.append((lead_id, "callback", cb))
                continue
            if isinstance(res, Unavailable):
                b.blocked.add(ev.event_id)
                b.blocked.update(e.event_id for e in superseded.get(lead_id, []))
                continue
            assert isinstance(res, SaveResult)
            if res.outcome is Outcome.CONVERTED_LEAD:
                new_states[lead_id] = base.with_(converted=True, salesforce_id=state.salesforce_id or res.id)
                continue
            if not res.ok:
                self._dead_letter(b, "routed", raw, lead_id, f"salesforce:{res.status_code}", res.message or "",
                                  {"statusCode": res.status_code or "", "fields": ",".join(res.fields),
                                   "operation": f"{plan.write.mode} {plan.write.sobject}"},
                                  source_event_id=ev.event_id, not_in_salesforce=not state.written)
                for old in superseded.get(lead_id, []):
                    b.blocked.discard(old.event_id)
                continue
            first = {} if state.written else {"sla_status": plan.write.fields.get("SLA_Status__c"),
                                                "pending_sla_status": None}
            st = base.with_(salesforce_id=res.id, mode=plan.write.mode, content_hash=plan.content_hash,
                            object="Lead", **first)
            new_states[lead_id] = st
            assert res.id is not None
            cb = callback_task(ev, res.id, self.policy)
            if cb is not None:
                task_writes.append((lead_id, "callback", cb))

        task_ids = await self._write_tasks(b, [
            _TaskJob(latest[lid][0], latest[lid][1], "routed", lid, purpose, w) for lid, purpose, w in task_writes])
        for lead_id, (ev, _raw) in latest.items():
            if lead_id not in new_states:
                continue
            st = new_states[lead_id]
            b.unit.states[lead_id] = st  # the record is written even if a Task still has to be retried
            if ev.event_id in b.blocked:
                continue
            outcome = results.get(lead_id)
            plan = plans[lead_id]
            if st.converted:
                op = SyncOperation.UNCHANGED
            elif plan.target == "contact":
                op = SyncOperation.UPDATED
            elif isinstance(outcome, SaveResult) and outcome.ok:
                op = SyncOperation.CREATED if outcome.outcome is Outcome.CREATED else SyncOperation.UPDATED
            elif plan.write is None:
                op = SyncOperation.UNCHANGED
            else:
                continue  # dead-lettered
            if not st.written:
                continue
            task_id = task_ids.get((ev.event_id, "callback")) or task_ids.get((ev.event_id, "inquiry"))
            for old in superseded.get(lead_id, []):
                self._synced(b, old, st, SyncOperation.UNCHANGED, "superseded by a later routing in the same batch")
            self._synced(b, ev, st, op, plan.reason, task_id=task_id,
                         dropped=outcome.dropped if isinstance(outcome, SaveResult) else ())
            log.debug("lead_synced", lead_id=lead_id, salesforce_id=st.salesforce_id, operation=op.value,
                     owner_id=st.owner_id, reason=plan.reason)

    def _defer(self, b: _Batch, ev: LeadRouted, state: LeadState, plan: LeadPlan, reason: str) -> None:
        assert plan.write is not None
        w = plan.write
        b.unit.defer(_deferred_key(w), ev.lead_id, w.kind.value, {
            "write": _write_dict(w), "content_hash": plan.content_hash, "event": ev.model_dump(mode="json")})
        b.result.deferred += 1
        b.result.reasons.append(reason)
        b.unit.states[ev.lead_id] = _state_from_event(state, ev).with_(owner_id=state.owner_id)
        b.deferred_leads.add(ev.lead_id)
        log.info("write_deferred", lead_id=ev.lead_id, kind=w.kind.value, reason=reason)

    async def _write_tasks(self, b: _Batch, jobs: list[_TaskJob]) -> dict[tuple[str, str], str]:
        """Create each Task once: skip the ones recorded; the external id makes a replayed create an update.

        Returns (event id, purpose) → Task id.
        """
        out: dict[tuple[str, str], str] = {}
        known = await self.repo.task_ids(j.write.key for j in jobs)
        todo: list[_TaskJob] = []
        for j in jobs:
            if j.write.key in known:
                out[(j.event.event_id, j.purpose)] = known[j.write.key]
                continue
            decision = self._allowed(j.write.kind)
            if not decision.allowed:
                log.info("task_deferred", lead_id=j.lead_id, purpose=j.purpose, reason=decision.reason)
                b.unit.defer(_deferred_key(j.write), j.lead_id, j.write.kind.value,
                             {"write": _write_dict(j.write), "purpose": j.purpose})
                b.result.deferred += 1
                continue
            todo.append(j)
        first_of: dict[str, int] = {}
        unique: list[_TaskJob] = []
        for j in todo:  # the same Task asked twice in one batch (e.g. a repeated SLA step) is written once
            if j.write.key not in first_of:
                first_of[j.write.key] = len(unique)
                unique.append(j)
        written = await self.writer.write([j.write for j in unique])
        results = [written[first_of[j.write.key]] for j in todo]
        for j, res in zip(todo, results, strict=True):
            if isinstance(res, Unavailable):
                b.blocked.add(j.event.event_id)
                continue
            if res.ok and res.id:
                out[(j.event.event_id, j.purpose)] = res.id
                b.unit.tasks.append((j.write.key, j.lead_id, j.purpose, res.id))
                log.debug("task_created", lead_id=j.lead_id, purpose=j.purpose, task_id=res.id)
            else:
                # The lead itself is written; the Task failed for good: dead-letter with the error, keep going.
                self._dead_letter(b, j.kind, j.raw, j.lead_id, f"salesforce:{res.status_code}", res.message or "",
                                  {"statusCode": res.status_code or "", "fields": ",".join(res.fields),
                                   "operation": f"upsert Task ({j.purpose})"})
        return out

    # ---- sla.events --------------------------------------------------------------------------------
    async def _sla(self, b: _Batch, items: list[tuple[SlaEvent, bytes]], states: dict[str, LeadState]) -> None:
        status_writes: list[tuple[SlaEvent, bytes, RecordWrite, str]] = []
        task_jobs: list[_TaskJob] = []
        applied: list[tuple[SlaEvent, str | None]] = []
        for ev, raw in sorted(items, key=lambda p: p[0].occurred_at):
            state = b.unit.states.get(ev.lead_id) or states.get(ev.lead_id) or LeadState(lead_id=ev.lead_id)
            status, write = sla_status_write(ev, state, self.policy)
            if status is not None and not state.written:
                # The lead is not in Salesforce yet: its first write will carry this status.
                b.unit.states[ev.lead_id] = state.with_(pending_sla_status=status)
                log.info("sla_status_pending", lead_id=ev.lead_id, status=status)
                continue
            if write is not None:
                decision = self._allowed(write.kind)
                if decision.allowed:
                    status_writes.append((ev, raw, write, status or ""))
                    b.unit.undefer(f"sla|{ev.lead_id}")
                else:
                    b.unit.defer(f"sla|{ev.lead_id}", ev.lead_id, write.kind.value,
                                 {"write": _write_dict(write), "sla_status": status})
                    b.unit.states[ev.lead_id] = state.with_(sla_status=status)
                    b.result.deferred += 1
            task: RecordWrite | None = None
            if ev.kind is SlaEventKind.WARNING:
                task = sla_warning_task(ev, state, self.policy)
            elif ev.kind is SlaEventKind.ESCALATED and state.written:
                try:
                    leader, why = await self.directory.escalation_target(ev.team or state.team,
                                                                         ev.owner_id or state.owner_id)
                except (Unavailable, SalesforceCallError) as e:
                    log.warning("directory_unavailable", lead_id=ev.lead_id, error=str(e))
                    b.blocked.add(ev.event_id)
                    continue
                task = escalation_task(ev, state, leader, self.policy)
                log.info("sla_escalation_target", lead_id=ev.lead_id, leader_id=leader, reason=why)
            if task is not None:
                task_jobs.append(_TaskJob(ev, raw, "sla", ev.lead_id, f"sla-{ev.kind.value}", task))
            applied.append((ev, status))

        results = await self.writer.write([w for _, _, w, _ in status_writes])
        for (ev, raw, _w, status), res in zip(status_writes, results, strict=True):
            state = b.unit.states.get(ev.lead_id) or states.get(ev.lead_id) or LeadState(lead_id=ev.lead_id)
            if isinstance(res, Unavailable):
                b.blocked.add(ev.event_id)
            elif res.ok:
                b.unit.states[ev.lead_id] = state.with_(sla_status=status)
            elif res.outcome is Outcome.TARGET_GONE:
                b.unit.states[ev.lead_id] = state.with_(converted=state.converted
                                                        or res.status_code == "CANNOT_UPDATE_CONVERTED_LEAD")
            else:
                self._dead_letter(b, "sla", raw, ev.lead_id, f"salesforce:{res.status_code}", res.message or "",
                                  {"statusCode": res.status_code or "", "operation": "update Lead SLA_Status__c"})
                b.blocked.discard(ev.event_id)

        task_ids = await self._write_tasks(b, task_jobs)
        for ev, _status in applied:
            if ev.event_id in b.blocked:
                continue
            current = b.unit.states.get(ev.lead_id) or states.get(ev.lead_id)
            if current is None or not current.written:
                continue
            task_id = task_ids.get((ev.event_id, f"sla-{ev.kind.value}"))
            self._synced(b, ev, current, SyncOperation.SLA_STATUS, f"sla {ev.kind.value} ({ev.clock})", task_id=task_id)

    # ---- crm.changes: conversion --------------------------------------------------------------------
    async def _changes(self, b: _Batch, items: list[tuple[CrmChange, bytes]], states: dict[str, LeadState]) -> None:
        for ev, raw in items:
            if ev.object != "Lead":
                continue
            state = b.unit.states.get(ev.lead_id) or states.get(ev.lead_id)
            if state is None or state.salesforce_id != ev.record_id:
                state = await self.repo.state_by_salesforce_id(ev.record_id) or state
            if state is None:
                state = LeadState(lead_id=ev.lead_id, salesforce_id=ev.record_id)
            seen = observed_conversion(ev)
            in_batch = next((c for sf_id, _l, c in b.unit.conversions if sf_id == ev.record_id), None)
            already = in_batch or await self.repo.conversion(ev.record_id)
            if seen is not None:
                if already is None:
                    st = state.with_(converted=True, salesforce_id=ev.record_id)
                    b.unit.states[st.lead_id] = st
                    b.unit.conversions.append((ev.record_id, st.lead_id, seen))
                    self._synced(b, ev, st, SyncOperation.CONVERTED, "converted in Salesforce", ids=seen)
                continue
            reason = wants_conversion(ev, self.policy.conversion)
            if reason is None or already is not None:
                continue
            try:
                ids = await self._convert(ev, state, reason)
            except Unavailable as e:
                log.warning("conversion_postponed", lead_id=ev.lead_id, error=str(e))
                b.blocked.add(ev.event_id)
                continue
            except _ConversionFailed as e:
                self._dead_letter(b, "changes", raw, ev.lead_id, f"salesforce:{e.code}", e.message,
                                  {"statusCode": e.code, "operation": "convertLead"})
                continue
            st, conv = ids
            b.unit.states[st.lead_id] = st
            b.unit.conversions.append((ev.record_id, st.lead_id, conv))
            self._synced(b, ev, st, SyncOperation.CONVERTED, reason, ids=conv)
            log.info("lead_converted", lead_id=st.lead_id, salesforce_id=ev.record_id,
                     opportunity_id=conv.opportunity_id, account_id=conv.account_id, owner_id=st.owner_id)

    async def _convert(self, ev: CrmChange, state: LeadState, reason: str) -> tuple[LeadState, ConvertedIds]:
        today = self.clock.now().date()
        plan = plan_conversion(ev, state, self.policy.conversion, today, reason)
        contact_id: str | None = None
        if plan.account_id and plan.email:
            soql = (f"SELECT Id FROM Contact WHERE AccountId = {soql_quote(plan.account_id)} "  # noqa: S608 - quoted
                    f"AND Email = {soql_quote(plan.email)} ORDER BY CreatedDate LIMIT 1")
            try:
                rows = await self.writer.call(lambda: self.gateway.query(soql))
            except SalesforceCallError as e:
                raise _ConversionFailed(e.code or "BAD_REQUEST", e.message) from None
            contact_id = rows[0]["Id"] if rows else None
        lc = LeadConvert(lead_id=plan.lead_sf_id, converted_status=plan.converted_status, account_id=plan.account_id,
                         contact_id=contact_id, owner_id=plan.owner_id,
                         do_not_create_opportunity=not plan.create_opportunity,
                         opportunity_name=plan.opportunity_name if plan.create_opportunity else None)
        try:
            results = await self.writer.call(lambda: self.gateway.convert([lc]))
        except SalesforceCallError as e:
            raise _ConversionFailed(e.code or "BAD_REQUEST", e.message) from None
        res = results[0]
        if not res.success:
            err = res.errors[0] if res.errors else None
            code = err.status_code if err else "UNKNOWN_EXCEPTION"
            if code != "CANNOT_UPDATE_CONVERTED_LEAD":
                raise _ConversionFailed(code, err.message if err else "convertLead failed")
            # Converted already (a previous attempt whose claim was lost, or by a rep): read what it became.
            fields = "Id, ConvertedAccountId, ConvertedContactId, ConvertedOpportunityId, OwnerId"
            soql = f"SELECT {fields} FROM Lead WHERE Id = {soql_quote(plan.lead_sf_id)}"  # noqa: S608 - quoted
            rows = await self.writer.call(lambda: self.gateway.query(soql))
            row = rows[0] if rows else {}
            ids = ConvertedIds(row.get("ConvertedAccountId"), row.get("ConvertedContactId"),
                               row.get("ConvertedOpportunityId"))
            return state.with_(converted=True, salesforce_id=plan.lead_sf_id,
                               owner_id=row.get("OwnerId") or state.owner_id), ids
        if res.opportunity_id and plan.opportunity_fields:
            opp = RecordWrite("Opportunity", "update", res.opportunity_id, plan.opportunity_fields,
                              WriteKind.CONVERSION)
            (opp_result,) = await self.writer.write([opp])
            if not isinstance(opp_result, SaveResult) or not opp_result.ok:
                log.warning("opportunity_update_failed", lead_id=state.lead_id, opportunity_id=res.opportunity_id,
                            result=str(opp_result))
        return state.with_(converted=True, salesforce_id=plan.lead_sf_id, owner_id=plan.owner_id or state.owner_id), \
            ConvertedIds(res.account_id, res.contact_id, res.opportunity_id)

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

    async def drain_deferred(self, limit: int = 1000) -> int:
        """Write what the budget held back, now that it allows it. Returns the number written."""
        rows = await self.repo.deferred_writes(limit)
        if not rows:
            return 0
        b = _Batch()
        writes = []
        for key, lead_id, _kind, payload in rows:
            w = payload["write"]
            writes.append((key, lead_id, payload, RecordWrite(w["sobject"], w["mode"], w["key"], w["fields"],
                                                              WriteKind(w["kind"]), w.get("ext_field"))))
        todo = [t for t in writes if self._allowed(t[3].kind).allowed]
        if not todo and await self._probe_budget():
            todo = [t for t in writes if self._allowed(t[3].kind).allowed]
        if not todo:
            return 0
        results = await self.writer.write([w for _, _, _, w in todo])
        states = await self.repo.load_states(lid for _, lid, _, _ in todo)
        written = 0
        for (key, lead_id, payload, write), res in zip(todo, results, strict=True):
            if isinstance(res, Unavailable):
                continue
            b.unit.undefer(key)
            if not res.ok:
                log.warning("deferred_write_failed", lead_id=lead_id, code=res.status_code)
                continue
            written += 1
            state = b.unit.states.get(lead_id) or states.get(lead_id) or LeadState(lead_id=lead_id)
            if "content_hash" in payload:
                ev = LeadRouted.model_validate(payload["event"])
                state = _state_from_event(state, ev).with_(content_hash=payload["content_hash"],
                                                           salesforce_id=state.salesforce_id or res.id)
                b.unit.states[lead_id] = state
                if state.written:
                    self._synced(b, ev, state, SyncOperation.UPDATED, "deferred update written (API budget recovered)")
            elif "sla_status" in payload:
                b.unit.states[lead_id] = state.with_(sla_status=payload["sla_status"])
            elif "purpose" in payload and res.id:
                b.unit.tasks.append((write.key, lead_id, payload["purpose"], res.id))
        if b.outputs:
            await self.publish(b.outputs)
        await self.repo.commit(b.unit, self.clock.now())
        log.info("deferred_drained", written=written, pending=len(rows) - written)
        return written


class _ConversionFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _TaskJob:
    event: Event
    raw: bytes
    kind: Kind
    lead_id: str
    purpose: str
    write: RecordWrite


def _write_dict(w: RecordWrite) -> dict[str, Any]:
    return {"sobject": w.sobject, "mode": w.mode, "key": w.key, "fields": w.fields, "kind": w.kind.value,
            "ext_field": w.ext_field}


def _deferred_key(w: RecordWrite) -> str:
    return f"{w.sobject}|{w.mode}|{w.key}"


def _state_from_event(state: LeadState, ev: LeadRouted) -> LeadState:
    m = ev.enrichment.match
    campaign = ev.lead.source.campaign
    return state.with_(
        owner_id=ev.assignment.owner_id, team=ev.assignment.team, rating=ev.score.rating.value,
        lead_source=ev.lead.lead_source.value, submitted_at=ev.lead.submitted_at,
        matched_account_id=m.account_id, account_owner_id=m.owner_id, key_account=m.key_account,
        client_type=ev.enrichment.client_type.value, company=ev.lead.company_name or m.account_name,
        email=ev.lead.email, campaign=campaign.utm_campaign or campaign.campaign_id, last_event_id=ev.event_id,
    )


def _event_id_guess(raw: bytes) -> str | None:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("event_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def _lead_id_guess(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "unknown"
    value = data.get("lead_id") if isinstance(data, dict) else None
    return str(value)[:128] if value else "unknown"

