"""The ops read models. Counters are pre-aggregated so pages never scan the lead or event tables."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()
TS = DateTime(timezone=True)

leads = Table(
    "ops_leads",
    metadata,
    Column("lead_id", String(128), primary_key=True),
    Column("team", String(80)),
    Column("rating", String(16)),
    Column("source", String(40)),
    Column("owner_id", String(40)),
    Column("owner_type", String(8)),
    Column("owner_name", String(121)),
    Column("policy", String(120)),
    Column("submitted_at", TS),
    Column("routed_at", TS),
    Column("owner_at", TS),
    Column("salesforce_id", String(18)),
    Column("due_at", TS),
    Column("touched_at", TS),
    Column("closed", Boolean, nullable=False, default=False),
    Column("breached_at", TS),
    Column("escalation_step", Integer, nullable=False, default=0),
    Column("outcome", String(8)),
    Column("reassignments", Integer, nullable=False, default=0),
    # added with issue 15 (create_schema adds missing columns to an existing database)
    Column("breached_clocks", String(40)),
    Column("not_in_salesforce", Boolean),
    Column("failure_event_id", String(128)),
    Column("routing_reason", Text),
    Column("sla_policy", String(120)),
    # a follow-up on an existing Contact / merged into another Lead: neither is an open Lead of its own
    Column("follow_up", Boolean),
    Column("merged_into", String(128)),
    # the Contact enrich matched (a follow-up's record before crm-sync's write); values Salesforce refused (JSON)
    Column("matched_contact", String(18)),
    Column("dropped_fields", Text),
    Index("ix_ops_leads_open_due", "closed", "due_at", "breached_at"),  # covering for the Now counts
)

team_counters = Table(
    "ops_team_counters",
    metadata,
    Column("team", String(80), primary_key=True),
    Column("rating", String(16), primary_key=True),
    Column("open", Integer, nullable=False, default=0),
    Column("breached", Integer, nullable=False, default=0),
    Column("queued", Integer, nullable=False, default=0),
)

owner_counters = Table(
    "ops_owner_counters",
    metadata,
    Column("owner_id", String(40), primary_key=True),
    Column("owner_type", String(8)),
    Column("team", String(80)),
    Column("owner_name", String(121)),
    Column("open", Integer, nullable=False, default=0),
    Column("breached", Integer, nullable=False, default=0),
)

speed_hist = Table(
    "ops_speed_hist",
    metadata,
    Column("grain", String(1), primary_key=True),
    Column("dim", String(8), primary_key=True),
    Column("bucket", TS, primary_key=True),
    Column("key", String(121), primary_key=True),
    Column("measure", String(8), primary_key=True),
    Column("hist", Text, nullable=False),
    # one row per histogram: {"bin": count, …} as compact JSON (see domain.stats.pack_hist)
)

outcomes = Table(
    "ops_outcomes",
    metadata,
    Column("grain", String(1), primary_key=True),
    Column("dim", String(8), primary_key=True),
    Column("bucket", TS, primary_key=True),
    Column("key", String(121), primary_key=True),
    Column("on_time", Integer, nullable=False),
    Column("missed", Integer, nullable=False),
)

arrivals = Table(
    "ops_arrivals",
    metadata,
    Column("bucket", TS, primary_key=True),
    Column("n", Integer, nullable=False),
)

assignments = Table(
    "ops_assignments",
    metadata,
    Column("bucket", TS, primary_key=True),
    Column("team", String(80), primary_key=True),
    Column("owner_id", String(40), primary_key=True),
    Column("n", Integer, nullable=False),  # every LeadRouted to the owner (repeats, key accounts, reassignments…)
    # of those, the ones route dealt by weighted round-robin (Assignment.round_robin): what Team load's share is of
    Column("round_robin", Integer, nullable=False, default=0, server_default="0"),
    # the round-robin deals the owner could have won given each deal's pool (Assignment.pool): Σ p and Σ p(1 − p),
    # p = its weight ÷ the pool's weights; Team load's expected deals and their variance
    Column("expected", Float, nullable=False, default=0.0, server_default="0"),
    Column("variance", Float, nullable=False, default=0.0, server_default="0"),
)

sla_events = Table(
    "ops_sla_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("lead_id", String(128), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("clock", String(12), nullable=False),
    Column("policy", String(120)),
    Column("occurred_at", TS, nullable=False),
    Column("due_at", TS),
    Column("owner_id", String(40)),
    Column("team", String(80)),
    Column("escalation_step", Integer, nullable=False, default=0),
    Column("escalation_action", String(120)),
    Column("met_how", String(120)),
    Column("met_by", String(40)),
    Index("ix_ops_sla_events_lead", "lead_id", "occurred_at"),
)

breaches = Table(
    "ops_breaches",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("lead_id", String(128), nullable=False),
    Column("clock", String(12), nullable=False),
    Column("policy", String(120)),
    Column("team", String(80)),
    Column("owner_id", String(40)),
    Column("rating", String(16)),
    Column("due_at", TS, nullable=False),
    Column("breached_at", TS, nullable=False),
    Column("escalation_step", Integer, nullable=False, default=0),
    Column("escalation_action", String(120)),
    Column("met_at", TS),
    Index("ix_ops_breaches_at", "breached_at"),
    Index("ix_ops_breaches_lead", "lead_id", "clock"),
    Index("ix_ops_breaches_team_at", "team", "breached_at"),
    Index("ix_ops_breaches_policy", "policy", "breached_at"),
    Index("ix_ops_breaches_owner", "owner_id", "breached_at"),
)

reps = Table(
    "ops_reps",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("name", String(121)),
    Column("team", String(80)),
    Column("role", String(40)),
    Column("weight", Float),
    Column("active", Boolean, nullable=False, default=True),
    Column("absent", Boolean, nullable=False, default=False),
    Column("updated_at", TS),
    Column("cap", Integer),  # open-lead cap from route's roster (None: not known yet)
    Column("queue", Boolean),
    Column("in_rotation", Boolean),  # route's roster: in its team's round-robin pool (None: route never said)
)

dead_letters = Table(
    "ops_dead_letters",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("source_topic", String(40), nullable=False),
    Column("original_topic", String(120), nullable=False),
    Column("service", String(40), nullable=False),
    Column("reason", String(80), nullable=False),
    Column("message", Text),
    Column("lead_id", String(128)),
    Column("original_base64", Text, nullable=False),
    Column("occurred_at", TS),
    Column("received_at", TS, nullable=False),
    Column("replay_count", Integer, nullable=False, default=0),
    Column("last_replayed_at", TS),
    Column("last_replayed_by", String(80)),
    Column("detail", Text),  # the dead letter's ``detail`` map as JSON (statusCode, fields, operation…)
    Index("ix_ops_dead_letters_received", "received_at"),
    Index("ix_ops_dead_letters_reason", "reason"),
    Index("ix_ops_dead_letters_lead", "lead_id"),
)

lead_metrics = Table(
    "ops_lead_metrics",
    metadata,
    Column("team", String(80), primary_key=True),
    Column("metric", String(40), primary_key=True),
    Column("n", Integer, nullable=False, default=0),
    # breached (any clock), breached:<clock>, not_in_salesforce: see domain.leads.metric_deltas
)

arrivals_minute = Table(
    "ops_arrivals_minute",
    metadata,
    Column("bucket", TS, primary_key=True),
    Column("n", Integer, nullable=False),
)

org_health = Table(
    "ops_org_health",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
)
