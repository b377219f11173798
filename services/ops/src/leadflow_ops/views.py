"""Service layer: turns read-model queries into what the pages and JSON APIs show."""

from __future__ import annotations

import base64
import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow_contracts import (
    CrmChange,
    CrmSynced,
    LeadAccepted,
    LeadEnriched,
    LeadRouted,
    LeadScored,
    LeadSubmitted,
    ReassignRequested,
    SlaEvent,
)
from leadflow_contracts import topics as T
from pydantic import ValidationError

from leadflow_ops.adapters.kafka_lag import PipelineMonitor
from leadflow_ops.adapters.repository import OpsRepository
from leadflow_ops.domain import erlang
from leadflow_ops.domain.arrivals import arrival_rate
from leadflow_ops.domain.fairness import RepInput, RepLoad, rotation, team_load
from leadflow_ops.domain.masking import mask_payload, mask_text, restore_payload
from leadflow_ops.domain.roster import NO_TEAM, queue_team, sells
from leadflow_ops.domain.stats import SpeedRow, speed_rows
from leadflow_ops.settings import OpsSettings

REPLAY_CONTRACTS: dict[str, type[Any]] = {
    T.LEADS_INBOUND: LeadSubmitted,
    T.LEADS_ACCEPTED: LeadAccepted,
    T.LEADS_ENRICHED: LeadEnriched,
    T.LEADS_SCORED: LeadScored,
    T.LEADS_ROUTED: LeadRouted,
    T.LEADS_REASSIGN: ReassignRequested,
    T.CRM_SYNCED: CrmSynced,
    T.CRM_CHANGES: CrmChange,
    T.SLA_EVENTS: SlaEvent,
}


class ReplayError(ValueError):
    """The fixed payload cannot be replayed; the message says why (shown to the operator)."""


class NowFeed:
    """Caches the live snapshot per read-model version and 5-second tick, shared by every SSE client."""

    def __init__(self, repo: OpsRepository, tick_seconds: float = 5.0) -> None:
        self.repo = repo
        self.tick = tick_seconds
        self._key: tuple[int, int] | None = None
        self._value: dict[str, Any] | None = None

    async def get(self, now: datetime) -> dict[str, Any]:
        key = (self.repo.version, int(now.timestamp() // self.tick))
        if key != self._key or self._value is None:
            self._value = await self.repo.now_snapshot(now)
            self._key = key
        return self._value


async def speed(repo: OpsRepository, window: str, dim: str, now: datetime) -> list[SpeedRow]:
    bins, outcomes = await repo.speed(window, dim, now)
    rows = speed_rows(bins, outcomes)
    if dim == "rep":
        names = await repo.names()
        rows = [SpeedRow(**{**asdict(r), "key": names.get(r.key, r.key)}) if r.key in names else r for r in rows]
    return sorted(rows, key=lambda r: (-(r.touches or 0), r.key))


def speed_json(rows: list[SpeedRow]) -> list[dict[str, Any]]:
    return [{**asdict(r), "attainment": r.attainment} for r in rows]


def _cap(rep: Any, owner_id: str, settings: OpsSettings) -> int:
    """Route's cap (from its roster, carried on the rep row) wins; ops' setting is the fallback."""
    cap = getattr(rep, "cap", None) if rep is not None else None
    return int(cap) if cap else settings.rep_caps.get(owner_id, settings.rep_open_cap)


@dataclass(frozen=True)
class Holder:
    """A user who is not a rep (no selling role: the head of sales, finance) but holds leads: shown apart, with
    no round-robin share or weight (route does not deal them leads by weight)."""

    owner_id: str
    name: str
    team: str
    role: str | None
    open_leads: int
    breached: int
    assigned: int


@dataclass(frozen=True)
class QueueLoad:
    owner_id: str
    name: str
    team: str
    open_leads: int
    breached: int


@dataclass(frozen=True)
class TeamPage:
    reps: list[RepLoad]
    """Reps (selling roles) by team, with caps, shares and weight shares."""
    others: list[Holder] = field(default_factory=list)
    queues: list[QueueLoad] = field(default_factory=list)


async def team(repo: OpsRepository, settings: OpsSettings, now: datetime) -> TeamPage:
    """Team load: the reps (``roster.sells``: the same selling roles Staffing counts, and whoever route deals
    round-robin leads to), the other users who hold leads, and the queues — each shown as what it is. Shares are
    of route's round-robin deals among the reps in its rotation (``fairness``)."""
    owners, rep_rows, assigned = await repo.team_load_inputs(now, settings.team_load_days, queues=True)
    reps = {r.user_id: r for r in rep_rows}
    queue_rows = []
    seen: set[str] = set()
    inputs: list[RepInput] = []
    others: list[Holder] = []
    assigned_by_owner: dict[str, int] = {}
    dealt_by_owner: dict[str, int] = {}
    odds_by_owner: dict[str, tuple[float, float]] = {}
    for (owner_id, _team), n in assigned.items():
        assigned_by_owner[owner_id] = assigned_by_owner.get(owner_id, 0) + n.total
        dealt_by_owner[owner_id] = dealt_by_owner.get(owner_id, 0) + n.round_robin
        ex, var = odds_by_owner.get(owner_id, (0.0, 0.0))
        odds_by_owner[owner_id] = (ex + n.expected, var + n.variance)
    for o in owners:
        rep = reps.get(o.owner_id)
        seen.add(o.owner_id)
        if o.owner_type == "queue" or (rep is not None and rep.queue):
            if o.open or o.breached:
                queue_rows.append(o)
            continue
        if rep is not None and not sells(rep.role) and not rep.in_rotation:
            if o.open or assigned_by_owner.get(o.owner_id):
                others.append(
                    Holder(
                        owner_id=o.owner_id,
                        name=rep.name or o.owner_name or o.owner_id,
                        team=rep.team or o.team or NO_TEAM,
                        role=rep.role,
                        open_leads=o.open,
                        breached=o.breached,
                        assigned=assigned_by_owner.get(o.owner_id, 0),
                    )
                )
            continue
        inputs.append(
            RepInput(
                owner_id=o.owner_id,
                name=(rep.name if rep else None) or o.owner_name,
                team=(rep.team if rep and rep.team else None) or o.team,
                open_leads=o.open,
                breached=o.breached,
                assigned=assigned_by_owner.get(o.owner_id, 0),
                weight=rep.weight if rep else None,
                cap=_cap(rep, o.owner_id, settings),
                active=rep.active if rep else True,
                absent=rep.absent if rep else False,
                round_robin=dealt_by_owner.get(o.owner_id, 0),
                expected=odds_by_owner.get(o.owner_id, (0.0, 0.0))[0],
                variance=odds_by_owner.get(o.owner_id, (0.0, 0.0))[1],
                in_rotation=rotation(rep.in_rotation if rep else None, rep.role if rep else None),
            )
        )
    for rep in rep_rows:
        if rep.user_id in seen or not rep.team or rep.queue:  # reps only
            continue
        if not sells(rep.role) and not rep.in_rotation:
            continue
        inputs.append(
            RepInput(
                owner_id=rep.user_id,
                name=rep.name,
                team=rep.team,
                open_leads=0,
                breached=0,
                assigned=assigned_by_owner.get(rep.user_id, 0),
                weight=rep.weight,
                cap=_cap(rep, rep.user_id, settings),
                active=rep.active,
                absent=rep.absent,
                round_robin=dealt_by_owner.get(rep.user_id, 0),
                expected=odds_by_owner.get(rep.user_id, (0.0, 0.0))[0],
                variance=odds_by_owner.get(rep.user_id, (0.0, 0.0))[1],
                in_rotation=rotation(rep.in_rotation, rep.role),
            )
        )
    queues = [
        QueueLoad(
            owner_id=q.owner_id,
            name=(reps[q.owner_id].name if q.owner_id in reps else None) or q.owner_name or q.owner_id,
            team=q.team or queue_team(q.owner_name, q.owner_id),
            open_leads=q.open,
            breached=q.breached,
        )
        for q in queue_rows
    ]
    return TeamPage(
        reps=team_load(inputs),
        others=sorted(others, key=lambda h: (h.team, h.name)),
        queues=sorted(queues, key=lambda q: (-q.open_leads, q.name)),
    )


def team_json(page: TeamPage) -> dict[str, Any]:
    return {
        "rows": [asdict(r) for r in page.reps],
        "others": [asdict(h) for h in page.others],
        "queues": [asdict(q) for q in page.queues],
    }


def read_reconcile(path: Path | None) -> dict[str, Any] | None:
    """The last ``leadflow reconcile`` result: ``{"finished_at", "differences" (int or list), …}``."""
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"cannot read {path.name}: {type(exc).__name__}"}
    if not isinstance(data, dict):
        return {"error": f"{path.name} is not a JSON object"}
    summary: dict[str, Any] = data["summary"] if isinstance(data.get("summary"), dict) else data
    diffs = data.get("differences", summary.get("differences"))
    count = len(diffs) if isinstance(diffs, list) else diffs
    at = summary.get("finished_at") or summary.get("at") or data.get("finished_at")
    when = None
    if isinstance(at, str):
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None:  # `leadflow reconcile --json > last.json`: the file's time is the run's
        when = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    by_kind = summary.get("by_kind")
    return {
        "at": when,
        "differences": count if isinstance(count, int) else None,
        "ok": (count == 0) if isinstance(count, int) else data.get("ok"),
        "by_kind": by_kind if isinstance(by_kind, dict) else {},
        **({"error": str(data["error"])[:300], "ok": False} if data.get("error") else {}),
    }


async def org_health(
    repo: OpsRepository, settings: OpsSettings, monitor: PipelineMonitor | None, now: datetime, budget: Any = None
) -> dict[str, Any]:
    """API budget, change-feed lag, last reconcile, dead letters waiting: one panel, each with its source."""
    facts = await repo.health()
    feed = facts.get("change_feed")
    change_feed: dict[str, Any] = {"newest": None, "arrived_after_seconds": None, "age_seconds": None}
    if feed:
        newest = datetime.fromisoformat(feed["modstamp"])
        received = datetime.fromisoformat(feed["received"])
        change_feed = {
            "newest": newest,
            "arrived_after_seconds": max(0.0, (received - newest).total_seconds()),
            "age_seconds": max(0.0, (now - newest).total_seconds()),
        }
    consumers = []
    if monitor is not None:
        consumers = [asdict(r) for r in monitor.snapshot.lag if r.topic == T.CRM_CHANGES]
    change_feed["consumer_lag"] = sum(r["lag"] for r in consumers) if consumers else None
    snap = budget.snapshot if budget is not None else None
    api: dict[str, Any] = {
        "remaining": getattr(snap, "remaining", None),
        "used": getattr(snap, "used", None),
        "limit": getattr(snap, "limit", None),
        "error": getattr(snap, "error", "not sampled"),
    }
    if api["limit"]:
        api["used_share"] = (api["used"] or 0) / api["limit"]
    waiting = await repo.dead_letters_waiting_by_severity()
    return {
        "api": api,
        "change_feed": change_feed,
        "reconcile": read_reconcile(settings.reconcile_result_file),
        "dead_letters_waiting": sum(waiting.values()),
        "dead_letters_attention": waiting["attention"],
        "input_rejects_waiting": waiting["input"],
    }


def pipeline(monitor: PipelineMonitor | None) -> dict[str, Any]:
    if monitor is None:
        return {"at": None, "age_seconds": None, "lag": [], "throughput": {}, "error": "lag monitor disabled"}
    snap = monitor.snapshot
    return {
        "at": snap.at or None,
        "age_seconds": (time.time() - snap.at) if snap.at else None,
        "lag": [asdict(r) for r in snap.lag],
        "throughput": snap.throughput,
        "error": snap.error,
    }


async def staffing(
    repo: OpsRepository,
    settings: OpsSettings,
    now: datetime,
    *,
    arrivals: float | None,
    aht: float | None,
    target_seconds: float | None,
    target_level: float | None,
    roster: int | None,
) -> tuple[erlang.StaffingPlan, dict[str, Any]]:
    n, first = await repo.arrivals_window(now, settings.staffing_window_hours)
    rate = arrival_rate(n, first, now, settings.staffing_window_hours)
    measured = rate.per_hour
    available = await repo.available_reps()
    inputs: dict[str, Any] = {
        "arrivals": measured if arrivals is None else arrivals,
        "aht": settings.staffing_aht_seconds if aht is None else aht,
        "target_seconds": settings.staffing_target_seconds if target_seconds is None else target_seconds,
        "target_level": settings.staffing_target_level if target_level is None else target_level,
        "roster": (settings.staffing_roster if settings.staffing_roster is not None else available)
        if roster is None
        else roster,
        "measured_arrivals": measured,
        "measured_count": rate.arrivals,
        "measured_since": rate.since,
        "measured_hours": rate.hours,
        "window_hours": rate.window_hours,
        "available_reps": available,
        "edited": [
            name
            for name, value in (
                ("arrivals", arrivals),
                ("aht", aht),
                ("target", target_seconds),
                ("level", target_level),
                ("roster", roster),
            )
            if value is not None
        ],
    }
    result = erlang.plan(
        inputs["arrivals"], inputs["aht"], inputs["target_seconds"], inputs["target_level"], int(inputs["roster"])
    )
    return result, inputs


def plan_json(p: erlang.StaffingPlan) -> dict[str, Any]:
    d = asdict(p)
    d["roster_asa_seconds"] = None if math.isinf(p.roster_asa_seconds) else p.roster_asa_seconds
    d["curve"] = [{"agents": n, "service_level": sl} for n, sl in p.curve]
    return d


def inputs_json(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in inputs.items()}


REPLAY_EFFECTS: dict[str, str] = {
    T.LEADS_INBOUND: "intake validates the submission again; if it passes it becomes a new accepted lead and "
    "goes through enrich, score, route and crm-sync like any other.",
    T.LEADS_ACCEPTED: "enrich enriches the lead again and passes it on to score, route and crm-sync.",
    T.LEADS_ENRICHED: "score scores the lead again and passes it on to route and crm-sync.",
    T.LEADS_SCORED: "route assigns an owner again and passes the lead on to crm-sync and sla-monitor.",
    T.LEADS_ROUTED: "crm-sync writes the lead to Salesforce again (an upsert on Leadflow_Id__c: never a second "
    "Lead); when it succeeds the lead is in Salesforce and counted as open.",
    T.LEADS_REASSIGN: "route reassigns the lead again.",
    T.CRM_SYNCED: "ops (and any other reader of crm.synced) records the sync again.",
    T.CRM_CHANGES: "crm-sync, sla-monitor and enrich read the Salesforce change again.",
    T.SLA_EVENTS: "crm-sync updates the lead's SLA status in Salesforce again; ops records the SLA event.",
}


def _contract_topic(topic: str, prefix: str) -> str:
    return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


def _flatten(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Leaf fields of a (masked) JSON document as (dotted path, short text); the trace is summarised."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if key == "trace" and isinstance(item, list):
                decisions = ", ".join(str(step.get("service", "?")) for step in item if isinstance(step, dict))
                out.append((sub, f"{len(item)} steps: {decisions}" if item else "none"))
            else:
                out.extend(_flatten(item, sub))
        return out
    if isinstance(value, list):
        if not value:
            return [(path, "[]")]
        if all(not isinstance(v, dict | list) for v in value):
            return [(path, ", ".join(str(v) for v in value))]
        out = []
        for i, item in enumerate(value):
            out.extend(_flatten(item, f"{path}[{i}]"))
        return out
    text = "null" if value is None else str(value)
    return [(path, text if len(text) <= 160 else text[:157] + "…")]


def _personal_values(original: Any, masked: Any, out: dict[str, str]) -> dict[str, str]:
    """Original string → its masked form, for every value the masking changed (personal data)."""
    if isinstance(original, dict) and isinstance(masked, dict):
        for key, value in original.items():
            _personal_values(value, masked.get(key), out)
    elif isinstance(original, list) and isinstance(masked, list):
        for a, b in zip(original, masked, strict=False):
            _personal_values(a, b, out)
    elif isinstance(original, str) and isinstance(masked, str) and original != masked and len(original) >= 3:
        out[original] = masked
    return out


def _mask_known_values(message: str, raw: bytes) -> str:
    """An error message often quotes the refused value (an e-mail Salesforce calls invalid is exactly the
    kind a pattern misses): mask every personal value of the record wherever the message repeats it."""
    try:
        original = json.loads(raw)
    except ValueError:
        return message
    masked_doc = json.loads(mask_payload(raw)[0])
    for value, replacement in sorted(_personal_values(original, masked_doc, {}).items(), key=lambda kv: -len(kv[0])):
        message = message.replace(value, replacement)
    return message


def dead_letter_view(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    raw = base64.b64decode(row["original_base64"])
    masked, is_json = mask_payload(raw)
    fields: list[tuple[str, str]] = []
    if is_json:
        fields = _flatten(json.loads(masked))
    detail = row.get("detail") or {}
    message = _mask_known_values(mask_text(row.get("message") or ""), raw)
    status = detail.get("statusCode") or (
        row["reason"].split(":", 1)[1] if str(row.get("reason", "")).startswith("salesforce:") else None
    )
    salesforce_error = None
    if status:
        refused = [f for f in (detail.get("fields") or "").split(",") if f]
        salesforce_error = {
            "status": status,
            "fields": refused,
            "operation": detail.get("operation"),
            "message": message,
        }
    target = _contract_topic(row["original_topic"], prefix)
    return {
        **{k: v for k, v in row.items() if k != "original_base64"},
        "message": message,
        "payload_masked": masked,
        "payload_is_json": is_json,
        "payload_bytes": len(raw),
        "fields": fields,
        "salesforce_error": salesforce_error,
        "replay_effect": REPLAY_EFFECTS.get(
            target, "the message is published again to its original topic for whoever consumes it."
        ),
        "detail_items": sorted(
            (k, mask_text(str(v)))
            for k, v in detail.items()
            if not (salesforce_error and k in ("statusCode", "fields", "operation"))
        ),
    }


def replay_target(row: dict[str, Any], settings: OpsSettings) -> str:
    topic = row["original_topic"]
    prefix = settings.topic_prefix
    return topic if prefix and topic.startswith(prefix) else settings.topic(topic)


def prepare_replay(row: dict[str, Any], edited: str, settings: OpsSettings) -> tuple[str, bytes]:
    """(topic, bytes) to republish; ReplayError with a reason an operator can act on."""
    original = base64.b64decode(row["original_base64"])
    try:
        body = restore_payload(edited, original)
    except ValueError as exc:
        raise ReplayError(str(exc)) from exc
    topic = replay_target(row, settings)
    contract_name = topic[len(settings.topic_prefix) :] if settings.topic_prefix else topic
    model = REPLAY_CONTRACTS.get(contract_name)
    if model is not None:
        try:
            model.model_validate(json.loads(body))
        except (ValueError, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err["loc"]) or "(root)"
                raise ReplayError(f"still not a valid {model.__name__}: {where}: {err['msg']}") from exc
            raise ReplayError(f"still not a valid {model.__name__}: {exc}") from exc
    return topic, body
