"""Leadflow sla-monitor: durable SLA timers in business time, warnings, breaches and escalations."""
