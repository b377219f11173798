"""Fault injection rules: latency, 500/503, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, session revocation,
and per-record errors inside a 200 sObject Collections response (``kind="record"``)."""

from __future__ import annotations

import fnmatch
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FAULT_KINDS = ("latency", "status", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID", "record")
RECORD_KIND = "record"
"""A rule of this kind never fails the request: it fails the matching records inside it (the others are written)."""


class FaultSpec(BaseModel):
    """What the control plane accepts at POST /__emulator__/faults.

    ``kind="record"``: each record of a Collections create/update/upsert that matches ``record_match``
    (field → value, case-insensitive field names; a value with ``*`` is a glob) and/or ``record_index``
    (its position in the request) gets ``{"success": false, "errors": [{"statusCode", "message", "fields"}]}``
    while the other records are written and the response stays 200. ``after_n``/``times`` count records.
    """

    model_config = ConfigDict(populate_by_name=True)

    kind: str = Field(description="latency | status | UNABLE_TO_LOCK_ROW | REQUEST_LIMIT_EXCEEDED | INVALID_SESSION_ID")
    path: str = Field(default="*", description="glob on the request path, e.g. */composite/sobjects*")
    method: str | None = None
    after_n: int = Field(default=0, ge=0, description="let this many matching calls through first")
    times: int | None = Field(default=None, ge=1, description="then fire for this many calls (None: until removed)")
    window_seconds: float | None = Field(default=None, gt=0, description="only fire within this many seconds")
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    status: int = Field(default=503, ge=400, le=599)
    record_match: dict[str, Any] | None = Field(default=None, description="record kind: field → value to match")
    record_index: int | None = Field(default=None, ge=0, description="record kind: position in the request")
    status_code: str = Field(
        default="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        alias="statusCode",
        min_length=1,
        max_length=80,
        description="record kind: the error's statusCode",
    )
    message: str | None = Field(default=None, max_length=2000, description="record kind: the error's message")
    fields: list[str] = Field(default_factory=list, description="record kind: the error's fields")

    def record_error(self) -> tuple[str, str, list[str]]:
        """(statusCode, message, fields) of the per-record error this rule injects."""
        message = self.message or f"{', '.join(self.fields) or 'record'}: refused by an injected fault"
        return self.status_code, message, list(self.fields)

    def matches_record(self, index: int, record: Any) -> bool:
        if self.record_index is not None and index != self.record_index:
            return False
        if not self.record_match:
            return True
        if not isinstance(record, dict):
            return False
        lowered = {str(k).lower(): v for k, v in record.items()}
        for name, want in self.record_match.items():
            have = lowered.get(str(name).lower())
            if isinstance(want, str) and "*" in want:
                if not isinstance(have, str) or not fnmatch.fnmatchcase(have, want):
                    return False
            elif have != want:
                return False
        return True


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    created: float
    seen: int = 0
    fired: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec.model_dump(), "seen": self.seen, "fired": self.fired}


@dataclass
class FaultBook:
    faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, spec: FaultSpec) -> Fault:
        if spec.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        f = Fault(next(self._ids), spec, time.monotonic())
        self.faults.append(f)
        return f

    def clear(self) -> None:
        self.faults.clear()

    def remove(self, fault_id: int) -> bool:
        before = len(self.faults)
        self.faults = [f for f in self.faults if f.id != fault_id]
        return len(self.faults) != before

    def match(self, method: str, path: str) -> list[Fault]:
        """The faults that fire for this call (counting it against every matching rule)."""
        now = time.monotonic()
        fired = []
        for f in list(self.faults):
            s = f.spec
            if s.kind == RECORD_KIND:
                continue
            if s.method and s.method.upper() != method.upper():
                continue
            if not fnmatch.fnmatchcase(path, s.path):
                continue
            if s.window_seconds is not None and now - f.created > s.window_seconds:
                self.faults.remove(f)
                continue
            f.seen += 1
            if f.seen <= s.after_n:
                continue
            f.fired += 1
            fired.append(f)
            if s.times is not None and f.fired >= s.times:
                self.faults.remove(f)
        return fired

    def match_record(self, method: str, path: str, index: int, record: Any) -> Fault | None:
        """The record-level fault that fires for this record of a Collections call, if any (counted)."""
        now = time.monotonic()
        for f in list(self.faults):
            s = f.spec
            if s.kind != RECORD_KIND:
                continue
            if s.method and s.method.upper() != method.upper():
                continue
            if not fnmatch.fnmatchcase(path, s.path):
                continue
            if s.window_seconds is not None and now - f.created > s.window_seconds:
                self.faults.remove(f)
                continue
            if not s.matches_record(index, record):
                continue
            f.seen += 1
            if f.seen <= s.after_n:
                continue
            f.fired += 1
            if s.times is not None and f.fired >= s.times:
                self.faults.remove(f)
            return f
        return None
