"""Prometheus metrics with one naming scheme across services (``leadflow_*``, label ``service``)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import REGISTRY, CollectorRegistry

EVENTS_IN = Counter("leadflow_events_in_total", "Messages consumed", ["service", "topic"])
EVENTS_OUT = Counter("leadflow_events_out_total", "Messages published", ["service", "topic"])
EVENTS_FAILED = Counter(
    "leadflow_events_failed_total", "Messages that failed or were dead-lettered", ["service", "topic", "reason"]
)
HANDLER_SECONDS = Histogram(
    "leadflow_handler_seconds",
    "Time spent handling one message or batch",
    ["service", "handler"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_PHASE_SECONDS = Histogram(
    "leadflow_consumer_phase_seconds",
    "Where a batch's time goes (consumer runtime): waited = mean age of its records when the handler starts"
    " (broker, fetch, batch window, the batch before it), parse, use_case (database, Salesforce, own publishes),"
    " publish (the runtime's one confirm), ack = handler return to the next poll (FastStream's acknowledgement:"
    " the offset commit unless commit_in_background)",
    ["service", "consumer", "phase"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_COMMITS = Counter(
    "leadflow_consumer_commits_total",
    "Offset commits the consumer runtime sent in the background, by result (ok, failed)",
    ["service", "consumer", "result"],
)
CONSUMER_BATCH_FAILURES = Counter(
    "leadflow_consumer_batch_failures_total",
    "Batches that failed on an infrastructure error and were rewound to be read again",
    ["service", "subscriber", "error"],
)
RECORDS_DEAD_LETTERED = Counter(
    "leadflow_records_dead_lettered_total",
    "Records a service sent to the dead-letter topic (invalid_event: poison; processing_error: failed the "
    "same way twice)",
    ["service", "topic", "reason"],
)
CONSUMER_WAITS = Counter(
    "leadflow_consumer_waits_total",
    "Batches a use case asked to retry later (RetryAfter: a rate limit, an outage): partitions paused, batch rewound",
    ["service", "subscriber"],
)
CONSUMER_PAUSED_SECONDS = Gauge(
    "leadflow_consumer_paused_seconds",
    "Seconds until a subscriber's paused partitions are resumed (0 = consuming)",
    ["service", "subscriber"],
)
BACKGROUND_RESTARTS = Counter(
    "leadflow_background_task_restarts_total", "Background tasks that died and were restarted", ["service", "task"]
)
CONSUMER_LAG = Gauge("leadflow_consumer_lag", "Messages behind the log end", ["service", "topic"])
SALESFORCE_CALLS = Counter(
    "leadflow_salesforce_api_calls_total", "Salesforce API calls made", ["service", "operation", "outcome"]
)
SALESFORCE_BUDGET = Gauge(
    "leadflow_salesforce_api_remaining", "Daily API requests remaining (Sforce-Limit-Info)", ["service"]
)
SLA_TIMERS = Gauge("leadflow_sla_timers", "SLA timers by state", ["state"])
SLA_EVENTS = Counter("leadflow_sla_events_total", "SLA events emitted", ["kind", "clock"])


def render(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST
