"""One lead's story, step by step, in submission order, each step with who acted. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

CLOCK_NAMES = {"first_touch": "first touch", "qualify": "qualification", "callback": "callback"}


@dataclass(frozen=True)
class Step:
    at: datetime | None
    what: str
    actor: str
    detail: str = ""
    kind: str = ""
    """css hint: ok / bad / ''."""
    link: str | None = None
    skewed: bool = False
    """Stamped before the submission (a producer's clock): shown after it anyway."""


def _name(names: Mapping[str, str], user_id: str | None) -> str | None:
    if not user_id:
        return None
    return names.get(user_id, user_id)


def _dropped(stored: str | None) -> str:
    items = json.loads(stored) if stored else []
    left_out = [f"{d['field']} ({d['reason']})" for d in items if not d.get("cut")]
    cut = [d["field"] for d in items if d.get("cut")]
    text = f"; written without {', '.join(left_out)}: Salesforce refused the value" if left_out else ""
    return text + (f"; {', '.join(cut)} cut to fit Salesforce's field (the whole value in the note)" if cut else "")


def build(
    lead: Mapping[str, Any] | None,
    events: Iterable[Mapping[str, Any]],
    dead_letters: Iterable[Mapping[str, Any]],
    names: Mapping[str, str],
) -> list[Step]:
    """Submission first, then every later step by time (ties keep pipeline order)."""
    steps: list[tuple[int, Step]] = []
    submitted = lead.get("submitted_at") if lead else None
    if lead:
        source = lead.get("source") or "a marketing source"
        steps.append((0, Step(submitted, "submitted", source.replace("_", " "), "the prospect's form or list")))
        if lead.get("routed_at"):
            owner = _name(names, lead.get("owner_id")) or lead.get("owner_name") or "–"
            kind = "queue" if lead.get("owner_type") == "queue" else "rep"
            detail = f"to {owner} ({kind}) by routing policy “{lead.get('policy') or '–'}”"
            if lead.get("routing_reason"):
                detail += f": {lead['routing_reason']}"
            if lead.get("reassignments"):
                detail += f"; reassigned {lead['reassignments']}×"
            steps.append((1, Step(lead["routed_at"], "routed", "route", detail)))
        if lead.get("owner_at") or lead.get("salesforce_id"):
            steps.append(
                (
                    2,
                    Step(
                        lead.get("owner_at"),
                        "in Salesforce",
                        "crm-sync",
                        (
                            f"follow-up Task on Contact {lead.get('salesforce_id') or ''}"
                            if lead.get("follow_up")
                            else f"Lead {lead.get('salesforce_id') or ''} written with its owner"
                        ).replace("  ", " ")
                        + _dropped(lead.get("dropped_fields")),
                        "ok",
                    ),
                )
            )
    for e in events:
        clock = CLOCK_NAMES.get(e.get("clock", ""), e.get("clock", ""))
        kind = e.get("kind", "")
        policy = e.get("policy") or "–"
        if kind == "met":
            actor = _name(names, e.get("met_by")) or "a rep"
            detail = f"{clock} clock met ({e.get('met_how') or 'activity in Salesforce'}); SLA policy “{policy}”"
            css = "ok"
        else:
            actor = "sla-monitor"
            detail = f"{clock} clock {kind}; SLA policy “{policy}”"
            if kind == "breached":
                detail += " — due was passed"
            if e.get("escalation_action"):
                detail += f"; escalation step {e.get('escalation_step')}: {e['escalation_action']}"
            css = "bad" if kind in ("breached", "escalated") else ""
        steps.append((3, Step(e.get("occurred_at"), f"{clock} {kind}", actor, detail, css)))
    for d in dead_letters:
        steps.append(
            (
                4,
                Step(
                    d.get("received_at"),
                    "dead-lettered",
                    d.get("service") or "unknown",
                    f"{d.get('reason')}: {d.get('message') or ''}".strip(": "),
                    "bad",
                    link="/deadletters/" + quote(str(d["event_id"]), safe=""),
                ),
            )
        )

    def key(item: tuple[int, Step]) -> tuple[int, datetime | float, int]:
        rank, step = item
        if rank == 0:
            return (0, 0.0, 0)
        at = step.at
        return (1, at.timestamp() if at is not None else float("inf"), rank)

    ordered = []
    for rank, step in sorted(steps, key=key):
        if rank and submitted is not None and step.at is not None and step.at < submitted:
            step = Step(step.at, step.what, step.actor, step.detail, step.kind, step.link, skewed=True)
        ordered.append(step)
    return ordered
