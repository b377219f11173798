"""Live progress figures for the terminal: counts per stage and publish → synced latency."""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Progress:
    window: int = 2000
    counts: Counter[str] = field(default_factory=Counter)
    published_at: dict[str, float] = field(default_factory=dict)
    latencies_ms: deque[float] = field(default_factory=deque)
    synced_leads: set[str] = field(default_factory=set)

    def published(self, lead_id: str | None, at: float, kind: str) -> None:
        self.counts["in"] += 1
        self.counts[f"in_{kind}"] += 1
        if lead_id and kind == "good":
            self.published_at.setdefault(lead_id, at)
            if len(self.published_at) > 50_000:
                for key in list(self.published_at)[:10_000]:
                    del self.published_at[key]

    def seen(self, stage: str, lead_id: str, at: float) -> None:
        if stage == "synced":
            # crm.synced also reports later writes (SLA status, conversion): count each lead once
            self.counts["crm_writes"] += 1
            if lead_id in self.synced_leads:
                return
            self.synced_leads.add(lead_id)
            if len(self.synced_leads) > 200_000:
                self.synced_leads.clear()
        self.counts[stage] += 1
        if stage == "synced":
            start = self.published_at.pop(lead_id, None)
            if start is not None:
                self.latencies_ms.append((at - start) * 1000)
                while len(self.latencies_ms) > self.window:
                    self.latencies_ms.popleft()

    def line(self) -> str:
        lat = list(self.latencies_ms)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        c = self.counts

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.0f} ms"

        return (
            f"leads in {c['in']} (bad {c['in_bad']}, replays {c['in_replay']}) | accepted {c['accepted']} | "
            f"rejected {c['rejected']} | routed {c['routed']} | in Salesforce {c['synced']} (writes {c['crm_writes']}) "
            f"| sla met {c['sla_met']} warned {c['sla_warning']} "
            f"breached {c['sla_breached']} | publish→Salesforce p50 {fmt(p50)} p99 {fmt(p99)}"
        )
