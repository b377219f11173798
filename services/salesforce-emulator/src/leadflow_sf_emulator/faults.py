"""Fault injection rules: latency, 500/503, UNABLE_TO_LOCK_ROW, REQUEST_LIMIT_EXCEEDED, session revocation."""

from __future__ import annotations

import fnmatch
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

FAULT_KINDS = ("latency", "status", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "INVALID_SESSION_ID")


class FaultSpec(BaseModel):
    """What the control plane accepts at POST /__emulator__/faults."""

    kind: str = Field(description="latency | status | UNABLE_TO_LOCK_ROW | REQUEST_LIMIT_EXCEEDED | INVALID_SESSION_ID")
    path: str = Field(default="*", description="glob on the request path, e.g. */composite/sobjects*")
    method: str | None = None
    after_n: int = Field(default=0, ge=0, description="let this many matching calls through first")
    times: int | None = Field(default=None, ge=1, description="then fire for this many calls (None: until removed)")
    window_seconds: float | None = Field(default=None, gt=0, description="only fire within this many seconds")
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    status: int = Field(default=503, ge=400, le=599)


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
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

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
