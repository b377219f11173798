"""Every Kafka topic name leadflow uses. Every topic is keyed by ``lead_id``."""

from __future__ import annotations

from typing import Final

LEADS_INBOUND: Final = "leads.inbound"
"""What marketing systems publish (``LeadSubmitted`` JSON)."""
LEADS_ACCEPTED: Final = "leads.accepted"
LEADS_REJECTED: Final = "leads.rejected"
"""Intake's dead-letter topic: reason code, message and the original bytes."""
LEADS_ENRICHED: Final = "leads.enriched"
LEADS_SCORED: Final = "leads.scored"
LEADS_ROUTED: Final = "leads.routed"
LEADS_REASSIGN: Final = "leads.reassign"
LEADS_DEADLETTER: Final = "leads.deadletter"
"""Poison messages after intake (any service), with the reason and original bytes."""
CRM_SYNCED: Final = "crm.synced"
CRM_CHANGES: Final = "crm.changes"
SLA_EVENTS: Final = "sla.events"
CRM_ROSTER: Final = "crm.roster"
"""Route's roster (``RosterPublished``): every rep with route's weight and caps, keyed ``roster``."""

ALL_TOPICS: Final = (
    LEADS_INBOUND,
    LEADS_ACCEPTED,
    LEADS_REJECTED,
    LEADS_ENRICHED,
    LEADS_SCORED,
    LEADS_ROUTED,
    LEADS_REASSIGN,
    LEADS_DEADLETTER,
    CRM_SYNCED,
    CRM_CHANGES,
    SLA_EVENTS,
    CRM_ROSTER,
)
