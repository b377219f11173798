"""crm-changes' own metrics (the shared ``leadflow_*`` ones live in leadflow_platform.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

VERSIONS = Counter(
    "leadflow_crm_changes_versions_total",
    "Record versions read from Salesforce, by what became of them",
    ["object", "outcome"],
)
POLLS = Counter("leadflow_crm_changes_polls_total", "Polls of one object", ["object", "outcome"])
CURSOR_SETTLED = Gauge(
    "leadflow_crm_changes_cursor_settled_timestamp", "Settled SystemModstamp per object (epoch s)", ["object"]
)
ACTIVE = Gauge("leadflow_crm_changes_active", "1 while this instance holds the polling lease")
