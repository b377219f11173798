"""Read-model repository: applies batches of contract events (idempotent on event_id) and answers
the console's queries from indexes and pre-aggregated counters. One code path for SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from leadflow_contracts import CrmChange, CrmSynced, DeadLetter, LeadRejected, LeadRouted, SlaEvent
from leadflow_contracts import topics as T
from leadflow_platform.db import claim_new_events, insert_ignore
from sqlalchemy import and_, bindparam, delete, false, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_ops.adapters import tables as t
from leadflow_ops.domain import leads as L
from leadflow_ops.domain.dead_letters import severity
from leadflow_ops.domain.fairness import pool_odds
from leadflow_ops.domain.roster import SELLING_ROLES, queue_team, rep_row
from leadflow_ops.domain.stats import (
    WRITE_GRAINS,
    bin_index,
    bucket_start,
    get_window,
    merge_hist,
    pack_hist,
    unpack_hist,
    window_segments,
)
from leadflow_ops.domain.timebase import ToPipeline, identity, maybe

CONSUMER = "ops"


def _stops_lead(item: DeadLetter) -> bool:
    explicit = item.not_in_salesforce if "not_in_salesforce" in item.model_fields_set else None
    return L.stops_before_salesforce(item.service, item.topic, item.reason, item.detail, explicit)


def _duplicate(item: LeadRouted) -> dict[str, str | None]:
    """The existing record enrich matched: a Contact (follow-up) or a Lead (merged into it)."""
    dup = item.enrichment.duplicate_of
    if dup is None:
        return {}
    return {
        "duplicate_object": dup.object,
        "duplicate_of": dup.leadflow_id or dup.record_id,
        "duplicate_record_id": dup.record_id,
    }


DIMENSIONS = ("all", "team", "rep", "source", "rating")
_LEAD_COLUMNS = [c.name for c in t.leads.columns]


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive: every stored time is UTC, so say so."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class RawDeadLetter:
    """A message on a dead-letter topic that is not even a valid DeadLetter/LeadRejected."""

    source_topic: str
    event_id: str
    raw: bytes
    reason: str
    lead_id: str | None = None


class Assigned(NamedTuple):
    """An owner's assignments in a team over Team load's window."""

    total: int
    """Every LeadRouted to the owner: repeats to a person's owner, account owners, key accounts, reassignments."""
    round_robin: int
    """The ones route dealt by weighted round-robin (``Assignment.round_robin``): the ones weights govern."""
    expected: float = 0.0
    """Round-robin deals the owner could be expected to win given every pool it was in (Σ p)."""
    variance: float = 0.0
    """Variance of that count (Σ p(1 − p)); 0 when no deal with a pool counted the owner in."""


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    dead_letters: list[tuple[str, str]] = field(default_factory=list)
    """(source topic, reason) of dead letters seen for the first time."""


def _increment(
    conn: AsyncConnection, table: Any, keys: list[str], counters: list[str], keep: Sequence[str] = ()
) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    set_: dict[str, Any] = {c: table.c[c] + stmt.excluded[c] for c in counters}
    for c in keep:
        set_[c] = func.coalesce(stmt.excluded[c], table.c[c])
    return stmt.on_conflict_do_update(index_elements=keys, set_=set_)


def _upsert_all(conn: AsyncConnection, table: Any, keys: list[str]) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    )


def _state_from_row(row: Any) -> L.LeadState:
    d = dict(row._mapping)
    for key in ("submitted_at", "routed_at", "owner_at", "due_at", "touched_at", "breached_at"):
        d[key] = utc(d[key])
    d["breached_clocks"] = d.get("breached_clocks") or ""
    d["not_in_salesforce"] = bool(d.get("not_in_salesforce"))
    d["follow_up"] = bool(d.get("follow_up"))
    return L.LeadState(**d)


_STATE_FIELDS = tuple(f.name for f in fields(L.LeadState))


def _row_from_state(state: L.LeadState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _STATE_FIELDS}  # asdict() deep-copies: 10x slower


class _Batch:
    """Everything one batch changes, accumulated in memory and written in a handful of statements."""

    def __init__(self) -> None:
        self.team: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.owner: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.owner_meta: dict[str, tuple[str | None, str | None, str | None]] = {}
        self.hists: dict[tuple[str, str, datetime, str, str], dict[int, int]] = defaultdict(dict)
        self.outcomes: dict[tuple[str, str, datetime, str], list[int]] = defaultdict(lambda: [0, 0])
        self.arrivals: dict[datetime, int] = defaultdict(int)
        self.assignments: dict[tuple[datetime, str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
        """(day, team, owner) → [every LeadRouted, round-robin deals, expected deals, variance]"""
        self.sla_rows: list[dict[str, Any]] = []
        self.breach_rows: list[dict[str, Any]] = []
        self.breach_updates: list[tuple[str, str, dict[str, Any]]] = []
        self.reps: dict[str, dict[str, Any]] = {}
        self.dead: list[dict[str, Any]] = []
        self.metrics: dict[tuple[str, str], int] = defaultdict(int)
        self.arrivals_minute: dict[datetime, int] = defaultdict(int)
        self.health: dict[str, dict[str, Any]] = {}

    def transition(self, old: L.LeadState | None, tr: L.Transition) -> None:
        new = tr.state
        for team_key, delta in L.team_deltas(old, new).items():
            acc = self.team[team_key]
            for i, d in enumerate(delta):
                acc[i] += d
        for owner_key, delta3 in L.owner_deltas(old, new).items():
            acc2 = self.owner[owner_key]
            for i, d in enumerate(delta3):
                acc2[i] += d
        for metric_key, (n,) in L.metric_deltas(old, new).items():
            self.metrics[metric_key] += n
        if new.owner_id:
            self.owner_meta[new.owner_id] = (new.owner_type, new.team, new.owner_name)
        keys = {
            "all": "all",
            "team": new.team or "(none)",
            "rep": new.owner_id or "(none)",
            "source": new.source or "(none)",
            "rating": new.rating or "(none)",
        }
        if tr.outcome is not None:
            at = new.touched_at or new.breached_at
            assert at is not None
            for grain in WRITE_GRAINS:
                bucket = bucket_start(at, grain)
                for dim, key in keys.items():
                    acc3 = self.outcomes[(grain, dim, bucket, key)]
                    acc3[0 if tr.outcome == "on_time" else 1] += 1
        if tr.sample is not None:
            for grain in WRITE_GRAINS:
                bucket = bucket_start(tr.sample.at, grain)
                for measure in ("total", "system", "human"):
                    value = getattr(tr.sample, measure)
                    if value is None:
                        continue
                    b = bin_index(value)
                    for dim, key in keys.items():
                        h = self.hists[(grain, dim, bucket, key, measure)]
                        h[b] = h.get(b, 0) + 1


class OpsRepository:
    def __init__(self, engine: AsyncEngine, pipeline_time: ToPipeline | None = None) -> None:
        self.engine = engine
        self.pipeline_time: ToPipeline = pipeline_time or identity
        """Wall-clock stamps (submission, crm-sync, Salesforce, dead letters) → the SLA clocks' time
        (``domain.timebase``): one time base for every figure, also under the demo clock."""
        self._write_lock = asyncio.Lock()
        self.version = 0
        self._owner_teams: dict[str, str] = {}
        """Bumped after every committed batch: the live page pushes when it changes."""

    async def create_schema(self) -> None:
        """Bring the database to the newest revision (leadflow_ops/migrations; older databases are upgraded)."""
        from leadflow_ops.migrations import MIGRATIONS

        await MIGRATIONS.upgrade(self.engine)

    # --- writes ------------------------------------------------------------------------------------

    async def apply(self, items: Sequence[Any], now: datetime) -> ApplyResult:
        """Apply contract events (and ``RawDeadLetter`` records) in one transaction, each at most once."""
        result = ApplyResult()
        if not items:
            return result
        async with self._write_lock, self.engine.begin() as conn:
            fresh = await claim_new_events(conn, CONSUMER, [i.event_id for i in items], now)
            todo = []
            for item in items:
                if item.event_id in fresh:
                    fresh.discard(item.event_id)  # a duplicate inside the batch counts once
                    todo.append(item)
                else:
                    result.duplicates += 1
            lead_ids = {i.lead_id for i in todo if isinstance(i, LeadRouted | CrmSynced | SlaEvent)}
            lead_ids |= {i.lead_id for i in todo if isinstance(i, DeadLetter) and _stops_lead(i)}
            states = await self._load_states(conn, lead_ids)
            # a lead routed without a team (the head of sales, a key account manager) goes under its
            # owner's team as Salesforce names it, never "(none)"
            teamless = {i.assignment.owner_id for i in todo if isinstance(i, LeadRouted) and not i.assignment.team}
            self._owner_teams = await self._rep_teams(conn, teamless) if teamless else {}
            original = dict(states)
            batch = _Batch()
            for item in todo:
                self._apply_one(item, states, batch, now, result)
                result.applied += 1
            changed = [s for lid, s in states.items() if s is not None and original.get(lid) != s]
            await self._write(conn, batch, changed)
        if result.applied:
            self.version += 1
        return result

    def _apply_one(
        self, item: Any, states: dict[str, L.LeadState | None], batch: _Batch, now: datetime, result: ApplyResult
    ) -> None:
        if isinstance(item, LeadRouted):
            old = states.get(item.lead_id)
            tr = L.on_routed(
                old,
                L.Routed(
                    occurred_at=item.occurred_at,
                    team=self._team_of(item),
                    fallback_team=self._fallback_team(item),
                    rating=item.score.rating.value,
                    source=item.lead.lead_source.value,
                    owner_id=item.assignment.owner_id,
                    owner_type=item.assignment.owner_type,
                    owner_name=item.assignment.owner_name,
                    policy=item.assignment.policy,
                    submitted_at=maybe(self.pipeline_time, item.lead.submitted_at),
                    first_touch_due=item.sla.first_touch_due,
                    reassignment=item.reassignment,
                    reason=item.assignment.reason,
                    **_duplicate(item),
                ),
                item.lead_id,
            )
            batch.transition(old, tr)
            states[item.lead_id] = tr.state
            if tr.new_arrival:
                batch.arrivals[bucket_start(item.occurred_at, "h")] += 1
                batch.arrivals_minute[item.occurred_at.replace(second=0, microsecond=0)] += 1
            day, team = bucket_start(item.occurred_at, "d"), item.assignment.team or "(none)"
            counts = batch.assignments[(day, team, item.assignment.owner_id)]
            counts[0] += 1
            counts[1] += item.assignment.round_robin
            if item.assignment.round_robin:
                for owner_id, p in pool_odds((m.user_id, m.weight) for m in item.assignment.pool):
                    member = batch.assignments[(day, team, owner_id)]
                    member[2] += p
                    member[3] += p * (1 - p)
        elif isinstance(item, CrmSynced):
            old = states.get(item.lead_id)
            tr = L.on_synced(
                old,
                L.Synced(
                    occurred_at=self.pipeline_time(item.occurred_at),
                    salesforce_id=item.salesforce_id if item.object in ("Lead", "Contact") else "",
                    owner_id=item.owner_id,
                    submitted_at=maybe(self.pipeline_time, item.submitted_at),
                    team=item.team,
                    rating=item.rating,
                    source=item.lead_source,
                    object=item.object,
                    dropped=tuple((d.field, d.reason, d.message, d.cut) for d in item.dropped_fields),
                ),
                item.lead_id,
            )
            batch.transition(old, tr)
            states[item.lead_id] = tr.state
        elif isinstance(item, SlaEvent):
            old = states.get(item.lead_id)
            tr = L.on_sla(
                old,
                L.Sla(
                    occurred_at=item.occurred_at,
                    kind=item.kind.value,
                    clock=item.clock,
                    policy=item.policy,
                    due_at=item.due_at,
                    started_at=item.started_at,
                    owner_id=item.owner_id,
                    team=item.team,
                    rating=item.rating,
                    source=item.lead_source,
                    escalation_step=item.escalation_step,
                ),
                item.lead_id,
            )
            batch.transition(old, tr)
            states[item.lead_id] = tr.state
            batch.sla_rows.append(
                {
                    "event_id": item.event_id,
                    "lead_id": item.lead_id,
                    "kind": item.kind.value,
                    "clock": item.clock,
                    "policy": item.policy,
                    "occurred_at": item.occurred_at,
                    "due_at": item.due_at,
                    "owner_id": item.owner_id,
                    "team": item.team,
                    "escalation_step": item.escalation_step,
                    "escalation_action": item.escalation_action,
                    "met_how": item.met_how,
                    "met_by": item.met_by,
                }
            )
            state = tr.state
            if item.kind.value == "breached":
                batch.breach_rows.append(
                    {
                        "event_id": item.event_id,
                        "lead_id": item.lead_id,
                        "clock": item.clock,
                        "policy": item.policy,
                        "team": item.team or state.team,
                        "owner_id": item.owner_id or state.owner_id,
                        "rating": item.rating or state.rating,
                        "due_at": item.due_at,
                        "breached_at": item.occurred_at,
                        "escalation_step": item.escalation_step,
                        "escalation_action": item.escalation_action,
                        "met_at": None,
                    }
                )
            elif item.kind.value == "escalated":
                batch.breach_updates.append(
                    (
                        item.lead_id,
                        item.clock,
                        {"escalation_step": item.escalation_step, "escalation_action": item.escalation_action},
                    )
                )
            elif item.kind.value == "met":
                batch.breach_updates.append((item.lead_id, item.clock, {"met_at": item.occurred_at}))
        elif isinstance(item, CrmChange):
            seen = batch.health.get("change_feed")
            modstamp = self.pipeline_time(item.system_modstamp)
            if seen is None or modstamp > seen["modstamp"]:
                batch.health["change_feed"] = {"modstamp": modstamp, "received": now, "object": item.object}
            if item.object == "User":
                batch.reps[item.record_id] = rep_row(
                    item.record_id, item.record, item.change_type.value, item.changed_at
                )
        elif isinstance(item, LeadRejected):
            batch.dead.append(
                {
                    "event_id": item.event_id,
                    "detail": json.dumps({"field": item.field}) if item.field else None,
                    "source_topic": T.LEADS_REJECTED,
                    "original_topic": T.LEADS_INBOUND,
                    "service": "intake",
                    "reason": item.reason.value,
                    "message": item.message,
                    "lead_id": item.lead_id,
                    "original_base64": item.original_base64,
                    "occurred_at": self.pipeline_time(item.occurred_at),
                    "received_at": now,
                }
            )
            result.dead_letters.append((T.LEADS_REJECTED, item.reason.value))
        elif isinstance(item, DeadLetter):
            if _stops_lead(item):
                old = states.get(item.lead_id)
                tr = L.on_dead_letter(old, item.lead_id, item.event_id)
                batch.transition(old, tr)
                states[item.lead_id] = tr.state
            batch.dead.append(
                {
                    "detail": json.dumps(item.detail, sort_keys=True) if item.detail else None,
                    "event_id": item.event_id,
                    "source_topic": T.LEADS_DEADLETTER,
                    "original_topic": item.topic,
                    "service": item.service,
                    "reason": item.reason,
                    "message": item.message,
                    "lead_id": item.lead_id,
                    "original_base64": item.original_base64,
                    "occurred_at": self.pipeline_time(item.occurred_at),
                    "received_at": now,
                }
            )
            result.dead_letters.append((T.LEADS_DEADLETTER, item.reason))
        elif isinstance(item, RawDeadLetter):
            batch.dead.append(
                {
                    "event_id": item.event_id,
                    "detail": None,
                    "source_topic": item.source_topic,
                    "original_topic": item.source_topic,
                    "service": "unknown",
                    "reason": item.reason,
                    "message": "the dead-letter record itself could not be parsed",
                    "lead_id": item.lead_id,
                    "original_base64": base64.b64encode(item.raw).decode(),
                    "occurred_at": None,
                    "received_at": now,
                }
            )
            result.dead_letters.append((item.source_topic, item.reason))
        else:
            raise TypeError(f"OpsRepository.apply cannot handle {type(item).__name__}")

    def _team_of(self, item: LeadRouted) -> str | None:
        """Route's team; for a lead routed without one, its owner's team as Salesforce names it (the head of
        sales under "Head of Sales"); a queue without a team falls back to ``_fallback_team``."""
        a = item.assignment
        if a.team:
            return a.team
        return self._owner_teams.get(a.owner_id)

    @staticmethod
    def _fallback_team(item: LeadRouted) -> str | None:
        """A queue routed to without a team (the finance queue): the queue itself, as Salesforce names it."""
        a = item.assignment
        return queue_team(a.owner_name, a.owner_id) if a.owner_type == "queue" and not a.team else None

    async def _rep_teams(self, conn: AsyncConnection, user_ids: Iterable[str]) -> dict[str, str]:
        ids = list(user_ids)
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            rows = await conn.execute(
                select(t.reps.c.user_id, t.reps.c.team).where(t.reps.c.user_id.in_(ids[start : start + 500]))
            )
            out.update({r.user_id: r.team for r in rows if r.team})
        return out

    async def _load_states(self, conn: AsyncConnection, lead_ids: Iterable[str]) -> dict[str, L.LeadState | None]:
        ids = list(lead_ids)
        out: dict[str, L.LeadState | None] = dict.fromkeys(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await conn.execute(select(t.leads).where(t.leads.c.lead_id.in_(chunk)))
            for row in rows:
                out[row.lead_id] = _state_from_row(row)
        return out

    async def _write(self, conn: AsyncConnection, b: _Batch, changed: list[L.LeadState]) -> None:
        if changed:
            await conn.execute(_upsert_all(conn, t.leads, ["lead_id"]), [_row_from_state(s) for s in changed])
        team_rows = [
            {"team": k[0], "rating": k[1], "open": v[0], "breached": v[1], "queued": v[2]}
            for k, v in b.team.items()
            if any(v)
        ]
        if team_rows:
            await conn.execute(
                _increment(conn, t.team_counters, ["team", "rating"], ["open", "breached", "queued"]), team_rows
            )
        owners = set(b.owner) | set(b.owner_meta)
        if owners:
            rows = []
            for owner_id in sorted(owners):
                d = b.owner.get(owner_id, [0, 0])
                owner_type, team, name = b.owner_meta.get(owner_id, (None, None, None))
                rows.append(
                    {
                        "owner_id": owner_id,
                        "owner_type": owner_type,
                        "team": team,
                        "owner_name": name,
                        "open": d[0],
                        "breached": d[1],
                    }
                )
            await conn.execute(
                _increment(
                    conn,
                    t.owner_counters,
                    ["owner_id"],
                    ["open", "breached"],
                    keep=["owner_type", "team", "owner_name"],
                ),
                rows,
            )
        if b.hists:
            await self._merge_hists(conn, b.hists)
        if b.outcomes:
            await conn.execute(
                _increment(conn, t.outcomes, ["grain", "dim", "bucket", "key"], ["on_time", "missed"]),
                [
                    {"grain": g, "dim": d, "bucket": bk, "key": k, "on_time": v[0], "missed": v[1]}
                    for (g, d, bk, k), v in b.outcomes.items()
                ],
            )
        if b.arrivals:
            await conn.execute(
                _increment(conn, t.arrivals, ["bucket"], ["n"]),
                [{"bucket": k, "n": n} for k, n in b.arrivals.items()],
            )
        if b.assignments:
            await conn.execute(
                _increment(
                    conn, t.assignments, ["bucket", "team", "owner_id"], ["n", "round_robin", "expected", "variance"]
                ),
                [
                    {
                        "bucket": k[0],
                        "team": k[1],
                        "owner_id": k[2],
                        "n": int(n),
                        "round_robin": int(rr),
                        "expected": ex,
                        "variance": var,
                    }
                    for k, (n, rr, ex, var) in b.assignments.items()
                ],
            )
        if b.sla_rows:
            await conn.execute(insert_ignore(conn, t.sla_events), b.sla_rows)
        if b.breach_rows:
            await conn.execute(insert_ignore(conn, t.breaches), b.breach_rows)
        met = [{"l": lid, "c": clk, "m": v["met_at"]} for lid, clk, v in b.breach_updates if "met_at" in v]
        if met:
            await conn.execute(
                update(t.breaches)
                .where(
                    t.breaches.c.lead_id == bindparam("l"),
                    t.breaches.c.clock == bindparam("c"),
                    t.breaches.c.met_at.is_(None),
                    t.breaches.c.breached_at <= bindparam("m"),  # a later breach of the clock stays open
                )
                .values(met_at=bindparam("m")),
                met,
            )
        steps = [
            {"l": lid, "c": clk, "s": v["escalation_step"], "a": v["escalation_action"]}
            for lid, clk, v in b.breach_updates
            if "escalation_step" in v
        ]
        if steps:
            await conn.execute(
                update(t.breaches)
                .where(
                    t.breaches.c.lead_id == bindparam("l"),
                    t.breaches.c.clock == bindparam("c"),
                    t.breaches.c.escalation_step <= bindparam("s"),
                )
                .values(escalation_step=bindparam("s"), escalation_action=bindparam("a")),
                steps,
            )
        if b.reps:
            # a Salesforce User change never carries route's cap: keep the one the roster gave
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(t.reps)
            set_ = {c.name: stmt.excluded[c.name] for c in t.reps.columns if c.name != "user_id"}
            set_["cap"] = func.coalesce(stmt.excluded.cap, t.reps.c.cap)
            set_["in_rotation"] = func.coalesce(stmt.excluded.in_rotation, t.reps.c.in_rotation)  # route's, too
            await conn.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=set_), list(b.reps.values()))
        metric_rows = [{"team": k[0], "metric": k[1], "n": n} for k, n in b.metrics.items() if n]
        if metric_rows:
            await conn.execute(_increment(conn, t.lead_metrics, ["team", "metric"], ["n"]), metric_rows)
        if b.arrivals_minute:
            await conn.execute(
                _increment(conn, t.arrivals_minute, ["bucket"], ["n"]),
                [{"bucket": k, "n": n} for k, n in b.arrivals_minute.items()],
            )
        for key, value in b.health.items():
            await self._put_health(conn, key, value, value["received"], newer_than="modstamp")
        if b.dead:
            await conn.execute(insert_ignore(conn, t.dead_letters), b.dead)

    async def _merge_hists(
        self, conn: AsyncConnection, hists: dict[tuple[str, str, datetime, str, str], dict[int, int]]
    ) -> None:
        """Read-modify-write of packed histograms. Safe because every write runs under the repository's
        write lock (one consumer per ops process; run one ops consumer replica)."""
        h = t.speed_hist
        keys = list(hists)
        existing: dict[tuple[str, str, datetime, str, str], dict[int, int]] = {}
        cols = (h.c.grain, h.c.dim, h.c.bucket, h.c.key, h.c.measure)
        for start in range(0, len(keys), 300):
            chunk = keys[start : start + 300]
            rows = await conn.execute(select(*cols, h.c.hist).where(tuple_(*cols).in_(chunk)))
            for g, d, bk, k, m, text in rows:
                existing[(g, d, utc(bk), k, m)] = unpack_hist(text)  # type: ignore[index]
        out = []
        for key, counts in hists.items():
            merged = merge_hist(existing.get(key, {}), counts)
            g, d, bk, k, m = key
            out.append({"grain": g, "dim": d, "bucket": bk, "key": k, "measure": m, "hist": pack_hist(merged)})
        await conn.execute(_upsert_all(conn, h, ["grain", "dim", "bucket", "key", "measure"]), out)

    async def prune(self, now: datetime, keep_hours: int = 48) -> int:
        """Drop hourly histogram/outcome rows older than the longest hourly window needs."""
        cutoff = bucket_start(now, "h") - timedelta(hours=keep_hours)
        async with self._write_lock, self.engine.begin() as conn:
            a = await conn.execute(
                delete(t.speed_hist).where(t.speed_hist.c.grain == "h", t.speed_hist.c.bucket < cutoff)
            )
            b = await conn.execute(delete(t.outcomes).where(t.outcomes.c.grain == "h", t.outcomes.c.bucket < cutoff))
            c = await conn.execute(delete(t.arrivals_minute).where(t.arrivals_minute.c.bucket < cutoff))
            return int(a.rowcount or 0) + int(b.rowcount or 0) + int(c.rowcount or 0)

    async def apply_roster(self, entries: Sequence[dict[str, Any]], now: datetime) -> int:
        """Route's roster (weights, caps, teams, availability per rep) onto ``ops_reps``: each entry has
        ``user_id`` and any of ``name``, ``team``, ``role``, ``weight``, ``cap``, ``active``, ``absent``,
        ``in_rotation``; fields an entry leaves out keep their value. For the roster contract of the integrity
        issue."""
        allowed = {"name", "team", "role", "weight", "cap", "active", "absent", "queue", "in_rotation"}
        n = 0
        async with self._write_lock, self.engine.begin() as conn:
            for entry in entries:
                values = {k: v for k, v in entry.items() if k in allowed and v is not None}
                row = {"user_id": entry["user_id"], "active": True, "absent": False, **values, "updated_at": now}
                dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
                stmt = dialect.insert(t.reps).values(**row)
                update_cols = {k: stmt.excluded[k] for k in (*values, "updated_at")}
                await conn.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=update_cols))
                n += 1
        self.version += 1
        return n

    async def record_replay(self, event_id: str, user: str, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.dead_letters)
                .where(t.dead_letters.c.event_id == event_id)
                .values(replay_count=t.dead_letters.c.replay_count + 1, last_replayed_at=now, last_replayed_by=user)
            )

    # --- reads -------------------------------------------------------------------------------------

    async def now_snapshot(self, now: datetime) -> dict[str, Any]:
        in_salesforce = and_(
            or_(t.leads.c.not_in_salesforce.is_(None), t.leads.c.not_in_salesforce == false()),
            # its own Lead (domain.leads.LeadState.is_lead): not a Contact follow-up, not merged into another
            or_(t.leads.c.follow_up.is_(None), t.leads.c.follow_up == false()),
            t.leads.c.merged_into.is_(None),
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.team_counters).where(t.team_counters.c.open > 0))).all()
            due = {}
            for minutes in (15, 60):
                due[minutes] = (
                    await conn.execute(
                        select(func.count())
                        .select_from(t.leads)
                        .where(
                            t.leads.c.closed == false(),
                            in_salesforce,
                            t.leads.c.due_at >= now,
                            t.leads.c.due_at < now + timedelta(minutes=minutes),
                        )
                    )
                ).scalar_one()
            overdue = (
                await conn.execute(
                    select(func.count())
                    .select_from(t.leads)
                    .where(
                        t.leads.c.closed == false(),
                        in_salesforce,
                        t.leads.c.due_at < now,
                        t.leads.c.due_at >= now - timedelta(days=1),
                        t.leads.c.breached_at.is_(None),
                    )
                )
            ).scalar_one()
            queues = (
                await conn.execute(
                    select(t.owner_counters)
                    .where(t.owner_counters.c.owner_type == "queue", t.owner_counters.c.open > 0)
                    .order_by(t.owner_counters.c.open.desc())
                )
            ).all()
            metric_rows = (await conn.execute(select(t.lead_metrics).where(t.lead_metrics.c.n > 0))).all()
        teams: dict[str, dict[str, Any]] = {}
        ratings: set[str] = set()

        def team_row(name: str) -> dict[str, Any]:
            return teams.setdefault(
                name,
                {
                    "team": name,
                    "open": 0,
                    "breached": 0,
                    "queued": 0,
                    "not_in_salesforce": 0,
                    "follow_ups": 0,
                    "by_rating": {},
                },
            )

        for r in rows:
            team = team_row(r.team)
            team["open"] += r.open
            team["queued"] += r.queued
            team["by_rating"][r.rating] = r.open
            ratings.add(r.rating)
        by_clock = dict.fromkeys(L.CLOCKS, 0)
        not_in_sf = 0
        breached = 0
        follow_ups = 0
        follow_ups_breached = 0
        merged = 0
        for m in metric_rows:
            if m.metric == L.FOLLOW_UP_BREACHED:
                follow_ups_breached += m.n
            elif m.metric == L.FOLLOW_UP:
                team_row(m.team)["follow_ups"] += m.n
                follow_ups += m.n
            elif m.metric == L.MERGED:
                merged += m.n
            if m.metric == L.BREACHED_ANY:
                team_row(m.team)["breached"] += m.n
                breached += m.n
            elif m.metric.startswith(L.BREACHED_ANY + ":"):
                clock = m.metric.split(":", 1)[1]
                by_clock[clock] = by_clock.get(clock, 0) + m.n
            elif m.metric == L.NOT_IN_SALESFORCE:
                team_row(m.team)["not_in_salesforce"] += m.n
                not_in_sf += m.n
        order = {"Hot": 0, "Warm": 1, "Cold": 2}
        return {
            "at": now.isoformat(),
            "open": sum(r.open for r in rows),
            "breached": breached,
            "breached_by_clock": by_clock,
            **{f"breached_{clock}": n for clock, n in by_clock.items()},
            "not_in_salesforce": not_in_sf,
            "follow_ups": follow_ups,
            "follow_ups_breached": follow_ups_breached,
            "merged": merged,
            "unassigned": sum(r.queued for r in rows),
            "due_15": due[15],
            "due_60": due[60],
            "overdue_unflagged": overdue,
            "ratings": sorted(ratings, key=lambda x: (order.get(x, 9), x)),
            "teams": sorted(teams.values(), key=lambda x: x["team"]),
            "queues": [
                {"owner_id": q.owner_id, "name": q.owner_name or q.owner_id, "team": q.team, "open": q.open}
                for q in queues
            ],
            "version": self.version,
        }

    async def speed(self, window: str, dim: str, now: datetime) -> tuple[dict, dict]:  # type: ignore[type-arg]
        """(bins keyed by (key, measure) → {bin: n}, outcomes keyed by key → (on_time, missed))."""
        if dim not in DIMENSIONS:
            raise ValueError(f"dimension must be one of {DIMENSIONS}, got {dim!r}")
        segments = window_segments(now, get_window(window))
        h, o = t.speed_hist, t.outcomes
        bins: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
        outs: dict[str, tuple[int, int]] = {}
        async with self.engine.connect() as conn:
            for grain, since, until in segments:
                where = [h.c.grain == grain, h.c.dim == dim, h.c.bucket >= since]
                if until is not None:
                    where.append(h.c.bucket < until)
                for key, measure, text in await conn.execute(select(h.c.key, h.c.measure, h.c.hist).where(*where)):
                    merge_hist(bins[(key, measure)], unpack_hist(text))
                owhere = [o.c.grain == grain, o.c.dim == dim, o.c.bucket >= since]
                if until is not None:
                    owhere.append(o.c.bucket < until)
                rows = await conn.execute(
                    select(o.c.key, func.sum(o.c.on_time), func.sum(o.c.missed)).where(*owhere).group_by(o.c.key)
                )
                for key, on_time, missed in rows:
                    a, m = outs.get(key, (0, 0))
                    outs[key] = (a + int(on_time or 0), m + int(missed or 0))
        return dict(bins), outs

    async def names(self) -> dict[str, str]:
        """Owner id → display name (reps from Salesforce users, else the name routing gave)."""
        async with self.engine.connect() as conn:
            out = {r.owner_id: r.owner_name for r in await conn.execute(select(t.owner_counters)) if r.owner_name}
            out.update({r.user_id: r.name for r in await conn.execute(select(t.reps)) if r.name})
        return out

    async def breaches(
        self,
        *,
        team: str | None = None,
        policy: str | None = None,
        clock: str | None = None,
        open_only: bool = False,
        lead_id: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        b, ld, oc = t.breaches, t.leads, t.owner_counters
        stmt = (
            select(
                b,
                ld.c.salesforce_id,
                ld.c.follow_up,
                ld.c.closed,
                ld.c.touched_at,
                oc.c.owner_name,
                t.reps.c.name.label("rep_name"),
            )
            .select_from(
                b.outerjoin(ld, ld.c.lead_id == b.c.lead_id)
                .outerjoin(oc, oc.c.owner_id == b.c.owner_id)
                .outerjoin(t.reps, t.reps.c.user_id == b.c.owner_id)
            )
            .order_by(b.c.breached_at.desc())
            .limit(limit)
            .offset(offset)
        )
        if team:
            stmt = stmt.where(b.c.team == team)
        if policy:
            stmt = stmt.where(b.c.policy == policy)
        if clock:
            stmt = stmt.where(b.c.clock == clock)
        if lead_id:
            stmt = stmt.where(b.c.lead_id == lead_id)
        if open_only:
            # open = the lead's state still holds this clock's breach (as the Now board counts it)
            stmt = stmt.where(
                b.c.met_at.is_(None),
                ld.c.breached_clocks.contains(b.c.clock),
                or_(ld.c.not_in_salesforce.is_(None), ld.c.not_in_salesforce == false()),
                # as the Now board's "breached": each Salesforce Lead once, Contact follow-ups apart
                or_(ld.c.follow_up.is_(None), ld.c.follow_up == false()),
                ld.c.merged_into.is_(None),
            )
        if search:
            condition = await self._search_condition(search.strip())
            if condition is None:
                return []
            stmt = stmt.where(condition)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            for k in ("due_at", "breached_at", "met_at", "touched_at"):
                d[k] = utc(d[k])
            d["owner_display"] = d.pop("rep_name") or d.get("owner_name") or d.get("owner_id")
            out.append(d)
        return out

    async def _search_condition(self, text: str) -> Any:
        """Free text → indexed conditions: lead id prefix, or owners/teams/policies whose name contains
        the text (resolved against the small dimension tables, so the big table is never LIKE-scanned)."""
        if not text:
            return None
        needle = text.lower()
        b = t.breaches
        owners = [oid for oid, name in (await self.names()).items() if needle in name.lower() or oid == text]
        options = await self.breach_filters()
        teams = [x for x in options["teams"] if needle in x.lower()]
        policies = [x for x in options["policies"] if needle in x.lower()]
        conditions = [and_(b.c.lead_id >= text, b.c.lead_id < text + "\U0010ffff")]
        if owners:
            conditions.append(b.c.owner_id.in_(owners))
        if teams:
            conditions.append(b.c.team.in_(teams))
        if policies:
            conditions.append(b.c.policy.in_(policies))
        return or_(*conditions)

    async def breach_filters(self) -> dict[str, list[str]]:
        async with self.engine.connect() as conn:
            teams = [
                r[0]
                for r in await conn.execute(select(t.team_counters.c.team).distinct().order_by(t.team_counters.c.team))
            ]
            policies = [
                r[0]
                for r in await conn.execute(
                    select(t.breaches.c.policy)
                    .where(t.breaches.c.policy.is_not(None))
                    .distinct()
                    .order_by(t.breaches.c.policy)
                )
            ]
        return {"teams": teams, "policies": policies}

    async def lead(self, lead_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.leads).where(t.leads.c.lead_id == lead_id))).first()
            if row is None:
                return None
            events = (
                await conn.execute(
                    select(t.sla_events).where(t.sla_events.c.lead_id == lead_id).order_by(t.sla_events.c.occurred_at)
                )
            ).all()
        state = _state_from_row(row)
        d = asdict(state)
        d["events"] = [{**dict(e._mapping), "occurred_at": utc(e.occurred_at), "due_at": utc(e.due_at)} for e in events]
        return d

    async def team_load_inputs(
        self, now: datetime, days: int, *, queues: bool = False
    ) -> tuple[list[Any], list[Any], dict[tuple[str, str], Assigned]]:
        """(owner counters — users only unless ``queues`` —, rep rows, assignments per (owner, team) in the window:
        every LeadRouted and the round-robin deals among them)."""
        since = bucket_start(now, "d") - timedelta(days=days - 1)
        oc = t.owner_counters
        async with self.engine.connect() as conn:
            owners = (await conn.execute(select(oc) if queues else select(oc).where(oc.c.owner_type != "queue"))).all()
            rep_rows = (await conn.execute(select(t.reps))).all()
            a = t.assignments
            assigned_rows = await conn.execute(
                select(
                    a.c.owner_id,
                    a.c.team,
                    func.sum(a.c.n),
                    func.sum(a.c.round_robin),
                    func.sum(a.c.expected),
                    func.sum(a.c.variance),
                )
                .where(a.c.bucket >= since)
                .group_by(a.c.owner_id, a.c.team)
            )
            assigned = {
                (o, tm): Assigned(int(n), int(rr or 0), float(ex or 0.0), float(var or 0.0))
                for o, tm, n, rr, ex, var in assigned_rows
            }
        return list(owners), list(rep_rows), assigned

    async def arrivals_per_hour(self, now: datetime, hours: int = 24) -> float:
        since = bucket_start(now, "h") - timedelta(hours=hours)
        until = bucket_start(now, "h")
        async with self.engine.connect() as conn:
            n = (
                await conn.execute(
                    select(func.coalesce(func.sum(t.arrivals.c.n), 0)).where(
                        t.arrivals.c.bucket >= since, t.arrivals.c.bucket < until
                    )
                )
            ).scalar_one()
            current = (
                await conn.execute(
                    select(func.coalesce(func.sum(t.arrivals.c.n), 0)).where(t.arrivals.c.bucket == until)
                )
            ).scalar_one()
        # full past hours, plus the current partial hour scaled by how much of it has passed
        elapsed = max((now - until).total_seconds() / 3600, 1 / 60)
        if n == 0:
            return float(current) / elapsed if current else 0.0
        return float(n) / hours

    async def available_reps(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(t.reps)
                        .where(
                            t.reps.c.active.is_(True),
                            t.reps.c.absent.is_(False),
                            or_(t.reps.c.queue.is_(None), t.reps.c.queue.is_(False)),
                            or_(t.reps.c.role.is_(None), t.reps.c.role.in_(SELLING_ROLES)),  # roster.sells
                        )
                    )
                ).scalar_one()
            )

    async def dead_letter_counts(self) -> list[dict[str, Any]]:
        d = t.dead_letters
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(d.c.source_topic, d.c.service, d.c.reason, func.count(), func.max(d.c.received_at))
                .group_by(d.c.source_topic, d.c.service, d.c.reason)
                .order_by(func.count().desc())
            )
            return [
                {
                    "source_topic": s,
                    "service": sv,
                    "reason": r,
                    "count": int(n),
                    "last": utc(last),
                    "severity": severity(s, sv),
                }
                for s, sv, r, n, last in rows
            ]

    @staticmethod
    def _dead_letter_where(
        reason: str | None,
        service: str | None,
        since: datetime | None,
        until: datetime | None,
        lead_id: str | None = None,
        waiting: bool = False,
        severity: str | None = None,
    ) -> list[Any]:
        d = t.dead_letters
        where: list[Any] = []
        if severity in ("input", "attention"):
            is_input = and_(d.c.source_topic == T.LEADS_REJECTED, d.c.service == "intake")  # dead_letters.severity
            where.append(is_input if severity == "input" else ~is_input)
        if reason:
            where.append(d.c.reason == reason)
        if service:
            where.append(d.c.service == service)
        if since is not None:
            where.append(d.c.received_at >= since)
        if until is not None:
            where.append(d.c.received_at < until)
        if lead_id:
            where.append(d.c.lead_id == lead_id)
        if waiting:
            where.append(d.c.replay_count == 0)
        return where

    async def dead_letter_list(
        self,
        *,
        reason: str | None = None,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lead_id: str | None = None,
        waiting: bool = False,
        severity: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        d = t.dead_letters
        stmt = (
            select(
                d.c.event_id,
                d.c.source_topic,
                d.c.original_topic,
                d.c.service,
                d.c.reason,
                d.c.message,
                d.c.lead_id,
                d.c.received_at,
                d.c.replay_count,
                d.c.last_replayed_at,
            )
            .where(*self._dead_letter_where(reason, service, since, until, lead_id, waiting, severity))
            .order_by(d.c.received_at.desc(), d.c.event_id)
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            {**dict(r._mapping), "received_at": utc(r.received_at), "last_replayed_at": utc(r.last_replayed_at)}
            for r in rows
        ]

    async def dead_letter_total(
        self,
        *,
        reason: str | None = None,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        waiting: bool = False,
        severity: str | None = None,
    ) -> int:
        where = self._dead_letter_where(reason, service, since, until, None, waiting, severity)
        async with self.engine.connect() as conn:
            stmt = select(func.count()).select_from(t.dead_letters).where(*where)
            return int((await conn.execute(stmt)).scalar_one())

    async def dead_letters_waiting_by_severity(self) -> dict[str, int]:
        """Dead letters never replayed, by ``domain.dead_letters.severity`` (``attention`` / ``input``)."""
        d = t.dead_letters
        out = {"attention": 0, "input": 0}
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(d.c.source_topic, d.c.service, func.count())
                .where(d.c.replay_count == 0)
                .group_by(d.c.source_topic, d.c.service)
            )
            for source_topic, service, n in rows:
                out[severity(source_topic, service)] += int(n)
        return out

    async def arrivals_window(self, now: datetime, hours: int) -> tuple[int, datetime | None]:
        """(leads first routed in the last ``hours`` up to ``now``, the minute of the first of them)."""
        since = now - timedelta(hours=hours)
        a = t.arrivals_minute
        async with self.engine.connect() as conn:
            n, first = (
                await conn.execute(
                    select(func.coalesce(func.sum(a.c.n), 0), func.min(a.c.bucket)).where(
                        a.c.bucket >= since.replace(second=0, microsecond=0), a.c.bucket <= now
                    )
                )
            ).one()
        return int(n), utc(first)

    async def _put_health(
        self, conn: AsyncConnection, key: str, value: dict[str, Any], at: datetime, newer_than: str | None = None
    ) -> None:
        """Upsert one org-health fact (JSON). With ``newer_than``, keep the stored one if its field is later."""
        if newer_than is not None:
            row = (await conn.execute(select(t.org_health.c.value).where(t.org_health.c.key == key))).first()
            if row is not None:
                old = json.loads(row.value).get(newer_than)
                if old is not None and old >= value[newer_than].isoformat():
                    return
        text = json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
        await conn.execute(_upsert_all(conn, t.org_health, ["key"]), [{"key": key, "value": text, "updated_at": at}])

    async def put_health(self, key: str, value: dict[str, Any], at: datetime) -> None:
        async with self._write_lock, self.engine.begin() as conn:
            await self._put_health(conn, key, value, at)
        self.version += 1

    async def health(self) -> dict[str, dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.org_health))).all()
        return {r.key: {**json.loads(r.value), "updated_at": utc(r.updated_at)} for r in rows}

    async def dead_letter(self, event_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.dead_letters).where(t.dead_letters.c.event_id == event_id))).first()
        if row is None:
            return None
        d = dict(row._mapping)
        for k in ("occurred_at", "received_at", "last_replayed_at"):
            d[k] = utc(d[k])
        d["detail"] = json.loads(d["detail"]) if d.get("detail") else {}
        return d

    async def counts(self) -> dict[str, int]:
        """Table sizes (for the benchmark and health)."""
        async with self.engine.connect() as conn:
            out = {}
            for name, table in (("leads", t.leads), ("sla_events", t.sla_events), ("breaches", t.breaches)):
                out[name] = int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
        return out


__all__ = ["ApplyResult", "OpsRepository", "RawDeadLetter", "utc"]
