"""Route's tables. One SQLAlchemy Core schema for SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

team_locks = Table(
    "route_team_locks",
    metadata,
    Column("team", String(80), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
)
"""One row per team: ``SELECT … FOR UPDATE`` on it serialises changes to that team's ledger."""

rep_ledger = Table(
    "route_rep_ledger",
    metadata,
    Column("rep_id", String(18), primary_key=True),
    Column("credit", Float, nullable=False, default=0.0),
    Column("assigned_total", Integer, nullable=False, default=0),
    Column("hour_bucket", String(16), nullable=False, default=""),
    Column("hour_count", Integer, nullable=False, default=0),
    Column("day_bucket", String(16), nullable=False, default=""),
    Column("day_count", Integer, nullable=False, default=0),
    Column("open_leads", Integer, nullable=False, default=0),
)

lead_owners = Table(
    "route_lead_owners",
    metadata,
    Column("lead_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("owner_id", String(18), nullable=False),
    Column("owner_type", String(8), nullable=False),
    Column("team", String(80)),
    Column("policy", String(40), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("routed_at", DateTime(timezone=True), nullable=False),
    Column("open", Boolean, nullable=False, default=True),
)
"""Every owner a lead had, in order: the no-ping-pong memory and the open-lead bookkeeping."""

decisions = Table(
    "route_decisions",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("lead_id", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""The ``LeadRouted`` produced for an input event: a replay republishes it instead of routing again."""

roster_cache = Table(
    "route_roster",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("record_id", String(18), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""Last known Users and Queues, so a restart routes without Salesforce."""

person_owners = Table(
    "route_person_owners",
    metadata,
    Column("root_lead_id", String(128), primary_key=True),
    Column("owner_id", String(18), nullable=False),
    Column("lead_id", String(128), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)
"""The owner a person got from a repeat routed *before* their first lead (``root_lead_id``, enrich's identity
claim) reached route: that first lead then follows it (one person, one owner; ``Router._duplicate``)."""
