"""Writes the API budget holds back, typed: a Lead write, an SLA status, or a Task (stored as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from leadflow_contracts import LeadRouted

from leadflow_crm_sync.domain.policy import WriteKind
from leadflow_crm_sync.domain.writes import RecordWrite

DeferredKind = Literal["lead", "sla_status", "task"]


def write_key(write: RecordWrite) -> str:
    return f"{write.sobject}|{write.mode}|{write.key}"


def _write_dict(w: RecordWrite) -> dict[str, Any]:
    return {
        "sobject": w.sobject,
        "mode": w.mode,
        "key": w.key,
        "fields": w.fields,
        "kind": w.kind.value,
        "ext_field": w.ext_field,
    }


def _write_from(d: dict[str, Any]) -> RecordWrite:
    return RecordWrite(d["sobject"], d["mode"], d["key"], d["fields"], WriteKind(d["kind"]), d.get("ext_field"))


@dataclass(frozen=True)
class DeferredWrite:
    """One held-back write and what its success means (the lead's new state, its SLA status, a Task id)."""

    kind: DeferredKind
    lead_id: str
    write: RecordWrite
    content_hash: str | None = None
    event: LeadRouted | None = None
    """lead: the routed event the write applies (published as crm.synced once written)."""
    sla_status: str | None = None
    purpose: str | None = None
    """task: its purpose (callback, inquiry, sla-warning…)."""

    @property
    def key(self) -> str:
        """One deferred write per record and kind: a newer one replaces it."""
        return f"sla|{self.lead_id}" if self.kind == "sla_status" else write_key(self.write)

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "write": _write_dict(self.write)}
        if self.kind == "lead":
            assert self.event is not None
            out.update(content_hash=self.content_hash, event=self.event.model_dump(mode="json"))
        elif self.kind == "sla_status":
            out["sla_status"] = self.sla_status
        else:
            out["purpose"] = self.purpose
        return out

    @classmethod
    def from_row(cls, lead_id: str, payload: dict[str, Any]) -> DeferredWrite:
        kind: DeferredKind = payload.get("type") or (
            "lead" if "content_hash" in payload else "sla_status" if "sla_status" in payload else "task"
        )
        event = LeadRouted.model_validate(payload["event"]) if kind == "lead" else None
        return cls(
            kind,
            lead_id,
            _write_from(payload["write"]),
            payload.get("content_hash"),
            event,
            payload.get("sla_status"),
            payload.get("purpose"),
        )
