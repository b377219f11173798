"""The pure plan/reconcile steps of one batch: events + states (+ write results) → writes, Tasks, states, outputs.

Each step is a function of values only; ``service.SyncService`` loads what they need, sends the writes they
return, hands the results to the next step, publishes the outputs and commits. The order of one batch:

routed:  ``plan_routed`` → (writes) → ``target_gone_retries`` → (writes) → ``apply_routed`` → Tasks → ``routed_outputs``
sla:     ``plan_sla`` → (status writes) → ``apply_sla`` → Tasks → ``sla_outputs``
Tasks:   ``plan_tasks`` → (Task writes) → ``apply_tasks``
changes: ``plan_changes`` → (contact look-up, convertLead in batches, read-back) → ``apply_conversions``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from leadflow_contracts import CrmChange, Event, LeadRouted, SlaEvent, SlaEventKind, SyncOperation

from leadflow_crm_sync.domain import budget as budget_policy
from leadflow_crm_sync.domain.budget import ApiUsage
from leadflow_crm_sync.domain.conversion import (
    ConversionPlan,
    ConvertedIds,
    observed_conversion,
    plan_conversion,
    wants_conversion,
)
from leadflow_crm_sync.domain.deferred import DeferredWrite, write_key
from leadflow_crm_sync.domain.fallback import CUT_TO_FIT, fit
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
from leadflow_crm_sync.domain.outputs import Failure, Kind, Output, dead_letter, synced
from leadflow_crm_sync.domain.policy import SyncPolicy, WriteKind
from leadflow_crm_sync.domain.state import LeadState
from leadflow_crm_sync.domain.writes import Outcome, RecordWrite, SaveResult


class Unwritten:
    """A write Salesforce could not take in time (outage, limit): its message stays in Kafka."""


UNWRITTEN = Unwritten()
WriteResult = SaveResult | Unwritten


def state_from_event(state: LeadState, ev: LeadRouted) -> LeadState:
    m = ev.enrichment.match
    campaign = ev.lead.source.campaign
    company = ev.lead.company_name or m.account_name
    return state.with_(
        owner_id=ev.assignment.owner_id,
        team=ev.assignment.team,
        rating=ev.score.rating.value,
        lead_source=ev.lead.lead_source.value,
        submitted_at=ev.lead.submitted_at,
        matched_account_id=m.account_id,
        account_owner_id=m.owner_id,
        key_account=m.key_account,
        client_type=ev.enrichment.client_type.value,
        company=fit(company, CUT_TO_FIT[("Lead", "Company")]) if company else None,  # as written: VARCHAR(255)
        email=ev.lead.email,
        campaign=campaign.utm_campaign or campaign.campaign_id,
        last_event_id=ev.event_id,
    )


@dataclass(frozen=True)
class TaskJob:
    """A Task to write for an event (callback, inquiry, SLA warning/escalation)."""

    event: Event
    raw: bytes
    kind: Kind
    lead_id: str
    purpose: str
    write: RecordWrite


@dataclass
class Step:
    """What a step decided besides its writes: state changes, deferrals, outputs, messages to hold."""

    states: dict[str, LeadState] = field(default_factory=dict)
    deferred: list[DeferredWrite] = field(default_factory=list)
    undeferred: list[str] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    """Event ids whose writes are not done: not claimed, not published; Kafka keeps them."""
    released: set[str] = field(default_factory=set)
    """Event ids an earlier step held that are settled after all (dead-lettered)."""
    dead_lettered: int = 0
    reasons: list[str] = field(default_factory=list)

    def fail(
        self, kind: Kind, raw: bytes, lead_id: str, failure: Failure, now: datetime, source_event_id: str | None = None
    ) -> None:
        self.outputs.append(dead_letter(kind, raw, lead_id, failure, now, source_event_id=source_event_id))
        self.dead_lettered += 1


def backlog_mode(pending: int, backlog: int, threshold: int) -> bool:
    """Bulk API 2.0 when this many writes wait (this batch + what is still in Kafka), Collections below.

    Salesforce recommends Bulk API 2.0 above ~2,000 records; ``threshold`` 0 turns it off.
    """
    return threshold > 0 and pending + backlog >= threshold


def _allowed(kind: WriteKind, usage: ApiUsage | None, policy: SyncPolicy) -> budget_policy.BudgetDecision:
    return budget_policy.decide(kind, usage, policy.budget)


# ---- leads.routed -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoutedItem:
    """The lead's latest routing in the batch, and the earlier ones it supersedes."""

    event: LeadRouted
    raw: bytes
    superseded: tuple[LeadRouted, ...] = ()


def latest_per_lead(items: list[tuple[LeadRouted, bytes]]) -> dict[str, RoutedItem]:
    latest: dict[str, RoutedItem] = {}
    for ev, raw in items:
        cur = latest.get(ev.lead_id)
        if cur is None:
            latest[ev.lead_id] = RoutedItem(ev, raw)
        elif (ev.reassignment, ev.occurred_at) >= (cur.event.reassignment, cur.event.occurred_at):
            latest[ev.lead_id] = RoutedItem(ev, raw, (*cur.superseded, cur.event))
        else:
            latest[ev.lead_id] = RoutedItem(cur.event, cur.raw, (*cur.superseded, ev))
    return latest


@dataclass
class RoutedPlan(Step):
    items: dict[str, RoutedItem] = field(default_factory=dict)
    plans: dict[str, LeadPlan] = field(default_factory=dict)
    writes: dict[str, RecordWrite] = field(default_factory=dict)
    """lead id → the Lead write to send now."""
    deferred_leads: set[str] = field(default_factory=set)


def plan_routed(
    items: list[tuple[LeadRouted, bytes]], states: Mapping[str, LeadState], policy: SyncPolicy, usage: ApiUsage | None
) -> RoutedPlan:
    """Each lead's latest routing → its Lead write now, or deferred (API budget), or none (unchanged)."""
    plan = RoutedPlan(items=latest_per_lead(items))
    for lead_id, item in plan.items.items():
        state = states.get(lead_id) or LeadState(lead_id=lead_id)
        lead_plan = plan_lead(item.event, state, policy)
        plan.plans[lead_id] = lead_plan
        if lead_plan.write is None:
            continue
        decision = _allowed(lead_plan.kind, usage, policy)
        if not decision.allowed:
            plan.deferred.append(DeferredWrite("lead", lead_id, lead_plan.write, lead_plan.content_hash, item.event))
            plan.states[lead_id] = state_from_event(state, item.event).with_(owner_id=state.owner_id)
            plan.deferred_leads.add(lead_id)
            plan.reasons.append(decision.reason)
            continue
        plan.undeferred.append(write_key(lead_plan.write))
        plan.writes[lead_id] = lead_plan.write
    return plan


def target_gone_retries(
    plan: RoutedPlan, results: Mapping[str, WriteResult], states: Mapping[str, LeadState], policy: SyncPolicy
) -> dict[str, LeadPlan]:
    """A duplicate whose target record is gone (deleted, converted) becomes a new lead."""
    out: dict[str, LeadPlan] = {}
    for lead_id, res in results.items():
        if isinstance(res, SaveResult) and res.outcome is Outcome.TARGET_GONE:
            state = states.get(lead_id) or LeadState(lead_id=lead_id)
            out[lead_id] = fallback_upsert(plan.items[lead_id].event, state, policy)
    return out


def _contact_duplicate(
    step: Step, item: RoutedItem, base: LeadState, lead_plan: LeadPlan, policy: SyncPolicy, tasks: list[TaskJob]
) -> None:
    ev = item.event
    dup = ev.enrichment.duplicate_of
    assert dup is not None
    step.states[ev.lead_id] = base.with_(
        salesforce_id=dup.record_id, object="Contact", mode="update", content_hash=lead_plan.content_hash
    )
    tasks.append(TaskJob(ev, item.raw, "routed", ev.lead_id, "inquiry", inquiry_task(ev, dup.record_id, policy)))
    cb = callback_task(ev, dup.record_id, policy)
    if cb is not None:
        tasks.append(TaskJob(ev, item.raw, "routed", ev.lead_id, "callback", cb))


def _apply_lead_result(
    step: Step,
    item: RoutedItem,
    state: LeadState,
    lead_plan: LeadPlan,
    res: WriteResult | None,
    policy: SyncPolicy,
    now: datetime,
    tasks: list[TaskJob],
) -> None:
    ev = item.event
    base = state_from_event(state, ev)
    if lead_plan.write is None:  # unchanged (or converted): the record is there already
        if state.written:
            step.states[ev.lead_id] = base
            if state.object == "Lead" and not state.converted and state.salesforce_id:
                _callback(tasks, item, state.salesforce_id, policy)  # created before, or now
        return
    if res is None or isinstance(res, Unwritten):
        step.blocked |= {ev.event_id, *(old.event_id for old in item.superseded)}
        return
    if res.outcome is Outcome.CONVERTED_LEAD:
        step.states[ev.lead_id] = base.with_(converted=True, salesforce_id=state.salesforce_id or res.id)
        return
    if not res.ok:
        operation = f"{lead_plan.write.mode} {lead_plan.write.sobject}"
        step.fail(
            "routed",
            item.raw,
            ev.lead_id,
            Failure.salesforce(res, operation, not_in_salesforce=not state.written),
            now,
            ev.event_id,
        )
        return
    first = (
        {} if state.written else {"sla_status": lead_plan.write.fields.get("SLA_Status__c"), "pending_sla_status": None}
    )
    if any(d.field == "OwnerId" for d in res.dropped):  # refused owner: Salesforce kept the old / its default
        first["owner_id"] = state.owner_id
    step.states[ev.lead_id] = base.with_(
        salesforce_id=res.id, mode=lead_plan.write.mode, content_hash=lead_plan.content_hash, object="Lead", **first
    )
    assert res.id is not None
    _callback(tasks, item, res.id, policy)
    dup = ev.enrichment.duplicate_of
    if dup is not None and dup.object == "Lead" and res.outcome is not Outcome.CREATED:
        # a repeat inquiry written onto an existing Lead: its rep gets a follow-up Task on it (mapping.inquiry_task)
        tasks.append(TaskJob(ev, item.raw, "routed", ev.lead_id, "inquiry", inquiry_task(ev, res.id, policy)))


def _callback(tasks: list[TaskJob], item: RoutedItem, who_id: str, policy: SyncPolicy) -> None:
    cb = callback_task(item.event, who_id, policy)
    if cb is not None:
        tasks.append(TaskJob(item.event, item.raw, "routed", item.event.lead_id, "callback", cb))


def apply_routed(
    plan: RoutedPlan,
    results: Mapping[str, WriteResult],
    states: Mapping[str, LeadState],
    policy: SyncPolicy,
    now: datetime,
) -> tuple[Step, list[TaskJob]]:
    """The Lead write results → each lead's new state, its Tasks to write, dead letters, held events."""
    step = Step()
    tasks: list[TaskJob] = []
    for lead_id, item in plan.items.items():
        lead_plan = plan.plans[lead_id]
        state = states.get(lead_id) or LeadState(lead_id=lead_id)
        if lead_plan.target == "contact":
            _contact_duplicate(step, item, state_from_event(state, item.event), lead_plan, policy, tasks)
        elif lead_id not in plan.deferred_leads:  # deferred: the drain publishes when it writes
            _apply_lead_result(step, item, state, lead_plan, results.get(lead_id), policy, now, tasks)
    return step, tasks


def _operation(st: LeadState, lead_plan: LeadPlan, outcome: WriteResult | None) -> SyncOperation | None:
    if st.converted:
        return SyncOperation.UNCHANGED
    if lead_plan.target == "contact":
        return SyncOperation.UPDATED
    if isinstance(outcome, SaveResult) and outcome.ok:
        return SyncOperation.CREATED if outcome.outcome is Outcome.CREATED else SyncOperation.UPDATED
    if lead_plan.write is None:
        return SyncOperation.UNCHANGED
    return None  # dead-lettered


def routed_outputs(
    plan: RoutedPlan,
    new_states: Mapping[str, LeadState],
    results: Mapping[str, WriteResult],
    task_ids: Mapping[tuple[str, str], str],
    blocked: set[str],
    now: datetime,
    *,
    shadow: bool = False,
) -> list[Output]:
    """``crm.synced`` for every routing applied (superseded ones as unchanged), with its Task and dropped values."""
    out: list[Output] = []
    for lead_id, item in plan.items.items():
        st = new_states.get(lead_id)
        ev = item.event
        if st is None or ev.event_id in blocked or not st.written:
            continue
        outcome = results.get(lead_id)
        op = _operation(st, plan.plans[lead_id], outcome)
        if op is None:
            continue
        task_id = task_ids.get((ev.event_id, "callback")) or task_ids.get((ev.event_id, "inquiry"))
        for old in item.superseded:
            out.append(
                synced(
                    old,
                    st,
                    SyncOperation.UNCHANGED,
                    "superseded by a later routing in the same batch",
                    now,
                    shadow=shadow,
                )
            )
        dropped = outcome.dropped if isinstance(outcome, SaveResult) else ()
        out.append(synced(ev, st, op, plan.plans[lead_id].reason, now, task_id=task_id, dropped=dropped, shadow=shadow))
    return out


# ---- Tasks ----------------------------------------------------------------------------------------------
@dataclass
class TaskPlan(Step):
    ids: dict[tuple[str, str], str] = field(default_factory=dict)
    """(event id, purpose) → Task id, for the Tasks already written."""
    todo: list[TaskJob] = field(default_factory=list)
    writes: list[RecordWrite] = field(default_factory=list)
    """One write per Task (the same Task asked twice in a batch is written once)."""


def plan_tasks(jobs: list[TaskJob], known: Mapping[str, str], usage: ApiUsage | None, policy: SyncPolicy) -> TaskPlan:
    """Each Task once: skip the recorded ones, defer what the budget holds back, write each key once."""
    plan = TaskPlan()
    keys: set[str] = set()
    for j in jobs:
        if j.write.key in known:
            plan.ids[(j.event.event_id, j.purpose)] = known[j.write.key]
            continue
        decision = _allowed(j.write.kind, usage, policy)
        if not decision.allowed:
            plan.deferred.append(DeferredWrite("task", j.lead_id, j.write, purpose=j.purpose))
            plan.reasons.append(decision.reason)
            continue
        plan.todo.append(j)
        if j.write.key not in keys:
            keys.add(j.write.key)
            plan.writes.append(j.write)
    return plan


def apply_tasks(
    plan: TaskPlan, results: Mapping[str, WriteResult], now: datetime
) -> tuple[Step, list[tuple[str, str, str, str]]]:
    """Task results by key → Task ids (into ``plan.ids``), the (key, lead, purpose, id) to record, failures."""
    step = Step()
    recorded: list[tuple[str, str, str, str]] = []
    for j in plan.todo:
        res = results[j.write.key]
        if isinstance(res, Unwritten):
            step.blocked.add(j.event.event_id)
        elif res.ok and res.id:
            plan.ids[(j.event.event_id, j.purpose)] = res.id
            recorded.append((j.write.key, j.lead_id, j.purpose, res.id))
        else:  # the record is written; this Task failed for good: dead-letter it with the error, keep going
            step.fail(j.kind, j.raw, j.lead_id, Failure.salesforce(res, f"upsert Task ({j.purpose})"), now)
    return step, recorded


# ---- sla.events -------------------------------------------------------------------------------------------
@dataclass
class SlaPlan(Step):
    status_writes: list[tuple[SlaEvent, bytes, RecordWrite, str]] = field(default_factory=list)
    status_write_of: dict[str, int] = field(default_factory=dict)
    """lead id → its entry in ``status_writes`` (one per Lead and batch)."""
    tasks: list[TaskJob] = field(default_factory=list)
    applied: list[SlaEvent] = field(default_factory=list)


def escalations_needing_a_leader(
    items: list[tuple[SlaEvent, bytes]], states: Mapping[str, LeadState]
) -> list[SlaEvent]:
    """The escalations whose Task needs the team leader (looked up before ``plan_sla``)."""
    return [
        ev
        for ev, _ in items
        if ev.kind is SlaEventKind.ESCALATED and (states.get(ev.lead_id) or LeadState(lead_id=ev.lead_id)).written
    ]


def _sla_order(items: list[tuple[SlaEvent, bytes]]) -> list[tuple[SlaEvent, bytes]]:
    """Events carrying their lead's standing (``lead_status``) in the order sla-monitor published them (one
    partition per lead): the last one is the lead's current standing, whatever its ``occurred_at`` (a breach is
    stamped with its due time, a late-delivered touch with when it happened). Older events by time."""
    if all(ev.lead_status is not None for ev, _ in items):
        return items
    return sorted(items, key=lambda p: p[0].occurred_at)


def plan_sla(
    items: list[tuple[SlaEvent, bytes]],
    states: Mapping[str, LeadState],
    policy: SyncPolicy,
    usage: ApiUsage | None,
    leaders: Mapping[str, str | None],
) -> SlaPlan:
    """SLA events in time order → SLA_Status__c writes (or pending on a lead not written yet), Tasks.

    ``leaders``: escalation event id → the team leader (None: nobody); a missing id means the directory
    could not be read, so that event is held.
    """
    plan = SlaPlan()
    current = dict(states)
    for ev, raw in _sla_order(items):
        state = current.get(ev.lead_id) or LeadState(lead_id=ev.lead_id)
        status, write = sla_status_write(ev, state, policy)
        if status is not None and not state.written:
            current[ev.lead_id] = plan.states[ev.lead_id] = state.with_(pending_sla_status=status)
            continue  # the lead's first write carries it
        if write is not None:
            _sla_status(plan, current, ev, raw, state, write, status or "", usage, policy)
        task: RecordWrite | None = None
        if ev.kind is SlaEventKind.WARNING:
            task = sla_warning_task(ev, state, policy)
        elif ev.kind is SlaEventKind.ESCALATED and state.written:
            if ev.event_id not in leaders:
                plan.blocked.add(ev.event_id)
                continue
            task = escalation_task(ev, state, leaders[ev.event_id], policy)
        if task is not None:
            plan.tasks.append(TaskJob(ev, raw, "sla", ev.lead_id, f"sla-{ev.kind.value}", task))
        plan.applied.append(ev)
    return plan


def _sla_status(
    plan: SlaPlan,
    current: dict[str, LeadState],
    ev: SlaEvent,
    raw: bytes,
    state: LeadState,
    write: RecordWrite,
    status: str,
    usage: ApiUsage | None,
    policy: SyncPolicy,
) -> None:
    decision = _allowed(write.kind, usage, policy)
    if decision.allowed:
        # One SLA_Status__c write per Lead and batch, the latest standing (Salesforce refuses a record twice in
        # one Collections call); a later event compares with it, not with the stored status.
        earlier = plan.status_write_of.get(ev.lead_id)
        if earlier is not None:
            plan.status_writes[earlier] = (ev, raw, write, status)
        else:
            plan.status_write_of[ev.lead_id] = len(plan.status_writes)
            plan.status_writes.append((ev, raw, write, status))
            plan.undeferred.append(f"sla|{ev.lead_id}")
        current[ev.lead_id] = state.with_(sla_status=status)
        return
    plan.deferred.append(DeferredWrite("sla_status", ev.lead_id, write, sla_status=status))
    current[ev.lead_id] = plan.states[ev.lead_id] = state.with_(sla_status=status)
    plan.reasons.append(decision.reason)


def apply_sla(plan: SlaPlan, results: list[WriteResult], states: Mapping[str, LeadState], now: datetime) -> Step:
    step = Step()
    current = dict(states)
    for (ev, raw, _w, status), res in zip(plan.status_writes, results, strict=True):
        state = current.get(ev.lead_id) or LeadState(lead_id=ev.lead_id)
        if isinstance(res, Unwritten):
            step.blocked.add(ev.event_id)
        elif res.ok:
            current[ev.lead_id] = step.states[ev.lead_id] = state.with_(sla_status=status)
        elif res.outcome is Outcome.TARGET_GONE:
            converted = state.converted or res.status_code == "CANNOT_UPDATE_CONVERTED_LEAD"
            current[ev.lead_id] = step.states[ev.lead_id] = state.with_(converted=converted)
        else:
            step.fail("sla", raw, ev.lead_id, Failure.salesforce(res, "update Lead SLA_Status__c"), now)
            step.released.add(ev.event_id)
    return step


def sla_outputs(
    plan: SlaPlan,
    states: Mapping[str, LeadState],
    task_ids: Mapping[tuple[str, str], str],
    blocked: set[str],
    now: datetime,
    *,
    shadow: bool = False,
) -> list[Output]:
    out: list[Output] = []
    for ev in plan.applied:
        current = states.get(ev.lead_id)
        if ev.event_id in blocked or current is None or not current.written:
            continue
        task_id = task_ids.get((ev.event_id, f"sla-{ev.kind.value}"))
        out.append(
            synced(
                ev,
                current,
                SyncOperation.SLA_STATUS,
                f"sla {ev.kind.value} ({ev.clock})",
                now,
                task_id=task_id,
                shadow=shadow,
            )
        )
    return out


# ---- crm.changes: conversion ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConvertJob:
    event: CrmChange
    raw: bytes
    state: LeadState
    plan: ConversionPlan
    reason: str


@dataclass
class ChangesPlan(Step):
    conversions: list[tuple[str, str, ConvertedIds]] = field(default_factory=list)
    """(lead Salesforce id, lead id, ids) to record."""
    jobs: list[ConvertJob] = field(default_factory=list)


def plan_changes(
    items: list[tuple[CrmChange, bytes, LeadState]],
    converted: Mapping[str, ConvertedIds],
    policy: SyncPolicy,
    today: date,
    now: datetime,
    *,
    shadow: bool = False,
) -> ChangesPlan:
    """Lead changes → conversions seen in Salesforce (recorded, published) and conversions to make.

    ``items``: each change with the state of the lead it concerns; ``converted``: Salesforce id → what that
    lead was converted into, as recorded before this batch. Each record converts once.
    """
    plan = ChangesPlan()
    done = dict(converted)
    for ev, raw, state in items:
        seen = observed_conversion(ev)
        if seen is not None:
            if ev.record_id not in done:
                st = state.with_(converted=True, salesforce_id=ev.record_id)
                plan.states[st.lead_id] = st
                plan.conversions.append((ev.record_id, st.lead_id, seen))
                plan.outputs.append(
                    synced(ev, st, SyncOperation.CONVERTED, "converted in Salesforce", now, ids=seen, shadow=shadow)
                )
                done[ev.record_id] = seen
            continue
        reason = wants_conversion(ev, policy.conversion)
        if reason is None or ev.record_id in done:
            continue
        plan.jobs.append(
            ConvertJob(ev, raw, state, plan_conversion(ev, state, policy.conversion, today, reason), reason)
        )
        done[ev.record_id] = ConvertedIds(None, None, None)  # once per record in this batch
    return plan


@dataclass(frozen=True)
class ConversionResult:
    """What convertLead answered for one job: ids, or a failure code; ``already`` = converted before."""

    ids: ConvertedIds | None = None
    owner_id: str | None = None
    code: str | None = None
    message: str = ""
    already: bool = False


def apply_conversions(
    jobs: list[ConvertJob], results: Mapping[str, ConversionResult | Unwritten], now: datetime, *, shadow: bool = False
) -> tuple[ChangesPlan, list[RecordWrite]]:
    """convertLead results → states, conversions to record, crm.synced, dead letters, Opportunity updates."""
    step = ChangesPlan()
    opportunity_writes: list[RecordWrite] = []
    for job in jobs:
        res = results.get(job.plan.lead_sf_id)
        ev = job.event
        if res is None or isinstance(res, Unwritten):
            step.blocked.add(ev.event_id)
            continue
        if res.ids is None:
            step.fail(
                "changes",
                job.raw,
                ev.lead_id,
                Failure(
                    f"salesforce:{res.code}", res.message, {"statusCode": res.code or "", "operation": "convertLead"}
                ),
                now,
            )
            continue
        owner = res.owner_id if res.already else job.plan.owner_id
        st = job.state.with_(converted=True, salesforce_id=job.plan.lead_sf_id, owner_id=owner or job.state.owner_id)
        step.states[st.lead_id] = st
        step.conversions.append((ev.record_id, st.lead_id, res.ids))
        step.outputs.append(synced(ev, st, SyncOperation.CONVERTED, job.reason, now, ids=res.ids, shadow=shadow))
        if not res.already and res.ids.opportunity_id and job.plan.opportunity_fields:
            opportunity_writes.append(
                RecordWrite(
                    "Opportunity", "update", res.ids.opportunity_id, job.plan.opportunity_fields, WriteKind.CONVERSION
                )
            )
    return step, opportunity_writes
