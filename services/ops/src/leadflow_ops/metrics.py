"""Ops' own Prometheus collectors (the shared ones live in leadflow_platform.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEAD_LETTERS = Counter(
    "leadflow_dead_letters_total", "Dead letters seen by ops, by the topic they arrived on", ["topic", "reason"]
)
REPLAYS = Counter("leadflow_replays_total", "Dead letters republished from the ops console", ["topic", "outcome"])
OPEN_LEADS = Gauge("leadflow_open_leads", "Open leads by team (first touch pending)", ["team"])
BREACHED_OPEN = Gauge("leadflow_open_leads_breached", "Open leads past their first-touch SLA", ["team"])
UNASSIGNED = Gauge("leadflow_unassigned_leads", "Open leads waiting in a queue", ["team"])
TOPIC_END_OFFSET = Gauge("leadflow_topic_end_offset", "Summed log-end offset of a topic", ["topic"])
