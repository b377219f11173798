"""Service layer: turns read-model queries into what the pages and JSON APIs show."""

from __future__ import annotations

import base64
import json
import math
import time
from dataclasses import asdict
from datetime import datetime
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
from leadflow_ops.domain.fairness import RepInput, RepLoad, team_load
from leadflow_ops.domain.masking import mask_payload, mask_text, restore_payload
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


async def team(repo: OpsRepository, settings: OpsSettings, now: datetime) -> list[RepLoad]:
    owners, rep_rows, assigned = await repo.team_load_inputs(now, settings.team_load_days)
    reps = {r.user_id: r for r in rep_rows}
    seen: set[str] = set()
    inputs: list[RepInput] = []
    assigned_by_owner: dict[str, int] = {}
    for (owner_id, _team), n in assigned.items():
        assigned_by_owner[owner_id] = assigned_by_owner.get(owner_id, 0) + n
    for o in owners:
        rep = reps.get(o.owner_id)
        seen.add(o.owner_id)
        inputs.append(
            RepInput(
                owner_id=o.owner_id,
                name=(rep.name if rep else None) or o.owner_name,
                team=(rep.team if rep and rep.team else None) or o.team,
                open_leads=o.open,
                breached=o.breached,
                assigned=assigned_by_owner.get(o.owner_id, 0),
                weight=rep.weight if rep else None,
                cap=settings.rep_caps.get(o.owner_id, settings.rep_open_cap),
                active=rep.active if rep else True,
                absent=rep.absent if rep else False,
            )
        )
    for rep in rep_rows:
        if rep.user_id in seen or not rep.team:
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
                cap=settings.rep_caps.get(rep.user_id, settings.rep_open_cap),
                active=rep.active,
                absent=rep.absent,
            )
        )
    return team_load(inputs)


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
    measured = await repo.arrivals_per_hour(now)
    available = await repo.available_reps()
    inputs = {
        "arrivals": measured if arrivals is None else arrivals,
        "aht": settings.staffing_aht_seconds if aht is None else aht,
        "target_seconds": settings.staffing_target_seconds if target_seconds is None else target_seconds,
        "target_level": settings.staffing_target_level if target_level is None else target_level,
        "roster": (settings.staffing_roster if settings.staffing_roster is not None else available)
        if roster is None
        else roster,
        "measured_arrivals": measured,
        "available_reps": available,
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


def dead_letter_view(row: dict[str, Any]) -> dict[str, Any]:
    raw = base64.b64decode(row["original_base64"])
    masked, is_json = mask_payload(raw)
    return {
        **{k: v for k, v in row.items() if k != "original_base64"},
        "message": mask_text(row.get("message") or ""),
        "payload_masked": masked,
        "payload_is_json": is_json,
        "payload_bytes": len(raw),
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
